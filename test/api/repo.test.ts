/**
 * lib/repo.ts in-process on both drivers, as the Lambda adapter answers it (lambdaResponse):
 * which answers go inline and which by redirect to the pre-rendered object
 * (config.repoInlineBytes, measured after gzip when accepted), what the redirect and its target
 * look like, and that the redirect keeps /repo's ETag/304 behaviour and costs one store request
 * once the variant is written. Stored renderings need a configured public URL
 * (REGISTRY_PUBLIC_URL); without one, every answer is inline (test/security/repo.test.ts).
 * The gzip rendering, the server and the Lambda boundary: test/repo/rendering.test.ts.
 * (Through serverless offline with the default limit: test/api/api.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../lib/catalog/catalog';
import { addVersion } from '../../lib/catalog/ops';
import { ConfigError, parseConfig } from '../../lib/config';
import { LAMBDA_INLINE_MAX, type Response } from '../../lib/http/handler';
import { storageLayer } from '../../lib/storage/layer';
import type { Storage } from '../../lib/storage/port';
import { follow as followAnswer, viaLambda as repoAnswer } from '../repo/lambda-view';
import { bigEntry, COSMOS_REPO_REQUEST, ORIGIN, publicRegistry, V5 } from '../support/cosmos-repo';
import { catalogEntry } from '../support/fixtures';
import { drivers, type TestStore } from '../support/stores';

const COSMOS = COSMOS_REPO_REQUEST;
/** A registry with a configured public URL: only then are large answers stored (test/security/repo.test.ts). */
const registry = publicRegistry;

/** What a client following the answer ends up with: the final answer's Content-Type, and the document. */
async function follow(storage: Storage, res: Response): Promise<{ contentType: string | null; doc: any }> {
  if (res.statusCode === 307) expect(new URL(String(res.headers!.location)).protocol).toBe(new URL(ORIGIN).protocol);
  const got = await followAnswer(storage, res, ORIGIN);
  return { contentType: got.contentType, doc: got.doc };
}

describe('REGISTRY_REPO_INLINE_BYTES', () => {
  it('defaults to what a Lambda response holds after base64, takes 0..that in bytes, refuses anything else by name', () => {
    expect(LAMBDA_INLINE_MAX).toBe(4_669_440);
    expect(parseConfig({}).repoInlineBytes).toBe(LAMBDA_INLINE_MAX);
    expect(parseConfig({ REGISTRY_REPO_INLINE_BYTES: '0' }).repoInlineBytes).toBe(0);
    expect(parseConfig({ REGISTRY_REPO_INLINE_BYTES: String(LAMBDA_INLINE_MAX) }).repoInlineBytes).toBe(LAMBDA_INLINE_MAX);
    for (const bad of ['-1', '1.5', '1m', String(LAMBDA_INLINE_MAX + 1)]) {
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
    // About 48 KB of text, 18 KB gzipped: over 16 KiB raw and gzipped alike.
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
