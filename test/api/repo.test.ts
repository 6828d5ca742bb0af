/**
 * lib/repo.ts in-process on both drivers: which answers go inline and which by redirect to
 * the pre-rendered object (config.repoInlineBytes, measured after gzip when accepted), what
 * the redirect and its target look like, and that the redirect keeps /repo's ETag/304
 * behaviour and costs one store request once the variant is written. Stored renderings need a
 * configured public URL (REGISTRY_PUBLIC_URL); without one, every answer is inline
 * (test/security/repo.test.ts).
 * (Through serverless offline with the default limit: test/api/api.test.ts.)
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../lib/catalog/catalog';
import { addVersion } from '../../lib/catalog/ops';
import { ConfigError, parseConfig } from '../../lib/config';
import type { Response } from '../../lib/http/handler';
import type { Registry } from '../../lib/registry';
import { INLINE_LIMIT, repoAnswer, type RepoRequest } from '../../lib/repo';
import { storageLayer } from '../../lib/storage/layer';
import type { Storage } from '../../lib/storage/port';
import { keyFromStorePath } from '../../lib/storage/signing';
import { WriteGate } from '../../lib/storage/probe';
import { catalogEntry } from '../support/fixtures';
import { drivers, type TestStore } from '../support/stores';

const ORIGIN = 'http://registry.test';
const V5 = 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5';
const COSMOS: RepoRequest = {
  accept: [V5, V5.replace('v5', 'v4'), V5.replace('v5', 'v3')].join(','),
  acceptEncoding: 'gzip',
  userAgent: 'cosmos/0.6.0 dcos/2.2.0',
  origin: ORIGIN,
};

/** A registry with a configured public URL: only then are large answers stored (test/security/repo.test.ts). */
function registry(storage: Storage, env: Record<string, string> = {}): Registry {
  return {
    config: parseConfig({ REGISTRY_WRITE_TOKENS: 'x'.repeat(16), REGISTRY_PUBLIC_URL: ORIGIN, ...env }),
    storage,
    catalog: new Catalog(storage),
    gate: new WriteGate(storage),
  };
}

