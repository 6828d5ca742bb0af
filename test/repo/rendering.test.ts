/**
 * /repo at the raw-GET limit (issue 14): each runtime delivers the rendering as is fastest for
 * its client.
 *  - The gzip rendering is stored beside the plain one (content-keyed, create-only, with
 *    `Content-Encoding: gzip`), and a redirected client gets the one its Accept-Encoding takes.
 *  - The production server answers the rendering itself: 200, gzip as rendered, no redirect and
 *    nothing stored, whatever the size.
 *  - A Lambda answers inline up to what its 6 MB response holds after base64 and redirects only
 *    past that (lambdaResponse); with proxy downloads it never redirects.
 *  - A warm answer and a 304 cost one store request (the catalog read).
 * Both drivers, S3 on Ceph RGW; the server is the esbuild bundle under node (test/server/harness).
 */
import http from 'node:http';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../lib/catalog/catalog';
import { addVersion } from '../../lib/catalog/ops';
import { type BytesResponse, isBytes, LAMBDA_INLINE_MAX, LAMBDA_RESPONSE_LIMIT, LAMBDA_TEXT_MAX } from '../../lib/http/handler';
import { lambdaResponse } from '../../lib/http/lambda';
import { keys } from '../../lib/keys';
import { GZIP_ALWAYS_UP_TO, GZIP_KEEPS_AT_MOST, gzipPays, repoAnswer, type RepoRequest } from '../../lib/repo';
import type { Storage } from '../../lib/storage/port';
import { startServer, type ServerProcess } from '../server/harness';
import { bigEntry, COSMOS_REPO_REQUEST, incompressibleEntry, ORIGIN, publicRegistry, V5 } from '../support/cosmos-repo';
import { drivers, type TestStore } from '../support/stores';
import { follow, viaLambda } from './lambda-view';

const COSMOS = COSMOS_REPO_REQUEST;
const registry = publicRegistry;
const PLAIN: RepoRequest = { ...COSMOS, acceptEncoding: 'identity' };
const SIGNING_KEY_HEX = Buffer.alloc(32, 7).toString('hex'); // test/support/stores.ts's file signing key

/** Store requests made through it (signing is local work, not a request). */
function counting(inner: Storage): { storage: Storage; calls: string[] } {
  const calls: string[] = [];
  const storage = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      if (String(prop).startsWith('sign')) return value.bind(target);
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { storage, calls };
}

async function renderedKeys(storage: Storage): Promise<string[]> {
  return (await storage.list(keys.renderedPrefix())).map((o) => o.key);
}

/** A GET with node:http: the bytes as they crossed the wire (no decoding), status and headers. */
function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

const cosmosHeaders = (encoding: string) => ({
  accept: String(COSMOS.accept),
  'accept-encoding': encoding,
  'user-agent': String(COSMOS.userAgent),
});

