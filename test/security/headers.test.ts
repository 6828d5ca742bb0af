/**
 * Hostile request headers (issue 10, item 3): Accept-Encoding on /repo and Range on downloads
 * were parsed by backtracking patterns, so a 15 KB value cost about half a second of CPU per
 * request. Every header /repo or a download reads is capped and split and scanned. A test per
 * header feeds the pathological value and checks the answer; what it costs is measured by
 * `npx tsx bench/hardening.ts`, never asserted here.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../lib/catalog/catalog';
import { addVersion } from '../../lib/catalog/ops';
import { parseConfig } from '../../lib/config';
import { downloadAnswer, MAX_RANGE_CHARS, parseRange } from '../../lib/downloads';
import { statusOf } from '../../lib/http/errors';
import type { Response } from '../../lib/http/handler';
import { keys } from '../../lib/keys';
import type { Registry } from '../../lib/registry';
import { acceptsGzip, MAX_HEADER_CHARS, type RepoRequest } from '../../lib/repo';
import { FileStorage } from '../../lib/storage/fs';
import { WriteGate } from '../../lib/storage/probe';
import { dcosVersionFromUserAgent } from '../../lib/universe/render';
import { catalogEntry, sha256 } from '../support/fixtures';
import { viaLambda } from '../repo/lambda-view';

const SPACES = ' '.repeat(15 * 1024);
const V5 = 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5';
const COSMOS: RepoRequest = { accept: V5, acceptEncoding: 'gzip', userAgent: 'cosmos/0.6.0 dcos/2.2.0', origin: 'http://registry.test' };

let root: string;
let registry: Registry;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'headers-'));
  const storage = new FileStorage({ root, signingKey: async () => Buffer.alloc(32, 3) });
  registry = {
    config: parseConfig({ REGISTRY_DOWNLOADS: 'proxy' }),
    storage,
    catalog: new Catalog(storage),
    gate: new WriteGate(storage),
  };
  const entry = catalogEntry('needs-110', '1.0.0');
  entry.package = { ...entry.package, minDcosReleaseVersion: '1.10' };
  await addVersion(registry.catalog, entry);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The answer, or the Cosmos-shaped error the HTTP layer would make of a thrown one. */
async function answer(req: RepoRequest): Promise<Response & { type?: string; message?: string }> {
  try {
    return await viaLambda(registry, req);
  } catch (error) {
    const e = error as { type?: string; message?: string };
    return { statusCode: (e.type && statusOf(e.type)) || 500, type: e.type, message: e.message };
  }
}

