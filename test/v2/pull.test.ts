/**
 * Real clients end to end, on both drivers (S3 = Ceph RGW): images pushed to a private
 * docker-registry, bundled by the real build code, added by the real client through
 * `serverless offline`, then pulled back out of /v2 by skopeo. Digests must equal the source
 * registry's; the references /repo serves must be pullable as written; removing the last
 * package that carries an image makes it vanish.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../lib/builder';
import { addBundle, removePackage } from '../../lib/client';
import { definition } from '../build/fixtures';
import { makeOciImage, pushWithSkopeo, skopeoInspectRaw, type TestImageLayout } from '../docker/make-image';
import { startRegistry, type RegistryProcess } from '../docker/registry-process';
import { startOffline, TEST_TOKEN, type Offline } from '../support/offline';
import { drivers, type TestStore } from '../support/stores';

const COSMOS_ACCEPT = 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4';

function skopeo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('skopeo', args, { timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

let source: RegistryProcess;
let work: string;
let image: TestImageLayout;
/** Bundles: v1 carries app (OCI) and app-s2 (schema2); v2 carries app only. */
const bundles: Record<'v1' | 'v2', string> = { v1: '', v2: '' };
let refs: { app: string; s2: string };
let served: { app: Awaited<ReturnType<typeof skopeoInspectRaw>>; s2: Awaited<ReturnType<typeof skopeoInspectRaw>> };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'v2-pull-'));
  source = await startRegistry();
  image = makeOciImage(join(work, 'img'), { tag: 'v1', layerSizes: [3000, 150_000, 40_000] });
  refs = { app: `${source.host}/test/app:v1`, s2: `${source.host}/test/app-s2:v1` };
  await pushWithSkopeo(image, refs.app);
  await pushWithSkopeo(image, refs.s2, { format: 'v2s2' });
  served = { app: await skopeoInspectRaw(refs.app), s2: await skopeoInspectRaw(refs.s2) };
  for (const [v, docker] of [
    ['v1', { app: refs.app, s2: refs.s2 }],
    ['v2', { app: refs.app }],
  ] as const) {
    const def = { ...definition({ assets: { container: { docker } } }, 'imgpkg'), version: v === 'v1' ? '1.0.0' : '2.0.0' };
    const file = join(work, `${v}.json`);
    await writeFile(file, JSON.stringify(def));
    const out = join(work, `out-${v}`);
    await mkdir(out);
    bundles[v] = (await buildBundle({ definitionFile: file, outputDirectory: out })).path;
  }
}, 180_000);