describe('the Lambda adapter: inline up to what a 6 MB response holds after base64, a redirect past it', () => {
  const answer = (size: number, extra: Partial<BytesResponse> = {}): BytesResponse & { located: number } => {
    const bytes = Buffer.alloc(size, 0x61);
    const out = {
      statusCode: 200,
      headers: { 'content-type': V5, 'content-encoding': 'gzip', etag: '"e"' },
      bytes,
      inlineBytes: LAMBDA_INLINE_MAX,
      payload: () => ({ body: bytes.toString('base64'), isBase64Encoded: true }),
      located: 0,
      location: async () => {
        out.located++;
        return 'https://store.test/rendered/x';
      },
      ...extra,
    };
    return out;
  };

  it('answers LAMBDA_INLINE_MAX bytes inline within the response limit, one byte more by redirect', async () => {
    const fits = answer(LAMBDA_INLINE_MAX);
    const inline = await lambdaResponse(fits, false);
    expect(inline.statusCode).toBe(200);
    expect(inline.isBase64Encoded).toBe(true);
    expect(Buffer.from(String(inline.body), 'base64').equals(fits.bytes)).toBe(true); // (toEqual on MBs takes minutes)
    expect(inline.headers!['content-encoding']).toBe('gzip');
    expect(inline.headers!['content-length']).toBe(String(LAMBDA_INLINE_MAX));
    // What Lambda counts against its limit: the JSON of the whole structured result.
    expect(Buffer.byteLength(JSON.stringify(inline))).toBeLessThanOrEqual(LAMBDA_RESPONSE_LIMIT);
    expect(fits.located).toBe(0);

    const past = answer(LAMBDA_INLINE_MAX + 1);
    const redirect = await lambdaResponse(past, false);
    expect(redirect.statusCode).toBe(307);
    expect(redirect.headers!.location).toBe('https://store.test/rendered/x');
    expect(redirect.headers!['cache-control']).toBe('no-store');
    expect(redirect.headers!['content-encoding']).toBeUndefined();
    expect(redirect.headers!.etag).toBe('"e"');
    expect(redirect.body).toBe('');
    expect(past.located).toBe(1);
  });

  it('takes the operation’s smaller inlineBytes; without a location it never redirects; HEAD has no body', async () => {
    expect((await lambdaResponse(answer(1000, { inlineBytes: 999 }), false)).statusCode).toBe(307);
    expect((await lambdaResponse(answer(999, { inlineBytes: 999 }), false)).statusCode).toBe(200);
    const nowhere = await lambdaResponse(answer(LAMBDA_INLINE_MAX + 1, { location: undefined, inlineBytes: 0 }), false);
    expect(nowhere.statusCode).toBe(200);
    const head = await lambdaResponse(answer(1000), true);
    expect([head.statusCode, head.body, head.headers!['content-length']]).toEqual([200, '', '1000']);
  });

  it('a plain document goes as text only while JSON escaping cannot push it past the limit', async () => {
    // The worst a JSON document can do to text: every byte a quote, escaped to two characters.
    const quotes = '"'.repeat(LAMBDA_TEXT_MAX);
    const res = await lambdaResponse(
      {
        ...answer(0),
        bytes: Buffer.from(quotes),
        payload: () => ({ body: quotes, isBase64Encoded: false }),
        headers: { 'content-type': V5 },
      },
      false,
    );
    expect(res.statusCode).toBe(200);
    expect(Buffer.byteLength(JSON.stringify(res))).toBeLessThanOrEqual(LAMBDA_RESPONSE_LIMIT);
  });
});