function packages(res: Response): string[] {
  const raw = Buffer.from(res.body ?? '', res.isBase64Encoded ? 'base64' : 'utf8');
  const doc = JSON.parse((res.headers?.['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8'));
  return doc.packages.map((p: { name: string }) => p.name);
}

describe('/repo request headers', () => {
  it('Accept-Encoding: a 15 KB value is refused by name; values under the cap are split and scanned', async () => {
    const long = await answer({ ...COSMOS, acceptEncoding: `gzip${SPACES}x` });
    expect(long).toMatchObject({ statusCode: 400, type: 'BadRequest' });
    expect(long.message).toContain('Accept-Encoding');
    expect((await answer({ ...COSMOS, acceptEncoding: `gzip${' '.repeat(MAX_HEADER_CHARS)}` })).statusCode).toBe(400);
    // The same shape under the cap: not a gzip coding, so the answer is plain.
    const shaped = await answer({ ...COSMOS, acceptEncoding: `gzip${' '.repeat(MAX_HEADER_CHARS - 10)}x` });
    expect(shaped.statusCode).toBe(200);
    expect(shaped.headers!['content-encoding']).toBeUndefined();
    expect(packages(shaped)).toEqual(['needs-110']);
    expect((await answer({ ...COSMOS, acceptEncoding: ` deflate ,  gzip ; q=0.5${' '.repeat(1000)}` })).headers!['content-encoding']).toBe(
      'gzip',
    );

    for (const [value, gzip] of [
      ['gzip', true],
      ['GZIP', true],
      ['x-gzip', true],
      ['deflate, gzip;q=0.001', true],
      ['gzip;q=1.0', true],
      ['*', true],
      ['gzip;q=0', false],
      ['gzip;q=0.000', false],
      ['gzip;q=0, *', false],
      ['*;q=0', false],
      ['gzip;q=', false],
      ['gzip;q=x', false],
      ['identity', false],
      ['gzipx', false],
      ['', false],
      [`${','.repeat(MAX_HEADER_CHARS - 4)}gzip`, true],
      [`${';'.repeat(MAX_HEADER_CHARS - 4)}gzip`, false],
    ] as const) {
      expect(acceptsGzip(value), value.slice(0, 40)).toBe(gzip);
    }
  });

  it('Accept: a 15 KB value is refused by name; a long list under the cap is negotiated as usual', async () => {
    const long = await answer({ ...COSMOS, accept: `application/json;q=${SPACES}x` });
    expect(long).toMatchObject({ statusCode: 400, type: 'BadRequest' });
    expect(long.message).toContain('Accept ');
    const list = `${'text/html;q=0.5, '.repeat(100)}${V5}`;
    expect(list.length).toBeLessThan(MAX_HEADER_CHARS);
    const res = await answer({ ...COSMOS, accept: list });
    expect([res.statusCode, res.headers!['content-type']]).toEqual([200, V5]);
    expect((await answer({ ...COSMOS, accept: `text/html;${';='.repeat(MAX_HEADER_CHARS / 2 - 20)}` })).type).toBe('NotAcceptable');
  });

  it('If-None-Match: a 15 KB value is refused by name even when it names the ETag; a list under the cap is matched', async () => {
    const etag = String((await answer(COSMOS)).headers!.etag);
    const long = await answer({ ...COSMOS, ifNoneMatch: `"a"${SPACES}, ${etag}` });
    expect(long).toMatchObject({ statusCode: 400, type: 'BadRequest' });
    expect(long.message).toContain('If-None-Match');
    expect((await answer({ ...COSMOS, ifNoneMatch: `${'"x", '.repeat(300)}${etag}` })).statusCode).toBe(304);
    expect((await answer({ ...COSMOS, ifNoneMatch: `W/${etag}` })).statusCode).toBe(304);
    expect((await answer({ ...COSMOS, ifNoneMatch: `"a"${' '.repeat(1500)}x` })).statusCode).toBe(200);
  });

  it('User-Agent: a 15 KB value is refused by name; dcos/x.y is scanned out of values under the cap', async () => {
    const long = await answer({ ...COSMOS, userAgent: `dcos/1${'.1'.repeat(7 * 1024)}x` });
    expect(long).toMatchObject({ statusCode: 400, type: 'BadRequest' });
    expect(long.message).toContain('User-Agent');
    // 1.1.1…1 is older than 1.10: the package needing 1.10 is hidden.
    expect(packages(await answer({ ...COSMOS, userAgent: `dcos/1${'.1'.repeat(900)}x` }))).toEqual([]);
    expect(packages(await answer({ ...COSMOS, userAgent: `${' '.repeat(2000)}dcos/1.12` }))).toEqual(['needs-110']);
    // Trailing ".0"s are dropped by a scan (a nested pattern took 1.3 s on 15 KB of them, per package).
    expect(packages(await answer({ ...COSMOS, userAgent: `dcos/1${'.0'.repeat(1000)}.1` }))).toEqual([]);
    expect(packages(await answer({ ...COSMOS, userAgent: `dcos/1.10${'.0'.repeat(1000)}` }))).toEqual(['needs-110']);
    const long0 = await answer({ ...COSMOS, userAgent: `dcos/1${'.0'.repeat(7 * 1024)}.1` });
    expect([long0.statusCode, long0.type]).toEqual([400, 'BadRequest']);
    expect(packages(await answer({ ...COSMOS, userAgent: 'cosmos/0.6.0 dcos/1.9' }))).toEqual([]);

    for (const [ua, version] of [
      ['cosmos/0.6.0 dcos/1.13.0', '1.13.0'],
      ['dcos/2.2', '2.2'],
      ['DCOS/1.12 foo', '1.12'],
      ['Mozilla/5.0\tdcos/1.11.2-beta', '1.11.2'],
      ['dcos/1..2', '1'],
      ['dcos/1.', '1'],
      ['dcos/.1', undefined],
      ['xdcos/1.12', undefined],
      ['dcos/x dcos/1.12', '1.12'],
      ['curl/8.0', undefined],
      [`${'dcos/'.repeat(400)}1.2`, undefined],
    ] as const) {
      expect(dcosVersionFromUserAgent(ua), ua.slice(0, 40)).toBe(version);
    }
  });
});

describe('Range on downloads', () => {
  it('a 15 KB Range is ignored (the whole object), whatever it holds; ranges under the cap are parsed as before', () => {
    expect(parseRange(`bytes=${SPACES}x`, 1000)).toBeUndefined();
    expect(parseRange(`bytes=0-${SPACES}x`, 1000)).toBeUndefined();
    // Valid but for its length: leading zeros. Still ignored.
    expect(parseRange(`bytes=${'0'.repeat(15 * 1024)}0-9`, 1000)).toBeUndefined();
    expect(parseRange(`bytes=${'0'.repeat(MAX_RANGE_CHARS)}-9`, 1000)).toBeUndefined();

    for (const [header, expected] of [
      ['bytes=0-9', { start: 0, end: 9 }],
      ['BYTES=0-9', { start: 0, end: 9 }],
      [' bytes = 10 - 19 ', { start: 10, end: 19 }],
      ['bytes=990-', { start: 990, end: 999 }],
      ['bytes=990-5000', { start: 990, end: 999 }],
      ['bytes=-5', { start: 995, end: 999 }],
      ['bytes=-5000', { start: 0, end: 999 }],
      ['bytes=1000-', 'unsatisfiable'],
      ['bytes=-0', 'unsatisfiable'],
      ['bytes=9-0', undefined],
      ['bytes=-', undefined],
      ['bytes=0-1,3-4', undefined],
      ['bytes=0x1-2', undefined],
      ['bytes=1e3-', undefined],
      ['bytes=+1-2', undefined],
      ['bytes 0-9', undefined],
      ['items=0-9', undefined],
      [`bytes=${' '.repeat(100)}x`, undefined],
      [`bytes=0-${' '.repeat(100)}x`, undefined],
      ['', undefined],
    ] as const) {
      expect(parseRange(header, 1000), header).toEqual(expected);
    }
    expect(parseRange('bytes=0-9', 0)).toBe('unsatisfiable');
  });

  it('a proxied download with a 15 KB Range answers the whole blob', async () => {
    const bytes = Buffer.from('0123456789'.repeat(10));
    const hex = sha256(bytes).slice('sha256:'.length);
    await registry.storage.put(keys.blob(hex), bytes);
    const get = (range: string) =>
      downloadAnswer(registry, { hex, size: bytes.length, range, origin: 'http://registry.test', headers: {}, head: false });
    const whole = await get(`bytes=0-9${SPACES}`);
    expect(whole.statusCode).toBe(200);
    expect(Buffer.from(String(whole.body), 'base64')).toEqual(bytes);
    const part = await get('bytes=10-19');
    expect([part.statusCode, Buffer.from(String(part.body), 'base64').toString()]).toEqual([206, '0123456789']);
  });
});
