/**
 * A small manifest must not make the registry create or sign without bound (issue 10, item 6):
 * declared bytes per upload and per blob and targets per upload are capped (413 with a short,
 * clear answer, nothing stored), and signed targets are handed out a bounded number per answer,
 * the rest on GET /uploads/{id}, which the CLI follows to the end. Both drivers, through the
 * production server in process (S3 = Ceph RGW).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BundleManifest } from '../../lib/bundle';
import { find } from '../../lib/catalog/model';
import { addBundle } from '../../lib/client';
import { parseConfig } from '../../lib/config';
import { keys } from '../../lib/keys';
import { createRegistry, type Registry } from '../../lib/registry';
import { startServer, type ServerProcess } from '../server/harness';
import { sampleContent, sha, writeSample } from '../bundle/helpers';
import { drivers, type TestStore } from '../support/stores';

const TOKEN = 'x'.repeat(16);
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** The production server (its bundle, as operators run it) over the store, and a registry of our own over the same data. */
async function serve(env: Record<string, string>): Promise<{ registry: Registry; server: ServerProcess; url: string }> {
  const server = await startServer({ env: { ...env, REGISTRY_WRITE_TOKENS: TOKEN }, flags: ['--schedules', 'off'] });
  return { registry: createRegistry(parseConfig(env)), server, url: server.url };
}

async function postUpload(url: string, manifest: unknown): Promise<{ status: number; text: string; json: any }> {
  const res = await fetch(`${url}/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ manifest }),
  });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) };
}

/** The sample bundle's manifest with its asset declared at each of these sizes (digests made up). */
function declaring(sizes: number[]): BundleManifest {
  const { manifest } = sampleContent();
  const assets = sizes.map((size, i) => ({
    uri: `https://example.com/a/big-${i}.bin`,
    digest: `sha256:${createHash('sha256').update(`big-${i}`).digest('hex')}` as const,
    size,
    name: `big-${i}.bin`,
  }));
  return {
    ...manifest,
    assets: [...manifest.assets, ...assets].sort((a, b) => (a.uri < b.uri ? -1 : 1)),
    blobs: [...manifest.blobs, ...assets.map((a) => ({ digest: a.digest, size: a.size }))].sort((a, b) => (a.digest < b.digest ? -1 : 1)),
  };
}

/** The sample content with a 20 MiB asset: three 8 MiB parts plus three small blobs = 6 targets. */
function bigContent() {
  const content = sampleContent();
  const asset = randomBytes(20 * MiB);
  const old = content.blobs[0];
  content.blobs[0] = asset;
  content.manifest.assets[0] = { ...content.manifest.assets[0], digest: sha(asset), size: asset.length };
  content.manifest.blobs = content.manifest.blobs
    .map((b) => (b.digest === sha(old) ? { digest: sha(asset), size: asset.length } : b))
    .sort((a, b) => (a.digest < b.digest ? -1 : 1));
  return content;
}