describe.each(drivers)('stored renderings on $name storage', ({ make }) => {
  let store: TestStore;
  beforeAll(async () => {
    store = await make();
    const catalog = new Catalog(store.another());
    for (let i = 0; i < 3; i++) await addVersion(catalog, bigEntry(`gz-${i}`, '1.0.0', 20_000));
  }, 60_000);
  afterAll(async () => {
    await store?.cleanup();
  });

  it('a gzip client is redirected to the gzip rendering (Content-Encoding: gzip), an identity client to the plain one', async () => {
    const redirecting = registry(store.another(), { REGISTRY_REPO_INLINE_BYTES: '0' });
    const before = new Set(await renderedKeys(store.storage));
    const inline = await repoAnswer(registry(store.another()), COSMOS);
    expect(isBytes(inline) && inline.headers['content-encoding']).toBe('gzip');

    const gz = await viaLambda(redirecting, COSMOS);
    expect(gz.statusCode).toBe(307);
    expect(gz.headers!['content-encoding']).toBeUndefined();
    const gotGz = await follow(redirecting.storage, gz, ORIGIN);
    expect(gotGz.contentEncoding).toBe('gzip');
    expect(gotGz.contentType).toBe(V5);
    // The stored object holds exactly the bytes the registry answers inline to the same client.
    expect(gotGz.wire.equals((inline as BytesResponse).bytes)).toBe(true);
    expect(gunzipSync(gotGz.wire).length).toBeGreaterThan(gotGz.wire.length);

    const plain = await viaLambda(redirecting, PLAIN);
    expect(plain.statusCode).toBe(307);
    const gotPlain = await follow(redirecting.storage, plain, ORIGIN);
    expect(gotPlain.contentEncoding).toBeNull();
    expect(gotPlain.doc).toEqual(gotGz.doc);
    expect(gotPlain.wire.equals(gunzipSync(gotGz.wire))).toBe(true);
    expect(new URL(String(plain.headers!.location)).pathname).not.toBe(new URL(String(gz.headers!.location)).pathname);

    // One object each, beside each other under the catalog state; another instance rewrites neither.
    const added = (await renderedKeys(store.storage)).filter((k) => !before.has(k));
    expect(added).toHaveLength(2);
    expect(added.filter((k) => k.endsWith('.json.gz'))).toHaveLength(1);
    const other = counting(store.another());
    const again = await viaLambda(registry(other.storage, { REGISTRY_REPO_INLINE_BYTES: '0' }), COSMOS);
    expect(new URL(String(again.headers!.location)).pathname).toBe(new URL(String(gz.headers!.location)).pathname);
    expect(other.calls.filter((c) => c === 'put').length).toBeLessThanOrEqual(1); // create-only: refused if it raced
    expect((await renderedKeys(store.storage)).filter((k) => !before.has(k))).toEqual(added);
  });

  it('a warm answer and a 304 cost one store request; answering the bytes writes nothing', async () => {
    const c = counting(store.another());
    const reg = registry(c.storage);
    const first = await repoAnswer(reg, COSMOS);
    c.calls.length = 0;
    const warm = await repoAnswer(reg, COSMOS);
    expect(isBytes(warm)).toBe(true);
    expect(c.calls).toEqual(['getIfChanged']);
    c.calls.length = 0;
    const revalidated = await repoAnswer(reg, { ...COSMOS, ifNoneMatch: String(first.headers!.etag) });
    expect(revalidated.statusCode).toBe(304);
    expect(c.calls).toHaveLength(1);
  });

  it('with proxy downloads a Lambda never redirects, not even past REGISTRY_REPO_INLINE_BYTES', async () => {
    const reg = registry(store.another(), { REGISTRY_DOWNLOADS: 'proxy', REGISTRY_REPO_INLINE_BYTES: '0' });
    for (const req of [COSMOS, PLAIN]) {
      const res = await viaLambda(reg, req);
      expect(res.statusCode).toBe(200);
      expect(res.headers!.location).toBeUndefined();
    }
  });
});

