/**
 * build with Docker images, pulled from a real docker-registry (Debian's distribution 2.8, one
 * private instance for this file) filled by skopeo; the bundle's OCI layout is then read back by
 * skopeo itself (oci: transport) to prove it is a valid image layout.
 */
import { execFile } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBundle } from '../../lib/bundle';
import { buildBundle } from '../../lib/builder';
import { makeOciImage, pushWithSkopeo, skopeoInspectRaw, type TestImageLayout } from '../docker/make-image';
import { startRegistry, type RegistryProcess } from '../docker/registry-process';
import { definition } from './fixtures';

const run = promisify(execFile);
let registry: RegistryProcess;
let work: string;
let image: TestImageLayout;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'build-image-'));
  registry = await startRegistry();
  image = makeOciImage(join(work, 'img'), { tag: 'v1', layerSizes: [2000, 200_000] });
  const multi = makeOciImage(join(work, 'multi'), {
    tag: 'v2',
    platforms: [
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
      { os: 'linux', architecture: 'amd64' },
    ],
  });
  await pushWithSkopeo(image, `${registry.host}/test/app:v1`);
  await pushWithSkopeo(image, `${registry.host}/test/app-s2:v1`, { format: 'v2s2' });
  await pushWithSkopeo(multi, `${registry.host}/test/multi:v2`, { all: true });
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function extract(bundlePath: string, into: string): Promise<void> {
  const b = await openBundle(bundlePath);
  try {
    await writeFile(join(into, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(join(into, 'index.json'), JSON.stringify(b.index));
    for (const [digest, blob] of b.blobs) {
      const target = join(into, 'blobs', 'sha256', digest.slice(7));
      await mkdir(dirname(target), { recursive: true });
      await pipeline(blob.open(), createWriteStream(target));
    }
  } finally {
    b.close();
  }
}

describe('build with Docker images', () => {
  it('pulls OCI, schema2 and multi-platform images into one bundle, layers stored once', async () => {
    const out = join(work, 'out');
    await mkdir(out, { recursive: true });
    const refs = {
      app: `${registry.host}/test/app:v1`,
      app_s2: `${registry.host}/test/app-s2:v1`,
      multi: `${registry.host}/test/multi:v2`,
    };
    const definitionFile = join(work, 'images.json');
    await writeFile(definitionFile, JSON.stringify(definition({ assets: { container: { docker: refs } } }, 'images')));
    const { path, manifest } = await buildBundle({ definitionFile, outputDirectory: out });

    const served = {
      app: await skopeoInspectRaw(refs.app),
      app_s2: await skopeoInspectRaw(refs.app_s2),
    };
    expect(manifest.images.map((i) => i.key)).toEqual(['app', 'app_s2', 'multi']);
    expect(manifest.images[0]).toEqual({
      reference: refs.app,
      key: 'app',
      repository: 'test/app',
      tag: 'v1',
      manifestDigest: served.app.digest,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
    });
    expect(manifest.images[1]).toMatchObject({
      repository: 'test/app-s2',
      manifestDigest: served.app_s2.digest,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    });
    expect(manifest.images[2]).toMatchObject({ repository: 'test/multi', tag: 'v2' });

    // Every layer of both copies is in the bundle, and each digest is stored once.
    const layerDigests = [...served.app.json.layers, ...served.app_s2.json.layers].map((l: { digest: string }) => l.digest);
    const unique = new Set<string>(manifest.blobs.map((b) => b.digest));
    expect(unique.size).toBe(manifest.blobs.length);
    for (const d of layerDigests) expect(unique.has(d)).toBe(true);

    const b = await openBundle(path);
    try {
      await b.verify();
      expect(b.index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name'])).toEqual([refs.app, refs.app_s2, refs.multi]);
    } finally {
      b.close();
    }

    // skopeo reads the bundle's image layout (extracted) and sees the same manifest the registry served.
    const layout = join(work, 'layout');
    await mkdir(layout, { recursive: true });
    await extract(path, layout);
    const { stdout } = await run('skopeo', ['inspect', '--raw', `oci:${layout}:${refs.app}`], { encoding: 'buffer' });
    expect(Buffer.from(stdout).equals(served.app.bytes)).toBe(true);
  }, 120_000);

  it('fails cleanly on an unknown image, leaving no bundle', async () => {
    const out = join(work, 'out-missing');
    await mkdir(out, { recursive: true });
    const definitionFile = join(work, 'missing.json');
    await writeFile(
      definitionFile,
      JSON.stringify(definition({ assets: { container: { docker: { x: `${registry.host}/test/nope:v1` } } } }, 'missing')),
    );
    await expect(buildBundle({ definitionFile, outputDirectory: out, retry: { attempts: 1 } })).rejects.toThrow(/test\/nope/);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(out)).toEqual([]);
  }, 60_000);
});