/** What a client following the answer ends up with: status and headers of the final answer, and the document. */
async function follow(storage: Storage, res: Response): Promise<{ contentType: string | null; doc: any }> {
  if (res.statusCode === 200) {
    const raw = Buffer.from(res.body ?? '', res.isBase64Encoded ? 'base64' : 'utf8');
    const doc = res.headers?.['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
    return { contentType: String(res.headers!['content-type']), doc: JSON.parse(doc.toString('utf8')) };
  }
  expect(res.statusCode).toBe(307);
  const location = new URL(String(res.headers!.location));
  expect(location.protocol).toBe(new URL(ORIGIN).protocol);
  if (storage.urls?.servedBy === 'registry') {
    // The target is the registry's own /_store route (the filesystem driver): check its grant.
    expect(location.origin).toBe(ORIGIN);
    const key = keyFromStorePath(location.pathname)!;
    const grant = await storage.urls.endpoint.verify({ method: 'GET', key, query: Object.fromEntries(location.searchParams) });
    return { contentType: grant.contentType ?? null, doc: JSON.parse((await storage.get(grant.key)).body.toString('utf8')) };
  }
  const r = await fetch(location);
  expect(r.status).toBe(200);
  // Stored uncompressed: a signed GET gives the stored Content-Encoding to every client.
  expect(r.headers.get('content-encoding')).toBeNull();
  return { contentType: r.headers.get('content-type'), doc: await r.json() };
}

/** A catalog entry whose description is `bytes` of incompressible text. */
function bigEntry(name: string, version: string, bytes: number) {
  const entry = catalogEntry(name, version);
  entry.package = {
    ...entry.package,
    description: randomBytes(Math.ceil((bytes * 3) / 4))
      .toString('base64')
      .slice(0, bytes),
  };
  return entry;
}

describe('REGISTRY_REPO_INLINE_BYTES', () => {
  it('defaults to 256 KiB, takes 0..4 MiB in bytes, refuses anything else by name', () => {
    expect(parseConfig({}).repoInlineBytes).toBe(256 * 1024);
    expect(parseConfig({ REGISTRY_REPO_INLINE_BYTES: '0' }).repoInlineBytes).toBe(0);
    expect(parseConfig({ REGISTRY_REPO_INLINE_BYTES: String(INLINE_LIMIT) }).repoInlineBytes).toBe(INLINE_LIMIT);
    for (const bad of ['-1', '1.5', '1m', String(INLINE_LIMIT + 1)]) {
      expect(() => parseConfig({ REGISTRY_REPO_INLINE_BYTES: bad })).toThrow(ConfigError);
      expect(() => parseConfig({ REGISTRY_REPO_INLINE_BYTES: bad })).toThrow(/REGISTRY_REPO_INLINE_BYTES/);
    }
  });
});

describe.each(drivers)('/repo inline limit on $name storage', ({ make }) => {
  let store: TestStore;
  beforeAll(async () => {
    store = await make();
  }, 60_000);
  afterAll(async () => {
    await store?.cleanup();
  });

  it('answers inline up to the limit (after gzip when accepted) and redirects past it; proxy downloads stay inline', async () => {
    const catalog = new Catalog(store.another());
    // About 24 KB of incompressible text: over 16 KiB raw and gzipped alike.
    for (let i = 0; i < 3; i++) await addVersion(catalog, bigEntry(`limit-${i}`, '1.0.0', 8_000));
    const limited = registry(store.another(), { REGISTRY_REPO_INLINE_BYTES: String(16 * 1024) });
    const roomy = registry(store.another(), { REGISTRY_REPO_INLINE_BYTES: String(1024 * 1024) });
    const proxy = registry(store.another(), { REGISTRY_REPO_INLINE_BYTES: '0', REGISTRY_DOWNLOADS: 'proxy' });

    const inline = await repoAnswer(roomy, COSMOS);
    expect(inline.statusCode).toBe(200);
    expect(inline.headers!['content-encoding']).toBe('gzip');
    expect((await repoAnswer(roomy, { ...COSMOS, acceptEncoding: undefined })).statusCode).toBe(200);
    // With proxy downloads the client may not reach the store: inline, whatever the setting.
    expect((await repoAnswer(proxy, COSMOS)).statusCode).toBe(200);

    for (const acceptEncoding of ['gzip', 'identity']) {
      const res = await repoAnswer(limited, { ...COSMOS, acceptEncoding });
      expect(res.statusCode).toBe(307);
      expect(res.body).toBe('');
      // The location is short-lived and names one catalog state: never cached; the ETag is /repo's own.
      expect(res.headers!['cache-control']).toBe('no-store');
      expect(res.headers!.etag).toBe(inline.headers!.etag);
      expect(res.headers!['content-encoding']).toBeUndefined();
      const got = await follow(limited.storage, res);
      expect(got.contentType).toBe(V5);
      expect(got.doc).toEqual((await follow(roomy.storage, inline)).doc);
    }
  });

  it('counts gzip: a compressible index over the limit raw but under it gzipped goes inline to gzip clients only', async () => {
    const catalog = new Catalog(store.another());
    const entry = catalogEntry('compressible', '1.0.0');
    entry.package = { ...entry.package, description: 'a long and very repetitive description. '.repeat(2_000) };
    await addVersion(catalog, entry);
    const reg = registry(store.another(), { REGISTRY_REPO_INLINE_BYTES: String(64 * 1024) });
    const gz = await repoAnswer(reg, COSMOS);
    expect(gz.statusCode).toBe(200);
    expect(gz.headers!['content-encoding']).toBe('gzip');
    const plain = await repoAnswer(reg, { ...COSMOS, acceptEncoding: undefined });
    expect(plain.statusCode).toBe(307);
    expect((await follow(reg.storage, plain)).doc).toEqual((await follow(reg.storage, gz)).doc);
  });

  it('writes each variant once, create-only and content-keyed; a warm redirect and a 304 cost one store request', async () => {
    // Store requests as the storage base layer counts them (signing is local work, not a request).
    const c = storageLayer(store.another());
    const reg = registry(c, { REGISTRY_REPO_INLINE_BYTES: '0' });
    const first = await repoAnswer(reg, COSMOS);
    expect(first.statusCode).toBe(307);
    const written = c.counts().put ?? 0;
    expect(written).toBeLessThanOrEqual(1); // 0 when an earlier test's instance wrote the same variant

    let calls = c.requests();
    const warm = await repoAnswer(reg, COSMOS);
    expect(warm.statusCode).toBe(307);
    expect(c.requests() - calls).toBe(1);
    calls = c.requests();
    const revalidated = await repoAnswer(reg, { ...COSMOS, ifNoneMatch: String(first.headers!.etag) });
    expect(revalidated.statusCode).toBe(304);
    expect(revalidated.headers!.location).toBeUndefined();
    expect(c.requests() - calls).toBe(1);

    // Another instance redirects to the same object (the key names its content) without rewriting it.
    const other = storageLayer(store.another());
    const second = await repoAnswer(registry(other, { REGISTRY_REPO_INLINE_BYTES: '0' }), COSMOS);
    const path = (r: Response) => new URL(String(r.headers!.location)).pathname;
    expect(path(second)).toBe(path(first));
    expect(other.counts().put ?? 0).toBeLessThanOrEqual(1);
    const before = (await follow(reg.storage, first)).doc;

    // A new catalog state is a new object; the old one is left as it was (immutable).
    await addVersion(new Catalog(store.another()), catalogEntry('later', '1.0.0'));
    const after = await repoAnswer(reg, COSMOS);
    expect(after.statusCode).toBe(307);
    expect(after.headers!.etag).not.toBe(first.headers!.etag);
    expect(path(after)).not.toBe(path(first));
    expect((await follow(reg.storage, after)).doc.packages.map((p: any) => p.name)).toContain('later');
    expect((await follow(reg.storage, first)).doc).toEqual(before);
  });
});