describe.each(drivers)('gzip where it pays, on $name storage: a catalog gzip keeps most of goes plain', ({ make }) => {
  let store: TestStore;
  let plainBytes: number;
  let gzipBytes: number;
  beforeAll(async () => {
    store = await make();
    // About 320 KB of base64 of random bytes (past GZIP_ALWAYS_UP_TO): gzip keeps about 76% (more than GZIP_KEEPS_AT_MOST).
    const catalog = new Catalog(store.another());
    for (let i = 0; i < 4; i++) await addVersion(catalog, incompressibleEntry(`blob-${i}`, '1.0.0', 80_000));
    const plain = await repoAnswer(registry(store.another()), PLAIN);
    if (!isBytes(plain)) throw new Error('expected the rendering’s bytes');
    plainBytes = plain.bytes.length;
    gzipBytes = gzipSync(plain.bytes, { level: 6 }).length;
  }, 60_000);
  afterAll(async () => {
    await store?.cleanup();
  });

  it('a gzip client is answered the plain bytes (inflating them would cost it more than the bytes gzip saves)', async () => {
    expect(plainBytes).toBeGreaterThan(GZIP_ALWAYS_UP_TO);
    expect(gzipBytes).toBeGreaterThan(plainBytes * GZIP_KEEPS_AT_MOST);
    const reg = registry(store.another());
    const gz = await repoAnswer(reg, COSMOS);
    const plain = await repoAnswer(reg, PLAIN);
    if (!isBytes(gz) || !isBytes(plain)) throw new Error('expected the rendering’s bytes');
    expect(gz.headers['content-encoding']).toBeUndefined();
    expect(gz.headers.vary).toContain('Accept-Encoding');
    expect(gz.bytes.equals(plain.bytes)).toBe(true);
    expect(gz.headers.etag).toBe(plain.headers.etag);
    const inline = await viaLambda(reg, COSMOS);
    expect([inline.statusCode, inline.headers!['content-encoding']]).toEqual([200, undefined]);
    expect((await follow(reg.storage, inline)).doc.packages).toHaveLength(4);
  });

  it('redirected, it is sent to the plain rendering: one object for both clients, no gzip one written', async () => {
    const reg = registry(store.another(), { REGISTRY_REPO_INLINE_BYTES: '0' });
    const before = new Set(await renderedKeys(store.storage));
    const gz = await viaLambda(reg, COSMOS);
    const plain = await viaLambda(reg, PLAIN);
    expect([gz.statusCode, plain.statusCode]).toEqual([307, 307]);
    expect(new URL(String(gz.headers!.location)).pathname).toBe(new URL(String(plain.headers!.location)).pathname);
    const got = await follow(reg.storage, gz, ORIGIN);
    expect(got.contentEncoding).toBeNull();
    expect(got.doc.packages).toHaveLength(4);
    const added = (await renderedKeys(store.storage)).filter((k) => !before.has(k));
    expect(added).toHaveLength(1);
    expect(added[0].endsWith('.json')).toBe(true);
  });

  it('but gzip when only the gzip bytes fit a Lambda’s inline answer (a redirect costs a second request)', async () => {
    expect(gzipPays(plainBytes, gzipBytes)).toBe(false);
    const between = Math.floor((plainBytes + gzipBytes) / 2);
    expect(gzipPays(plainBytes, gzipBytes, between)).toBe(true);
    const reg = registry(store.another(), { REGISTRY_REPO_INLINE_BYTES: String(between) });
    const gz = await viaLambda(reg, COSMOS);
    expect([gz.statusCode, gz.headers!['content-encoding']]).toEqual([200, 'gzip']);
    expect((await follow(reg.storage, gz)).doc.packages).toHaveLength(4);
    expect((await viaLambda(reg, PLAIN)).statusCode).toBe(307);
    // Without a store to redirect to (proxy downloads) it stays plain: every answer is inline, and this one fits.
    const proxy = registry(store.another(), { REGISTRY_REPO_INLINE_BYTES: String(between), REGISTRY_DOWNLOADS: 'proxy' });
    const inline = await viaLambda(proxy, COSMOS);
    expect([inline.statusCode, inline.headers!['content-encoding']]).toEqual([200, undefined]);
  });
});

describe('gzip where it pays: an index only gzip fits into a Lambda response goes gzip even with nowhere to redirect', () => {
  let store: TestStore;
  beforeAll(async () => {
    store = await drivers.find((d) => d.name === 'file')!.make();
    // About 5.1 MB of base64 of random bytes (3.9 MB gzipped): plain, it is past what a Lambda answers inline.
    const catalog = new Catalog(store.another());
    for (let i = 0; i < 64; i++) await addVersion(catalog, incompressibleEntry(`fits-${i}`, '1.0.0', 80_000));
  }, 120_000);
  afterAll(async () => {
    await store?.cleanup();
  });

  it('with proxy downloads (every answer inline) a gzip client gets gzip, within the response limit', async () => {
    const reg = registry(store.another(), { REGISTRY_DOWNLOADS: 'proxy' });
    const plain = await repoAnswer(reg, PLAIN);
    if (!isBytes(plain)) throw new Error('expected the rendering’s bytes');
    expect(plain.bytes.length).toBeGreaterThan(LAMBDA_INLINE_MAX);
    const res = await viaLambda(reg, COSMOS);
    expect([res.statusCode, res.headers!['content-encoding']]).toEqual([200, 'gzip']);
    expect(Buffer.byteLength(JSON.stringify(res))).toBeLessThanOrEqual(LAMBDA_RESPONSE_LIMIT);
    expect(gunzipSync(Buffer.from(String(res.body), 'base64')).equals(plain.bytes)).toBe(true);
  });
});

