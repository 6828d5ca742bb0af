import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBundle } from '../../lib/bundle';
import { buildBundle } from '../../lib/builder';
import { definition, sha256hex, startAssetServer } from './fixtures';

const files = {
  '/a/scheduler.zip': Buffer.alloc(300_000, 7),
  '/icon.png': Buffer.from('png bytes'),
  '/cli/dcos-service-cli-linux': Buffer.from('#!/bin/sh\necho cli\n'),
};
let server: Awaited<ReturnType<typeof startAssetServer>>;
let work: string;
beforeAll(async () => {
  server = await startAssetServer(files);
  work = await mkdtemp(join(tmpdir(), 'build-test-'));
});
afterAll(async () => {
  await server.close();
});

async function setup(name: string, resource: Record<string, unknown>) {
  const dir = join(work, name);
  await mkdir(join(dir, 'out'), { recursive: true });
  await mkdir(join(dir, 'local'), { recursive: true });
  await writeFile(join(dir, 'local', 'bootstrap.zip'), 'local file asset');
  const definitionFile = join(dir, `${name}.json`);
  await writeFile(definitionFile, JSON.stringify(definition(resource, name)));
  return { definitionFile, out: join(dir, 'out') };
}

const fast = { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 };

/** A resource's `cli` with one Linux x86-64 executable at `url`, whose sha256 the definition says is `sha256`. */
const linuxCli = (url: string, sha256: string) => ({
  binaries: { linux: { 'x86-64': { kind: 'executable', url, contentHash: [{ algo: 'sha256', value: sha256 }] } } },
});

describe('buildBundle', () => {
  it('downloads http, file: and relative assets, icons, CLI binaries; retries 503; writes a verifiable bundle', async () => {
    const cli = files['/cli/dcos-service-cli-linux'];
    const { definitionFile, out } = await setup('assets', {
      assets: {
        uris: {
          scheduler: `${server.url}/flaky/a/scheduler.zip`,
          same: `${server.url}/a/scheduler.zip`,
          relative: 'local/bootstrap.zip',
        },
      },
      images: {
        'icon-small': `${server.url}/redirect/icon.png`,
        'icon-medium': `${server.url}/icon.png`,
        screenshots: [`${server.url}/icon.png`],
      },
      cli: linuxCli(`${server.url}/cli/dcos-service-cli-linux`, sha256hex(cli)),
    });
    const events: string[] = [];
    const result = await buildBundle({ definitionFile, outputDirectory: out, retry: fast, onProgress: (e) => events.push(e.kind) });
    expect(result.path).toBe(join(out, 'assets-1.0.0.dcos'));
    expect(server.hits.get('/flaky/a/scheduler.zip')).toBe(3);
    expect(events).toContain('retry');
    const b = await openBundle(result.path);
    try {
      await b.verify();
      const uris = b.manifest.assets.map((a) => a.uri);
      expect(uris).toEqual([...uris].sort());
      const byUri = Object.fromEntries(b.manifest.assets.map((a) => [a.uri, a]));
      expect(byUri['local/bootstrap.zip']).toMatchObject({ digest: `sha256:${sha256hex('local file asset')}`, name: 'bootstrap.zip' });
      expect(byUri[`${server.url}/flaky/a/scheduler.zip`]).toMatchObject({ size: 300_000, name: 'scheduler.zip' });
      expect(byUri[`${server.url}/cli/dcos-service-cli-linux`].digest).toBe(`sha256:${sha256hex(cli)}`);
      // Same bytes under two URIs and icon via redirect: stored once.
      expect(b.manifest.blobs.length).toBe(4);
      expect(b.manifest.images).toEqual([]);
      expect(b.manifest.package.name).toBe('assets');
    } finally {
      b.close();
    }
    expect((await readdir(out)).sort()).toEqual(['assets-1.0.0.dcos']);
  });

  it('accepts file: URIs inside the definition directory', async () => {
    const local = join(work, 'fileuri', 'file-asset.bin');
    const { definitionFile, out } = await setup('fileuri', { assets: { uris: { x: pathToFileURL(local).href } } });
    await writeFile(local, 'via file uri');
    const { manifest } = await buildBundle({ definitionFile, outputDirectory: out });
    expect(manifest.assets[0]).toMatchObject({ digest: `sha256:${sha256hex('via file uri')}`, name: 'file-asset.bin', size: 12 });
  });

  it('fails on a contentHash mismatch and leaves no partial file or staging', async () => {
    const { definitionFile, out } = await setup('badhash', { cli: linuxCli(`${server.url}/cli/dcos-service-cli-linux`, 'a'.repeat(64)) });
    await expect(buildBundle({ definitionFile, outputDirectory: out })).rejects.toThrow(
      /contentHash mismatch for .*dcos-service-cli-linux/,
    );
    expect(await readdir(out)).toEqual([]);
  });

  it('fails on 404 without retrying, leaving nothing behind', async () => {
    const { definitionFile, out } = await setup('missing', { assets: { uris: { x: `${server.url}/nope.tgz` } } });
    await expect(buildBundle({ definitionFile, outputDirectory: out, retry: fast })).rejects.toThrow(/GET .*\/nope\.tgz answered 404/);
    expect(server.hits.get('/nope.tgz')).toBe(1);
    expect(await readdir(out)).toEqual([]);
  });

  it('fails on an unreadable CA file before creating anything', async () => {
    const { definitionFile, out } = await setup('badca', { assets: { uris: { x: `${server.url}/a/scheduler.zip?badca` } } });
    await expect(buildBundle({ definitionFile, outputDirectory: out, network: { caFile: join(work, 'no-such-ca.pem') } })).rejects.toThrow(
      /cannot set up downloads: ENOENT.*no-such-ca\.pem/,
    );
    expect(await readdir(out)).toEqual([]);
    expect(server.hits.get('/a/scheduler.zip?badca')).toBeUndefined();
  });

  it('refuses an existing output file before downloading anything', async () => {
    const { definitionFile, out } = await setup('exists', { assets: { uris: { x: `${server.url}/a/scheduler.zip?exists` } } });
    await writeFile(join(out, 'exists-1.0.0.dcos'), 'old');
    await expect(buildBundle({ definitionFile, outputDirectory: out })).rejects.toThrow(`${join(out, 'exists-1.0.0.dcos')} already exists`);
    expect(server.hits.get('/a/scheduler.zip?exists')).toBeUndefined();
  });

  it('rejects an invalid build definition with the schema errors', async () => {
    const dir = await mkdtemp(join(work, 'invalid-'));
    const definitionFile = join(dir, 'bad.json');
    await writeFile(definitionFile, JSON.stringify({ packagingVersion: '4.0', name: 'Bad Name', version: '1' }));
    await expect(buildBundle({ definitionFile, outputDirectory: dir })).rejects.toThrow(/invalid build definition/);
  });

  it('is deterministic across builds of the same definition', async () => {
    const resource = { assets: { uris: { s: `${server.url}/a/scheduler.zip`, r: 'local/bootstrap.zip' } } };
    const one = await setup('det1', resource);
    const two = await setup('det1b', resource);
    // same package name/version in two output directories
    await writeFile(two.definitionFile, JSON.stringify(definition(resource, 'det1')));
    const a = await buildBundle({ definitionFile: one.definitionFile, outputDirectory: one.out });
    const b = await buildBundle({ definitionFile: two.definitionFile, outputDirectory: two.out });
    const { readFile } = await import('node:fs/promises');
    expect((await readFile(a.path)).equals(await readFile(b.path))).toBe(true);
  });
});