afterAll(async () => {
  await source?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.each(drivers)('skopeo pulls from /v2 through serverless offline on $name storage', ({ name: driver, make }) => {
  let store: TestStore;
  let reg: Offline;
  let host: string;
  beforeAll(async () => {
    store = await make();
    reg = await startOffline(store.env);
    host = `127.0.0.1:${reg.port}`;
    await addBundle(bundles.v1, { url: reg.url, token: TEST_TOKEN });
  }, 180_000);
  afterAll(async () => {
    await reg?.stop();
    await store?.cleanup();
  });

  it('copies the OCI image by tag with the source digests (manifest and every layer)', async () => {
    const dest = join(work, `copy-${driver}`);
    const r = await skopeo(['copy', '--src-tls-verify=false', `docker://${host}/test/app:v1`, `oci:${dest}:copied`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const index = JSON.parse(readFileSync(join(dest, 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).toBe(served.app.digest);
    const manifest = JSON.parse(readFileSync(join(dest, 'blobs/sha256', served.app.digest.slice(7)), 'utf8'));
    expect(manifest.layers.map((l: { digest: string }) => l.digest)).toEqual(
      served.app.json.layers.map((l: { digest: string }) => l.digest),
    );
    expect(manifest.layers).toHaveLength(3);
    expect(manifest.config.digest).toBe(served.app.json.config.digest);
  }, 120_000);

  it('answers HEAD and blob GETs as registries do: digest headers, a redirect to the store for blobs', async () => {
    const head = await fetch(`${reg.url}/v2/test/app/manifests/v1`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('docker-content-digest')).toBe(served.app.digest);
    expect(Number(head.headers.get('content-length'))).toBe(served.app.bytes.length);
    expect(head.headers.get('content-type')).toBe('application/vnd.oci.image.manifest.v1+json');
    const layer = served.app.json.layers[1];
    const blob = await fetch(`${reg.url}/v2/test/app/blobs/${layer.digest}`, { redirect: 'manual' });
    expect(blob.status).toBe(307);
    const location = blob.headers.get('location')!;
    if (driver === 'file') expect(location.startsWith(`${reg.url}/_store/`)).toBe(true);
    else expect(location.startsWith(`${store.env.REGISTRY_S3_ENDPOINT}/`)).toBe(true);
    const bytes = Buffer.from(await (await fetch(location)).arrayBuffer());
    expect(bytes.length).toBe(layer.size);
    const blobHead = await fetch(`${reg.url}/v2/test/app/blobs/${layer.digest}`, { method: 'HEAD' });
    expect(blobHead.status).toBe(200);
    expect(blobHead.headers.get('docker-content-digest')).toBe(layer.digest);
    expect(Number(blobHead.headers.get('content-length'))).toBe(layer.size);
  }, 60_000);

  it('copies the schema2 image unchanged (dir: keeps the manifest bytes)', async () => {
    const dest = join(work, `dir-${driver}`);
    const r = await skopeo(['copy', '--src-tls-verify=false', `docker://${host}/test/app-s2:v1`, `dir:${dest}`]);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dest, 'manifest.json')).equals(served.s2.bytes)).toBe(true);
    for (const l of served.s2.json.layers as Array<{ digest: string }>) {
      expect(readFileSync(join(dest, l.digest.slice(7))).length).toBeGreaterThan(0);
    }
  }, 120_000);

  it('skopeo inspect works; an unknown tag gets the spec error', async () => {
    const r = await skopeo(['inspect', '--tls-verify=false', `docker://${host}/test/app:v1`]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).Digest).toBe(served.app.digest);
    const tags = await skopeo(['list-tags', '--tls-verify=false', `docker://${host}/test/app`]);
    expect(JSON.parse(tags.stdout).Tags).toEqual(['v1']);
    const missing = await skopeo(['inspect', '--tls-verify=false', `docker://${host}/test/app:nope`]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/manifest unknown/);
  }, 60_000);

  it('every docker reference in /repo has the exact form and skopeo pulls it as written', async () => {
    const repo = (await (await fetch(`${reg.url}/repo`, { headers: { accept: COSMOS_ACCEPT } })).json()) as any;
    const entry = repo.packages.find((p: any) => p.name === 'imgpkg' && p.version === '1.0.0');
    const docker = entry.resource.assets.container.docker;
    expect(docker).toEqual({ app: `${host}/test/app@${served.app.digest}`, s2: `${host}/test/app-s2@${served.s2.digest}` });
    for (const ref of Object.values(docker) as string[]) {
      expect(ref).toMatch(/^127\.0\.0\.1:\d+\/[a-z0-9/_.-]+@sha256:[a-f0-9]{64}$/);
      const r = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]);
      expect(r.code).toBe(0);
      const dest = join(work, `byref-${driver}-${ref.split('/').pop()!.slice(0, 12)}`);
      expect((await skopeo(['copy', '--src-tls-verify=false', `docker://${ref}`, `dir:${dest}`])).code).toBe(0);
    }
  }, 120_000);

  it('proxy mode (REGISTRY_DOWNLOADS=proxy): blobs come through the registry, skopeo still gets the source digests', async () => {
    const proxy = await startOffline({ ...store.env, REGISTRY_DOWNLOADS: 'proxy' });
    try {
      const layer = served.app.json.layers[1];
      const blob = await fetch(`${proxy.url}/v2/test/app/blobs/${layer.digest}`, { redirect: 'manual' });
      expect(blob.status).toBe(200);
      expect(Number(blob.headers.get('content-length'))).toBe(layer.size);
      expect(blob.headers.get('docker-content-digest')).toBe(layer.digest);
      await blob.arrayBuffer();
      const dest = join(work, `proxy-${driver}`);
      const r = await skopeo(['copy', '--src-tls-verify=false', `docker://127.0.0.1:${proxy.port}/test/app:v1`, `oci:${dest}:copied`]);
      expect(r.code).toBe(0);
      expect(JSON.parse(readFileSync(join(dest, 'index.json'), 'utf8')).manifests[0].digest).toBe(served.app.digest);
      for (const l of served.app.json.layers as Array<{ digest: string; size: number }>) {
        expect(readFileSync(join(dest, 'blobs/sha256', l.digest.slice(7))).length).toBe(l.size);
      }
    } finally {
      await proxy.stop();
    }
  }, 120_000);

  it('removing a package keeps images another added package carries, and drops the rest', async () => {
    await addBundle(bundles.v2, { url: reg.url, token: TEST_TOKEN });
    await removePackage({ url: reg.url, token: TEST_TOKEN }, 'imgpkg', '1.0.0');
    expect((await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/test/app:v1`])).code).toBe(0);
    const s2 = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/test/app-s2:v1`]);
    expect(s2.code).not.toBe(0);
    expect(s2.stderr).toMatch(/name unknown|repository name not known/);
    const layer = served.s2.json.layers[0].digest;
    const blob = await fetch(`${reg.url}/v2/test/app-s2/blobs/${layer}`, { redirect: 'manual' });
    expect(blob.status).toBe(404);
    expect(blob.headers.get('docker-distribution-api-version')).toBe('registry/2.0');

    await removePackage({ url: reg.url, token: TEST_TOKEN }, 'imgpkg', '2.0.0');
    const app = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/test/app:v1`]);
    expect(app.code).not.toBe(0);
    expect(app.stderr).toMatch(/name unknown|repository name not known/);
    const catalog = (await (await fetch(`${reg.url}/v2/_catalog`)).json()) as { repositories: string[] };
    expect(catalog.repositories).not.toContain('test/app');
  }, 120_000);
});