describe.each(drivers)('the production server on $name storage, a catalog past the Lambda limit', ({ make }) => {
  let store: TestStore;
  let server: ServerProcess | undefined;
  let proxy: ServerProcess | undefined;
  const env = (extra: Record<string, string>) => ({
    ...store.env,
    REGISTRY_SIGNING_KEY: SIGNING_KEY_HEX,
    REGISTRY_S3_ETAG_FORM: 'unquoted',
    REGISTRY_PUBLIC_URL: ORIGIN,
    ...extra,
  });
  beforeAll(async () => {
    store = await make();
    // About 13.6 MB of JSON, 5.2 MB gzipped: past what a Lambda answers inline either way.
    const catalog = new Catalog(store.another());
    for (let i = 0; i < 8; i++) await addVersion(catalog, bigEntry(`big-${i}`, '1.0.0', 850_000));
    [server, proxy] = await Promise.all([
      startServer({ env: env({}), flags: ['--schedules', 'off'] }),
      startServer({ env: env({ REGISTRY_DOWNLOADS: 'proxy' }), flags: ['--schedules', 'off'] }),
    ]);
  }, 180_000);
  afterAll(async () => {
    await Promise.all([server?.stop(), proxy?.stop()]);
    await store?.cleanup();
  });

  it('answers the gzip rendering itself: 200, Content-Encoding gzip, the same bytes, no redirect, nothing stored', async () => {
    const expected = await repoAnswer(registry(store.another()), COSMOS);
    if (!isBytes(expected)) throw new Error('expected the rendering’s bytes');
    expect(expected.bytes.length).toBeGreaterThan(LAMBDA_INLINE_MAX);
    // The same answer through a Lambda would be a redirect.
    expect((await viaLambda(registry(store.another()), COSMOS)).statusCode).toBe(307);
    const before = await renderedKeys(store.storage);

    const gz = await rawGet(`${server!.url}/repo`, cosmosHeaders('gzip'));
    expect(gz.status).toBe(200);
    expect(gz.headers.location).toBeUndefined();
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers['content-length']).toBe(String(expected.bytes.length));
    expect(gz.body.equals(expected.bytes)).toBe(true);
    expect(gz.headers.etag).toBe(expected.headers.etag);

    const plain = await rawGet(`${server!.url}/repo`, cosmosHeaders('identity'));
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.equals(gunzipSync(gz.body))).toBe(true);
    // The server writes no rendering: it never redirects to one.
    expect(await renderedKeys(store.storage)).toEqual(before);

    const notModified = await rawGet(`${server!.url}/repo`, { ...cosmosHeaders('gzip'), 'if-none-match': String(gz.headers.etag) });
    expect([notModified.status, notModified.body.length]).toEqual([304, 0]);
  });

  it('the stored gzip rendering a Lambda redirects to answers Content-Encoding: gzip over HTTP (S3, or the server’s /_store)', async () => {
    const redirect = await viaLambda(registry(store.another()), COSMOS);
    expect(redirect.statusCode).toBe(307);
    const location = new URL(String(redirect.headers!.location));
    // The filesystem driver's target is the registry's own /_store route under the public URL.
    const url = location.origin === ORIGIN ? `${server!.url}${location.pathname}${location.search}` : location.href;
    const res = await rawGet(url, { 'accept-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers['content-type']).toBe(V5);
    const expected = await repoAnswer(registry(store.another()), COSMOS);
    expect(res.body.equals((expected as BytesResponse).bytes)).toBe(true);
  });

  it('with proxy downloads it answers inline too (never a redirect to the store)', async () => {
    for (const encoding of ['gzip', 'identity']) {
      const res = await rawGet(`${proxy!.url}/repo`, cosmosHeaders(encoding));
      expect(res.status).toBe(200);
      expect(res.headers.location).toBeUndefined();
      const doc = JSON.parse((encoding === 'gzip' ? gunzipSync(res.body) : res.body).toString('utf8'));
      expect(doc.packages).toHaveLength(8);
    }
    // A Lambda with proxy downloads does not redirect either (before issue 14 it did, past 4 MiB).
    const lambda = await viaLambda(registry(store.another(), { REGISTRY_DOWNLOADS: 'proxy' }), COSMOS);
    expect(lambda.statusCode).toBe(200);
    expect(lambda.headers!.location).toBeUndefined();
  });
});
