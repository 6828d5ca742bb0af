/**
 * The one storage conformance suite: every driver runs these same tests (the filesystem
 * driver always, S3 against the real test server). Keys live under a random per-run
 * prefix, so the suite can share a bucket with other runs.
 *
 * Signed URLs are fetched with the global fetch, so what is tested is what a client sees.
 * The suite runs over the storage base layer (lib/storage/layer.ts) on the driver, as the
 * registry does: key validation, the part-number limit and the request counts are checked here.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlreadyExistsError, ConflictError, NotFoundError, PreconditionFailedError } from '../../lib/errors';
import { InvalidKeyError, type StorageLayer, storageLayer } from '../../lib/storage/layer';
import { MAX_PART_NUMBER, type ObjectStream, type Storage } from '../../lib/storage/port';
import { runProbe } from '../../lib/storage/probe';

export interface MadeStorage {
  storage: Storage;
  cleanup?: () => Promise<void>;
  /** Origin for signed URLs, when make() only learns it while starting (fs: the test's HTTP server). */
  origin?: string;
}

const MiB = 1024 * 1024;

async function readAll(object: ObjectStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of object.stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Runs fn over items with at most `width` in flight. */
async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** Flips one hex digit of the URL's signature parameter (X-Signature, X-Amz-Signature, ...). */
function tamperSignature(url: string): string {
  const u = new URL(url);
  const name = [...u.searchParams.keys()].find((n) => /signature/i.test(n));
  if (!name) throw new Error(`no signature parameter in ${url}`);
  const sig = u.searchParams.get(name)!;
  u.searchParams.set(name, (sig[0] === '0' ? '1' : '0') + sig.slice(1));
  return u.toString();
}

/** Changes the last character of the key in the URL's path (the key ends the path for every driver). */
function tamperKey(url: string): string {
  const u = new URL(url);
  u.pathname = u.pathname.slice(0, -1) + (u.pathname.endsWith('a') ? 'b' : 'a');
  return u.toString();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function storageConformance(name: string, make: () => Promise<MadeStorage>, options: { origin?: string } = {}): void {
  describe(`storage conformance: ${name}`, () => {
    const run = `conformance/${Date.now().toString(36)}-${randomBytes(4).toString('hex')}/`;
    const k = (suffix: string) => run + suffix;
    // Signed URLs may only name the keys the registry signs (lib/keys.ts signedScope): an
    // upload's staging keys for PUT, published blobs for GET. One upload id per run.
    const uploadRun = createHash('sha256').update(run).digest('hex').slice(0, 26);
    const hexOf = (tag: string) =>
      createHash('sha256')
        .update(run + tag)
        .digest('hex');
    const staged = (tag: string) => `uploads/${uploadRun}/blobs/${hexOf(tag)}`;
    const publishedKeys = new Set<string>();
    const published = (tag: string) => {
      const key = `blobs/sha256/${hexOf(tag)}`;
      publishedKeys.add(key);
      return key;
    };
    let storage: StorageLayer;
    let origin: string;
    let cleanup: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      const made = await make();
      storage = storageLayer(made.storage);
      cleanup = made.cleanup;
      // S3 ignores the origin; any well-formed one will do there.
      origin = made.origin ?? options.origin ?? 'http://127.0.0.1:9';
    });

    afterAll(async () => {
      if (storage) {
        const left = [...(await storage.list(run)), ...(await storage.list(`uploads/${uploadRun}/`))].map((o) => o.key);
        await pool([...left, ...publishedKeys], 16, (key) => storage.delete(key));
      }
      await cleanup?.();
    });

    describe('reads', () => {
      it('get, head and getStream return what put wrote, with one etag', async () => {
        const key = k('read/object');
        const body = Buffer.from('hello, registry\n');
        const { etag } = await storage.put(key, body);
        expect(etag).toMatch(/\S/);
        expect(etag).not.toMatch(/"/);
        const got = await storage.get(key);
        expect(got.body.equals(body)).toBe(true);
        expect(got).toMatchObject({ key, size: body.length, etag });
        expect(await storage.head(key)).toEqual({ key, size: body.length, etag });
        const streamed = await storage.getStream(key);
        expect(streamed).toMatchObject({ key, size: body.length, etag });
        expect(streamed.range).toBeUndefined();
        expect((await readAll(streamed)).equals(body)).toBe(true);
      });

      it('stores an empty object and a string body', async () => {
        await storage.put(k('read/empty'), Buffer.alloc(0));
        expect((await storage.get(k('read/empty'))).size).toBe(0);
        await storage.put(k('read/text'), 'ünïcode ✓');
        expect((await storage.get(k('read/text'))).body.toString('utf8')).toBe('ünïcode ✓');
      });

      it('getStream honours ranges (inclusive end, open end, end past the size)', async () => {
        const key = k('read/range');
        const body = Buffer.from('0123456789abcdef');
        await storage.put(key, body);
        const mid = await storage.getStream(key, { start: 2, end: 5 });
        expect((await readAll(mid)).toString()).toBe('2345');
        expect(mid.range).toEqual({ start: 2, end: 5, total: 16 });
        // size counts the bytes in this answer (S3's Content-Length); range.total is the object's size.
        expect(mid.size).toBe(4);
        const tail = await storage.getStream(key, { start: 10 });
        expect((await readAll(tail)).toString()).toBe('abcdef');
        expect(tail.range).toEqual({ start: 10, end: 15, total: 16 });
        expect(tail.size).toBe(6);
        const clamped = await storage.getStream(key, { start: 14, end: 1000 });
        expect((await readAll(clamped)).toString()).toBe('ef');
        expect(clamped.range).toEqual({ start: 14, end: 15, total: 16 });
        const first = await storage.getStream(key, { start: 0, end: 0 });
        expect((await readAll(first)).toString()).toBe('0');
      });

      it('missing keys are NotFoundError for every read', async () => {
        const key = k('read/missing');
        await expect(storage.get(key)).rejects.toBeInstanceOf(NotFoundError);
        await expect(storage.head(key)).rejects.toBeInstanceOf(NotFoundError);
        await expect(storage.getStream(key)).rejects.toBeInstanceOf(NotFoundError);
        await expect(storage.getStream(key, { start: 0, end: 1 })).rejects.toBeInstanceOf(NotFoundError);
        await expect(storage.getIfChanged(key, undefined)).rejects.toBeInstanceOf(NotFoundError);
        await expect(storage.getIfChanged(key, 'some-etag')).rejects.toBeInstanceOf(NotFoundError);
      });

      it('getIfChanged returns null only while the etag matches', async () => {
        const key = k('read/if-changed');
        const first = await storage.put(key, 'v1');
        const whole = await storage.getIfChanged(key, undefined);
        expect(whole?.body.toString()).toBe('v1');
        expect(whole?.etag).toBe(first.etag);
        expect(await storage.getIfChanged(key, first.etag)).toBeNull();
        const second = await storage.put(key, 'v2 longer');
        expect(second.etag).not.toBe(first.etag);
        const changed = await storage.getIfChanged(key, first.etag);
        expect(changed?.body.toString()).toBe('v2 longer');
        expect(changed?.etag).toBe(second.etag);
        expect(await storage.getIfChanged(key, second.etag)).toBeNull();
      });
    });

    describe('conditional put', () => {
      it('plain put overwrites and changes the etag', async () => {
        const key = k('put/plain');
        const a = await storage.put(key, 'first');
        const b = await storage.put(key, 'second, different');
        expect(b.etag).not.toBe(a.etag);
        expect((await storage.get(key)).body.toString()).toBe('second, different');
      });

      it("ifNoneMatch '*' creates once, then AlreadyExistsError leaves the object alone", async () => {
        const key = k('put/create-only');
        const created = await storage.put(key, 'original', { ifNoneMatch: '*' });
        expect((await storage.head(key)).etag).toBe(created.etag);
        await expect(storage.put(key, 'intruder', { ifNoneMatch: '*' })).rejects.toBeInstanceOf(AlreadyExistsError);
        const now = await storage.get(key);
        expect(now.body.toString()).toBe('original');
        expect(now.etag).toBe(created.etag);
      });

      it('ifMatch with the current etag replaces and returns the new etag', async () => {
        const key = k('put/cas');
        const v1 = await storage.put(key, 'v1');
        const v2 = await storage.put(key, 'v2-longer', { ifMatch: v1.etag });
        expect(v2.etag).not.toBe(v1.etag);
        const now = await storage.get(key);
        expect(now.body.toString()).toBe('v2-longer');
        expect(now.etag).toBe(v2.etag);
      });

      it('ifMatch with a stale etag is PreconditionFailedError and changes nothing', async () => {
        const key = k('put/cas-stale');
        const v1 = await storage.put(key, 'v1');
        const v2 = await storage.put(key, 'v2-other');
        await expect(storage.put(key, 'v3', { ifMatch: v1.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
        const now = await storage.get(key);
        expect(now.body.toString()).toBe('v2-other');
        expect(now.etag).toBe(v2.etag);
      });

      it('ifMatch on a missing key is PreconditionFailedError and creates nothing', async () => {
        const key = k('put/cas-missing');
        const other = await storage.put(k('put/cas-missing-donor'), 'x');
        await expect(storage.put(key, 'v1', { ifMatch: other.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
        await expect(storage.head(key)).rejects.toBeInstanceOf(NotFoundError);
      });

      it('8 concurrent create-only puts of one key: exactly one wins', async () => {
        const key = k('race/create');
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => storage.put(key, `writer-${i}`, { ifNoneMatch: '*' })),
        );
        const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ i, etag: r.value.etag }] : []));
        expect(winners).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected')
            expect(
              [AlreadyExistsError, ConflictError].some((c) => r.reason instanceof c),
              String(r.reason),
            ).toBe(true);
        }
        const now = await storage.get(key);
        expect(now.body.toString()).toBe(`writer-${winners[0].i}`);
        expect(now.etag).toBe(winners[0].etag);
      });

      it('8 concurrent compare-and-swaps from one etag: exactly one wins', async () => {
        const key = k('race/cas');
        const base = await storage.put(key, 'base');
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => storage.put(key, `swapper-${i}`, { ifMatch: base.etag })),
        );
        const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ i, etag: r.value.etag }] : []));
        expect(winners).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected')
            expect(
              [PreconditionFailedError, ConflictError].some((c) => r.reason instanceof c),
              String(r.reason),
            ).toBe(true);
        }
        const now = await storage.get(key);
        expect(now.body.toString()).toBe(`swapper-${winners[0].i}`);
        expect(now.etag).toBe(winners[0].etag);
      });
    });

    describe('list', () => {
      const dir = k('list/');
      // Chosen so that byte order differs from "directories first" and from case-insensitive order.
      const names = ['b0', 'a/c/d', 'B', 'a.b', 'aB', 'a/b', 'a0', 'b/c/d', 'a-b'];
      const sorted = ['B', 'a-b', 'a.b', 'a/b', 'a/c/d', 'a0', 'aB', 'b/c/d', 'b0'];

      beforeAll(async () => {
        await pool(names, 4, (n) => storage.put(dir + n, `content of ${n}`));
      });

      it('returns every key under the prefix in ascending byte order, with size and etag', async () => {
        const listed = await storage.list(dir);
        expect(listed.map((o) => o.key)).toEqual(sorted.map((n) => dir + n));
        for (const o of listed) expect(o).toEqual(await storage.head(o.key));
        expect(listed[0].size).toBe('content of B'.length);
      });

      it('a prefix may end inside a segment or at a slash', async () => {
        expect((await storage.list(dir + 'a')).map((o) => o.key)).toEqual(['a-b', 'a.b', 'a/b', 'a/c/d', 'a0', 'aB'].map((n) => dir + n));
        expect((await storage.list(dir + 'a/')).map((o) => o.key)).toEqual([dir + 'a/b', dir + 'a/c/d']);
        expect(await storage.list(dir + 'nothing-here')).toEqual([]);
        expect(await storage.list(k('no-such-dir/'))).toEqual([]);
      });

      it('startAfter skips keys up to and including it, even when it is not a key', async () => {
        const after = async (s: string) => (await storage.list(dir, { startAfter: dir + s })).map((o) => o.key.slice(dir.length));
        expect(await after('a/b')).toEqual(['a/c/d', 'a0', 'aB', 'b/c/d', 'b0']);
        expect(await after('a/c')).toEqual(['a/c/d', 'a0', 'aB', 'b/c/d', 'b0']);
        expect(await after('a/')).toEqual(['a/b', 'a/c/d', 'a0', 'aB', 'b/c/d', 'b0']);
        expect(await after('a/c/d')).toEqual(['a0', 'aB', 'b/c/d', 'b0']);
        expect(await after('b0')).toEqual([]);
        expect(await after('')).toEqual(sorted);
      });

      it('limit caps the answer; limit and startAfter page through', async () => {
        expect((await storage.list(dir, { limit: 3 })).map((o) => o.key)).toEqual(sorted.slice(0, 3).map((n) => dir + n));
        expect((await storage.list(dir, { startAfter: dir + 'a/b', limit: 2 })).map((o) => o.key)).toEqual([dir + 'a/c/d', dir + 'a0']);
      });

      it('pages past 1000 keys', async () => {
        // S3 answers at most 1000 keys a request. 1002 keys take every listing below past that
        // page, with as few writes as that needs: the writes are most of this test's time.
        const page = k('paging/');
        const all = Array.from({ length: 1002 }, (_, i) => `${page}${String(i).padStart(5, '0')}`);
        await pool(all, 16, (key) => storage.put(key, 'x'));
        expect((await storage.list(page)).map((o) => o.key)).toEqual(all);
        expect((await storage.list(page, { limit: 1001 })).map((o) => o.key)).toEqual(all.slice(0, 1001));
        // startAfter on the first page only: S3 ignores it once a continuation token is given.
        expect((await storage.list(page, { startAfter: all[0] })).map((o) => o.key)).toEqual(all.slice(1));
        expect((await storage.list(page, { startAfter: all[999] })).map((o) => o.key)).toEqual(all.slice(1000));
        const paged: string[] = [];
        for (let after: string | undefined; ; ) {
          const batch = await storage.list(page, { startAfter: after, limit: 400 });
          if (batch.length === 0) break;
          paged.push(...batch.map((o) => o.key));
          after = batch[batch.length - 1].key;
        }
        expect(paged).toEqual(all);
      });
    });

    describe('delete', () => {
      it('removes the object; absent keys are fine', async () => {
        const key = k('delete/object');
        await storage.put(key, 'doomed');
        await storage.delete(key);
        await expect(storage.get(key)).rejects.toBeInstanceOf(NotFoundError);
        expect(await storage.list(k('delete/'))).toEqual([]);
        await expect(storage.delete(key)).resolves.toBeUndefined();
        await expect(storage.delete(k('delete/never-existed'))).resolves.toBeUndefined();
      });

      it('a deleted key can be created again create-only', async () => {
        const key = k('delete/recreate');
        await storage.put(key, 'one', { ifNoneMatch: '*' });
        await storage.delete(key);
        await storage.put(key, 'two', { ifNoneMatch: '*' });
        expect((await storage.get(key)).body.toString()).toBe('two');
      });
    });

    describe('copy', () => {
      it('copies bytes; the copy is a snapshot of the source', async () => {
        const source = k('copy/source');
        const target = k('copy/target');
        await storage.put(source, 'original bytes');
        const { etag } = await storage.copy(source, target);
        expect((await storage.head(target)).etag).toBe(etag);
        expect((await storage.get(target)).body.toString()).toBe('original bytes');
        await storage.put(source, 'replaced later');
        expect((await storage.get(target)).body.toString()).toBe('original bytes');
      });

      it('overwrites an existing target', async () => {
        await storage.put(k('copy/src2'), 'new');
        await storage.put(k('copy/dst2'), 'old contents');
        await storage.copy(k('copy/src2'), k('copy/dst2'));
        expect((await storage.get(k('copy/dst2'))).body.toString()).toBe('new');
      });

      it('ifSourceEtag: current copies, stale is PreconditionFailedError and writes nothing', async () => {
        const source = k('copy/cond-source');
        const v1 = await storage.put(source, 'verified');
        await storage.copy(source, k('copy/cond-ok'), { ifSourceEtag: v1.etag });
        expect((await storage.get(k('copy/cond-ok'))).body.toString()).toBe('verified');
        await storage.put(source, 'swapped after verification');
        await expect(storage.copy(source, k('copy/cond-stale'), { ifSourceEtag: v1.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
        await expect(storage.head(k('copy/cond-stale'))).rejects.toBeInstanceOf(NotFoundError);
      });

      it('a missing source is NotFoundError', async () => {
        await expect(storage.copy(k('copy/absent'), k('copy/never'))).rejects.toBeInstanceOf(NotFoundError);
        await expect(storage.head(k('copy/never'))).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    describe('signed URLs', () => {
      it('signPut takes the bytes, signGet gives them back', async () => {
        const key = staged('object');
        const body = randomBytes(70_000);
        const put = await fetch(await storage.signPut(key, { origin, expiresIn: 300 }), { method: 'PUT', body });
        expect(put.status).toBe(200);
        expect((await storage.get(key)).body.equals(body)).toBe(true);
        const target = published('object');
        await storage.copy(key, target);
        const get = await fetch(await storage.signGet(target, { origin, expiresIn: 300 }));
        expect(get.status).toBe(200);
        expect(Buffer.from(await get.arrayBuffer()).equals(body)).toBe(true);
      });

      it('signGet with a filename sets Content-Disposition', async () => {
        const key = published('named');
        await storage.put(key, 'named');
        const get = await fetch(await storage.signGet(key, { origin, expiresIn: 300, filename: 'package-1.0.tgz' }));
        expect(get.status).toBe(200);
        expect(get.headers.get('content-disposition')).toContain('package-1.0.tgz');
        expect(await get.text()).toBe('named');
      });

      it('a tampered signature or key is refused with 403', async () => {
        const key = published('guarded-a');
        const target = staged('guarded-a');
        await storage.put(key, 'guarded');
        await storage.put(target, 'guarded');
        const putUrl = await storage.signPut(target, { origin, expiresIn: 300 });
        const getUrl = await storage.signGet(key, { origin, expiresIn: 300 });
        for (const url of [tamperSignature(putUrl), tamperKey(putUrl)]) {
          expect((await fetch(url, { method: 'PUT', body: 'forged' })).status).toBe(403);
        }
        for (const url of [tamperSignature(getUrl), tamperKey(getUrl)]) {
          const res = await fetch(url);
          await res.arrayBuffer();
          expect(res.status).toBe(403);
        }
        expect((await storage.get(key)).body.toString()).toBe('guarded');
        expect((await storage.get(target)).body.toString()).toBe('guarded');
        const retargeted = target.slice(0, -1) + (target.endsWith('a') ? 'b' : 'a');
        await expect(storage.head(retargeted)).rejects.toBeInstanceOf(NotFoundError);
      });

      it('a GET URL does not allow PUT', async () => {
        const key = published('read-only');
        await storage.put(key, 'read only');
        const res = await fetch(await storage.signGet(key, { origin, expiresIn: 300 }), { method: 'PUT', body: 'overwrite' });
        expect(res.status).toBe(403);
        expect((await storage.get(key)).body.toString()).toBe('read only');
      });

      it('an expired URL is refused with 403', async () => {
        const key = published('expiring');
        const target = staged('expiring');
        await storage.put(key, 'short-lived');
        await storage.put(target, 'short-lived');
        const getUrl = await storage.signGet(key, { origin, expiresIn: 1 });
        const putUrl = await storage.signPut(target, { origin, expiresIn: 1 });
        await sleep(2_500);
        const get = await fetch(getUrl);
        await get.arrayBuffer();
        expect(get.status).toBe(403);
        expect((await fetch(putUrl, { method: 'PUT', body: 'late' })).status).toBe(403);
        expect((await storage.get(key)).body.toString()).toBe('short-lived');
        expect((await storage.get(target)).body.toString()).toBe('short-lived');
      });
    });

    describe('multipart', () => {
      it('parts PUT to signed URLs are listed and assembled in order', async () => {
        const key = staged('multipart-assembled');
        const uploadId = await storage.createMultipart(key);
        expect(await storage.listParts(key, uploadId)).toEqual([]);
        const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1000)];
        const etags = new Map<number, string>();
        // Out of order and at once, as a parallel client sends them.
        await Promise.all(
          [3, 1, 2].map(async (n) => {
            const url = await storage.signPart(key, uploadId, n, { origin, expiresIn: 300 });
            const res = await fetch(url, { method: 'PUT', body: parts[n - 1] });
            expect(res.status).toBe(200);
            etags.set(n, (res.headers.get('etag') ?? '').replace(/"/g, ''));
          }),
        );
        const listed = await storage.listParts(key, uploadId);
        expect(listed.map((p) => [p.partNumber, p.size])).toEqual([
          [1, 5 * MiB],
          [2, 5 * MiB],
          [3, 1000],
        ]);
        for (const p of listed) expect(p.etag).toBe(etags.get(p.partNumber));
        const { etag } = await storage.completeMultipart(key, uploadId, listed);
        const got = await storage.get(key);
        expect(got.etag).toBe(etag);
        expect(got.body.equals(Buffer.concat(parts))).toBe(true);
        await expect(storage.listParts(key, uploadId)).rejects.toBeInstanceOf(NotFoundError);
      });

      it('abortMultipart drops the upload; aborting again is fine', async () => {
        const key = staged('multipart-aborted');
        const uploadId = await storage.createMultipart(key);
        const url = await storage.signPart(key, uploadId, 1, { origin, expiresIn: 300 });
        expect((await fetch(url, { method: 'PUT', body: randomBytes(1000) })).status).toBe(200);
        expect(await storage.listParts(key, uploadId)).toHaveLength(1);
        await storage.abortMultipart(key, uploadId);
        await expect(storage.listParts(key, uploadId)).rejects.toBeInstanceOf(NotFoundError);
        await expect(storage.abortMultipart(key, uploadId)).resolves.toBeUndefined();
        await expect(storage.head(key)).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    describe('base layer', () => {
      const bad = ['', '/abs', 'a//b', 'a/../b', '../escape', 'a/./b', '.tmp/x', 'back\\slash', 'nul\u0000', 'x'.repeat(1025)];

      it('refuses keys lib/keys.ts cannot build before the driver sees them, and counts no request', async () => {
        const before = storage.requests();
        for (const key of bad) {
          await expect(storage.put(key, 'x'), key).rejects.toBeInstanceOf(InvalidKeyError);
          await expect(storage.get(key), key).rejects.toBeInstanceOf(InvalidKeyError);
          await expect(storage.head(key), key).rejects.toBeInstanceOf(InvalidKeyError);
          await expect(storage.copy(k('fine'), key), key).rejects.toBeInstanceOf(InvalidKeyError);
          await expect(storage.signPut(key, { origin, expiresIn: 60 }), key).rejects.toBeInstanceOf(InvalidKeyError);
          await expect(storage.createMultipart(key), key).rejects.toBeInstanceOf(InvalidKeyError);
        }
        await expect(storage.list('../')).rejects.toBeInstanceOf(InvalidKeyError);
        expect(storage.requests()).toBe(before);
      });

      it(`keeps part numbers to 1..${MAX_PART_NUMBER} when signing and assembling`, async () => {
        const key = staged('multipart-limits');
        const uploadId = await storage.createMultipart(key);
        for (const n of [0, -1, 1.5, MAX_PART_NUMBER + 1]) {
          await expect(storage.signPart(key, uploadId, n, { origin, expiresIn: 60 }), String(n)).rejects.toMatchObject({
            type: 'InvalidPart',
          });
          await expect(storage.completeMultipart(key, uploadId, [{ partNumber: n, etag: 'x', size: 1 }])).rejects.toMatchObject({
            type: 'InvalidPart',
          });
        }
        await expect(storage.signPart(key, uploadId, MAX_PART_NUMBER, { origin, expiresIn: 60 })).resolves.toMatch(/^https?:/);
        await storage.abortMultipart(key, uploadId);
      });

      it('counts store requests per operation; signing is not a request', async () => {
        const counted = storageLayer(storage.driver);
        const key = k('layer/counted');
        await counted.put(key, 'one');
        await counted.get(key);
        await counted.head(key);
        await counted.signGet(published('layer-counted'), { origin, expiresIn: 60 });
        await counted.list(k('layer/'));
        await expect(counted.get(k('layer/missing'))).rejects.toBeInstanceOf(NotFoundError);
        expect(counted.requests()).toBe(5);
        expect(counted.counts()).toEqual({ put: 1, get: 2, head: 1, list: 1 });
      });

      it('says who serves its signed URLs', () => {
        expect(['store', 'registry']).toContain(storage.urls.servedBy);
        expect(storage.urls.servedBy === 'registry').toBe(storage.kind === 'file');
      });

      it("hands over the driver's If-Match form (S3; the filesystem has one form), which the probe switches through it", async () => {
        expect(storage.conditionalWrites).toBe(storage.driver.conditionalWrites);
        expect(storage.conditionalWrites === undefined).toBe(storage.kind === 'file');
        const conditions = storage.conditionalWrites;
        if (conditions) {
          const found = (await runProbe(storage)).etagForm;
          conditions.etagForm = found === 'quoted' ? 'unquoted' : 'quoted';
          expect(await runProbe(storage)).toMatchObject({ ok: true, compareAndSwap: true, etagForm: found });
          expect(conditions.etagForm).toBe(found);
        }
      });
    });
  });
}