describe.each(drivers)('upload limits on $name storage', ({ make }) => {
  let store: TestStore;
  let dir: string;
  const servers: ServerProcess[] = [];
  beforeAll(async () => {
    store = await make();
    dir = await mkdtemp(path.join(os.tmpdir(), 'registry-upload-limits-'));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await store?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('a 2 KB manifest declaring 10 blobs of 5 TiB gets a short 413 and stores nothing (defaults)', async () => {
    const { server, url, registry } = await serve(store.env);
    servers.push(server);
    const manifest = declaring(Array(10).fill(5 * 1024 * GiB));
    const huge = await postUpload(url, manifest);
    expect(huge.status).toBe(413);
    expect(huge.text.length).toBeLessThan(1000);
    expect(huge.json).toMatchObject({ type: 'PayloadTooLarge' });
    expect(huge.json.message).toMatch(/at most 34359738368 bytes per blob \(REGISTRY_MAX_BLOB_BYTES\)/);

    // Under the blob cap, over the upload cap: 10 × 30 GiB.
    const many = await postUpload(url, declaring(Array(10).fill(30 * GiB)));
    expect(many.status).toBe(413);
    expect(many.text.length).toBeLessThan(1000);
    expect(many.json.message).toMatch(
      /declares \d+ bytes in 14 blobs; .* at most 68719476736 bytes per upload \(REGISTRY_MAX_UPLOAD_BYTES\)/,
    );
    expect(await registry.storage.list(keys.uploadsPrefix())).toEqual([]);
  });

  it('the caps are settings: bytes per upload, per blob, targets per upload', async () => {
    const { server, url, registry } = await serve({
      ...store.env,
      REGISTRY_MAX_UPLOAD_BYTES: String(100 * MiB),
      REGISTRY_MAX_BLOB_BYTES: String(50 * MiB),
      REGISTRY_MAX_UPLOAD_PARTS: '12',
    });
    servers.push(server);
    const blob = await postUpload(url, declaring([51 * MiB]));
    expect(blob.status).toBe(413);
    expect(blob.json.message).toMatch(/at most 52428800 bytes per blob \(REGISTRY_MAX_BLOB_BYTES\)/);
    const upload = await postUpload(url, declaring([50 * MiB, 50 * MiB]));
    expect(upload.status).toBe(413);
    expect(upload.json.message).toMatch(/REGISTRY_MAX_UPLOAD_BYTES/);
    // 4 small blobs + 2 × ceil(40 MiB / 8 MiB) parts = 14 targets.
    const parts = await postUpload(url, declaring([40 * MiB, 40 * MiB]));
    expect(parts.status).toBe(413);
    expect(parts.json.message).toMatch(/needs 14 upload targets .* at most 12 per upload \(REGISTRY_MAX_UPLOAD_PARTS\)/);
    expect(await registry.storage.list(keys.uploadsPrefix())).toEqual([]);
    const fits = await postUpload(url, declaring([40 * MiB]));
    expect(fits.status).toBe(201);
    expect(() => parseConfig({ REGISTRY_MAX_UPLOAD_PARTS: '0' })).toThrow(/REGISTRY_MAX_UPLOAD_PARTS/);
    expect(() => parseConfig({ REGISTRY_MAX_BLOB_BYTES: '6597069766657' })).toThrow(/REGISTRY_MAX_BLOB_BYTES/);
  });

  it('a big-but-allowed upload gets its signed targets a page at a time, and the CLI completes it', async () => {
    const { server, url, registry } = await serve({ ...store.env, REGISTRY_UPLOAD_URLS_PER_ANSWER: '2' });
    servers.push(server);
    const content = bigContent();
    // The first answer: 2 signed URLs, `more` set.
    const first = await postUpload(url, content.manifest);
    expect(first.status).toBe(201);
    expect(first.json.more).toBe(true);
    const urls = (v: any) =>
      v.blobs.flatMap((b: any) =>
        b.upload?.url ? [b.upload.url] : (b.upload?.multipart.parts ?? []).map((p: any) => p.url).filter(Boolean),
      );
    expect(urls(first.json)).toHaveLength(2);
    // The next answer, as the CLI asks for it: again 2 (nothing was sent, so the same ones).
    const page = (await fetch(`${url}/uploads/${first.json.id}`, { headers: { authorization: `Bearer ${TOKEN}` } }).then((r) =>
      r.json(),
    )) as any;
    expect(urls(page)).toHaveLength(2);
    expect(page.more).toBe(true);
    await fetch(`${url}/uploads/${first.json.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });

    const bundlePath = path.join(dir, 'hello-1.0.0.dcos');
    await writeSample(bundlePath, content);
    const gets = () => server.logs().filter((l) => l.route === 'GET /uploads/{id}').length;
    const before = gets();
    const added = await addBundle(bundlePath, {
      url,
      token: TOKEN,
      pollIntervalMs: 10,
      retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
    });
    expect(added).toMatchObject({ name: 'hello', version: '1.0.0', status: 'Added' });
    // 6 targets, 2 per answer: two more pages asked for (log lines arrive a moment after the answer).
    for (let i = 0; i < 100 && gets() - before < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(gets() - before).toBeGreaterThanOrEqual(2);
    const { state } = await registry.catalog.read();
    expect(find(state, 'hello', '1.0.0')).toBeDefined();
    expect((await registry.storage.get(keys.blob(sha(content.blobs[0])))).body.equals(content.blobs[0])).toBe(true);
  }, 120_000);
});
