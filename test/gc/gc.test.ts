/**
 * Garbage collection on both drivers: what it deletes and keeps, and that it never races
 * an add (the fence in the commit log), also when interleaved with adds on purpose.
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../lib/catalog/catalog';
import { addVersion, removeVersion } from '../../lib/catalog/ops';
import { CommitUncertainError } from '../../lib/errors';
import { collectGarbage, type GcResult, truncateLog } from '../../lib/gc';
import { keys } from '../../lib/keys';
import type { Registry } from '../../lib/registry';
import type { Storage } from '../../lib/storage/port';
import { UPLOAD_TTL_MS, Uploads } from '../../lib/uploads/service';
import { describe as describeVersion, indexUpload } from '../../lib/packages';
import { registryOver, send } from '../support/inprocess';
import { drivers, type TestStore } from '../support/stores';
import { testBundle, type TestBundle } from '../support/upload';
import { catalogEntry } from '../support/fixtures';
import { viaLambda } from '../repo/lambda-view';

async function add(registry: Registry, bundle: TestBundle): Promise<{ id: string; done: boolean }> {
  const uploads = new Uploads(registry);
  const view = await uploads.start({ manifest: bundle.manifest });
  await send(registry.storage, view, bundle);
  for (;;) {
    const r = await uploads.complete(view.id);
    if (r.done) return { id: view.id, done: true };
  }
}

/** A storage whose listing of uploads is empty: a collector that listed before the upload began. */
function blindToUploads(inner: Storage): Storage {
  const s = Object.create(inner) as Storage;
  s.list = (prefix, options) => (prefix === keys.uploadsPrefix() ? Promise.resolve([]) : inner.list(prefix, options));
  return s;
}

const exists = (storage: Storage, digest: string) =>
  storage.head(keys.blob(digest)).then(
    () => true,
    () => false,
  );

describe.each(drivers)('garbage collection on $name storage', ({ make }) => {
  const stores: TestStore[] = [];
  const fresh = async () => {
    const s = await make();
    stores.push(s);
    return s;
  };

  it('deletes blobs no version needs, keeps the others and those of live uploads', async () => {
    const s = await fresh();
    const registry = registryOver(s.another());
    const shared = randomBytes(500);
    const a = testBundle('gc-a', '1.0.0', { 'shared.bin': shared, 'only-a.bin': randomBytes(500) });
    const b = testBundle('gc-b', '1.0.0', { 'shared.bin': shared });
    await add(registry, a);
    await add(registry, b);
    await removeVersion(registry.catalog, 'gc-a', '1.0.0');
    // A live upload protects its blobs even before they are committed.
    const c = testBundle('gc-c', '1.0.0', { 'c.bin': randomBytes(500) });
    const uploads = new Uploads(registry);
    const live = await uploads.start({ manifest: c.manifest });
    await send(registry.storage, live, c);
    await uploads.complete(live.id, -1); // nothing verified yet: budget spent at once
    const [onlyA, sharedDigest] = [
      a.manifest.assets.find((x) => x.name === 'only-a.bin')!.digest,
      a.manifest.assets.find((x) => x.name === 'shared.bin')!.digest,
    ];
    const result = await collectGarbage(registryOver(s.another()), { graceMs: 0 });
    expect(result).toMatchObject({ blobsDeleted: 1, bytesFreed: 500, uploadsDeleted: 2, resumed: false });
    expect(await exists(registry.storage, onlyA)).toBe(false);
    expect(await exists(registry.storage, sharedDigest)).toBe(true);
    expect((await uploads.complete(live.id)).done).toBe(true);
    // Finished sessions go after the grace period; the catalog needs nothing they hold.
    const later = await collectGarbage(registryOver(s.another()), { graceMs: 0 });
    expect(later.uploadsDeleted).toBe(1);
    expect(await s.storage.list(keys.uploadsPrefix())).toEqual([]);
    const { state } = await new Catalog(s.another()).read();
    for (const v of state.versions) for (const blob of v.blobs) expect(await exists(s.storage, blob.digest)).toBe(true);
  });

  it('an add that relied on a blob a collector took re-uploads it before it is Added', async () => {
    const s = await fresh();
    const registry = registryOver(s.another());
    const bytes = randomBytes(700);
    await add(registry, testBundle('old', '1.0.0', { 'x.bin': bytes }));
    await removeVersion(registry.catalog, 'old', '1.0.0');
    const next = testBundle('new', '1.0.0', { 'x.bin': bytes });
    const uploads = new Uploads(registry);
    const view = await uploads.start({ manifest: next.manifest });
    expect(view.blobs[0].present).toBe(true); // nothing to send, as far as the client knows
    // A collector that listed the uploads before this one began takes the blob.
    expect((await collectGarbage(registryOver(blindToUploads(s.another())), { graceMs: 0 })).blobsDeleted).toBe(1);
    await expect(uploads.complete(view.id)).rejects.toMatchObject({ type: 'BlobMissing' });
    const again = await uploads.status(view.id);
    expect(again.status).toBe('Uploading');
    await send(registry.storage, again, next);
    expect((await uploads.complete(view.id)).done).toBe(true);
    expect(await exists(s.storage, next.manifest.blobs[0].digest)).toBe(true);
  });

  it("a collection that starts between an add's blob check and its commit sends the add back to check again", async () => {
    const s = await fresh();
    const bytes = randomBytes(600);
    const setup = registryOver(s.another());
    await add(setup, testBundle('old2', '1.0.0', { 'y.bin': bytes }));
    await removeVersion(setup.catalog, 'old2', '1.0.0');
    const next = testBundle('new2', '1.0.0', { 'y.bin': bytes });
    const digest = next.manifest.blobs[0].digest;
    // The add's storage runs a whole collection right after answering "present" for the blob.
    const inner = s.another();
    const racing = Object.create(inner) as Storage;
    let armed = false;
    let raced = false;
    racing.head = async (key) => {
      const info = await inner.head(key);
      if (armed && !raced && key === keys.blob(digest)) {
        raced = true;
        await collectGarbage(registryOver(blindToUploads(s.another())), { graceMs: 0 });
      }
      return info;
    };
    const registry = registryOver(racing);
    const uploads = new Uploads(registry);
    const view = await uploads.start({ manifest: next.manifest });
    armed = true; // race during complete's check, not during start
    await expect(uploads.complete(view.id)).rejects.toMatchObject({ type: 'BlobMissing' });
    expect(raced).toBe(true);
    expect((await new Catalog(s.another()).read()).state.versions).toEqual([]);
    await send(registry.storage, await uploads.status(view.id), next);
    expect((await uploads.complete(view.id)).done).toBe(true);
    expect(await exists(s.storage, digest)).toBe(true);
  });

  it('interleaved collections and adds: every added version keeps all its blobs', async () => {
    const s = await fresh();
    const shared = randomBytes(300);
    const work: Array<Promise<unknown>> = [];
    for (let i = 0; i < 6; i++) {
      const registry = registryOver(s.another());
      work.push(
        (async () => {
          const addRetrying = async (bundle: TestBundle) => {
            for (;;) {
              try {
                return await add(registry, bundle);
              } catch (error) {
                if ((error as { type?: string }).type !== 'BlobMissing') throw error;
                // The collector (blind to uploads) took the shared blob: start over, as the CLI would.
              }
            }
          };
          await addRetrying(testBundle(`churn-${i}`, '1.0.0', { 'shared.bin': shared, 'own.bin': randomBytes(200) }));
          await removeVersion(registry.catalog, `churn-${i}`, '1.0.0');
          return addRetrying(testBundle(`keep-${i}`, '1.0.0', { 'shared.bin': shared }));
        })(),
      );
      work.push(
        collectGarbage(registryOver(blindToUploads(s.another())), { graceMs: 0 }).catch((e) => {
          if ((e as { type?: string }).type !== 'UploadStateConflict') throw e;
        }),
      );
    }
    await Promise.all(work);
    await collectGarbage(registryOver(s.another()), { graceMs: 0 });
    const { state } = await new Catalog(s.another()).read();
    expect(state.versions.map((v) => v.name).sort()).toEqual(Array.from({ length: 6 }, (_, i) => `keep-${i}`));
    for (const v of state.versions) for (const blob of v.blobs) expect(await exists(s.storage, blob.digest)).toBe(true);
  });

  it('upload-index markers of ended uploads (committed, aborted, expired) go with their sessions; a live upload keeps its marker', async () => {
    const s = await fresh();
    const registry = registryOver(s.another());
    const markers = async () => (await s.storage.list(keys.uploadIndexRoot())).map((o) => o.key).sort();
    const committed = await add(registry, testBundle('idx-added', '1.0.0', { 'a.bin': randomBytes(300) }));
    const uploads = new Uploads(registry);
    const aborted = await uploads.start({ manifest: testBundle('idx-aborted', '1.0.0', { 'b.bin': randomBytes(300) }).manifest });
    await uploads.abort(aborted.id);
    // Expired: nobody sent its bytes, and the sweeper finds it past its expiry (a clock a day ahead).
    let ahead = 0;
    const expiring = new Uploads(registry, () => Date.now() + ahead);
    const expired = await expiring.start({ manifest: testBundle('idx-expired', '1.0.0', { 'c.bin': randomBytes(300) }).manifest });
    ahead = UPLOAD_TTL_MS + 60_000;
    expect(await expiring.sweep()).toMatchObject({ failed: 1 });
    ahead = 0;
    const liveBundle = testBundle('idx-live', '1.0.0', { 'd.bin': randomBytes(300) });
    const live = await uploads.start({ manifest: liveBundle.manifest });
    const marker = (name: string, id: string) => keys.uploadIndexEntry(name, '1.0.0', id);
    expect(await markers()).toEqual(
      [
        marker('idx-added', committed.id),
        marker('idx-aborted', aborted.id),
        marker('idx-expired', expired.id),
        marker('idx-live', live.id),
      ].sort(),
    );

    // Within the grace period nothing goes: describe still answers Failed for the aborted one.
    expect((await collectGarbage(registryOver(s.another()))).uploadMarkersDeleted).toBe(0);
    expect(await describeVersion(registryOver(s.another()), 'idx-aborted', '1.0.0')).toMatchObject({ status: 'Failed' });

    const result = await collectGarbage(registryOver(s.another()), { graceMs: 0 });
    expect(result).toMatchObject({ uploadsDeleted: 3, uploadMarkersDeleted: 3 });
    expect(await markers()).toEqual([marker('idx-live', live.id)]);
    // And on later runs too, while it is live; it still finishes and describes as Added.
    expect((await collectGarbage(registryOver(s.another()), { graceMs: 0 })).uploadMarkersDeleted).toBe(0);
    expect(await describeVersion(registryOver(s.another()), 'idx-live', '1.0.0')).toMatchObject({ status: 'Uploading', uploadId: live.id });
    await send(registry.storage, live, liveBundle);
    for (let r = await uploads.complete(live.id); !r.done; r = await uploads.complete(live.id));
    expect(await describeVersion(registryOver(s.another()), 'idx-live', '1.0.0')).toMatchObject({ status: 'Added' });
  });

  it('a marker without a session goes only when a later run, a grace period on, still finds none; a start in progress keeps it', async () => {
    const s = await fresh();
    let clock = Date.now();
    const gc = () => collectGarbage(registryOver(s.another()), { graceMs: 60_000, now: () => clock });
    // A start that died between writing its marker and creating its session.
    await indexUpload(s.storage, { id: 'o'.repeat(26), name: 'idx-orphan', version: '1.0.0' });
    // A start in progress: a collection runs after its marker is written and before its session is.
    const inner = s.another();
    const starting = Object.create(inner) as Storage;
    let during: GcResult | undefined;
    starting.put = async (key, body, opts) => {
      if (key.endsWith('/session.json') && !during) during = await gc();
      return inner.put(key, body, opts);
    };
    const bundle = testBundle('idx-slow', '1.0.0', { 'e.bin': randomBytes(300) });
    const view = await new Uploads(registryOver(starting)).start({ manifest: bundle.manifest });
    expect(during?.uploadMarkersDeleted).toBe(0);
    clock += 61_000;
    // Only the orphan was without a session on both runs.
    expect((await gc()).uploadMarkersDeleted).toBe(1);
    expect((await s.storage.list(keys.uploadIndexRoot())).map((o) => o.key)).toEqual([keys.uploadIndexEntry('idx-slow', '1.0.0', view.id)]);
    expect(await describeVersion(registryOver(s.another()), 'idx-slow', '1.0.0')).toMatchObject({ status: 'Uploading', uploadId: view.id });
  });

  it('chunks no snapshot names are deleted only on a later run, after the grace period', async () => {
    const s = await fresh();
    const registry = registryOver(s.another());
    for (let i = 0; i < 3; i++) await add(registry, testBundle('chunky', `1.${i}.0`));
    let clock = Date.now();
    const gc = () => collectGarbage(registryOver(s.another()), { graceMs: 60_000, now: () => clock });
    expect((await gc()).chunksDeleted).toBe(0);
    clock += 61_000;
    expect((await gc()).chunksDeleted).toBe(2);
    const { state } = await new Catalog(s.another()).read();
    expect(state.versions).toHaveLength(3);
  });

  it('pre-rendered /repo answers of replaced catalog states go on a later run after the grace period; the current one stays', async () => {
    const s = await fresh();
    const registry = registryOver(s.another());
    // Every answer by redirect (stored renderings are made for a configured public URL only).
    registry.config = { ...registry.config, repoInlineBytes: 0, publicUrl: 'http://registry.test' };
    const repo = async () => {
      const answer = await viaLambda(registry, { origin: 'http://registry.test', acceptEncoding: 'gzip' });
      expect(answer.statusCode).toBe(307);
    };
    const rendered = async () => (await s.storage.list(keys.renderedPrefix())).map((o) => o.key);
    await addVersion(registry.catalog, catalogEntry('shown', '1.0.0'));
    await repo();
    const first = await rendered();
    expect(first).toHaveLength(1);
    await addVersion(registry.catalog, catalogEntry('shown', '2.0.0'));
    await repo();
    let clock = Date.now();
    const gc = () => collectGarbage(registryOver(s.another()), { graceMs: 60_000, now: () => clock });
    expect((await gc()).renderedDeleted).toBe(0);
    clock += 61_000;
    expect((await gc()).renderedDeleted).toBe(1);
    const left = await rendered();
    expect(left).toHaveLength(1);
    expect(left).not.toContain(first[0]);
    expect(JSON.parse(gunzipSync((await s.storage.get(left[0])).body).toString('utf8')).packages).toHaveLength(2);
    // The current state's answer is never collected, however often the collector runs.
    clock += 61_000;
    expect((await gc()).renderedDeleted).toBe(0);
    await repo();
    expect(await rendered()).toEqual(left);
  });

  it('truncates the commit log behind the snapshot: marked on one run, deleted on a run a grace period later', async () => {
    const s = await fresh();
    const writer = new Catalog(s.another());
    for (let i = 0; i < 6; i++) await addVersion(writer, catalogEntry(`trunc-${i % 2}`, `1.${i}.0`));
    await removeVersion(writer, 'trunc-0', '1.0.0');
    let clock = Date.now();
    const gc = () => collectGarbage(registryOver(s.another()), { graceMs: 60_000, now: () => clock });
    const logSeqs = async () => (await s.storage.list(keys.logPrefix())).map((o) => keys.seqOf(o.key));
    expect((await gc()).logEntriesDeleted).toBe(0); // marks seq 7
    await addVersion(writer, catalogEntry('trunc-late', '1.0.0')); // seq 8
    clock += 30_000;
    expect((await gc()).logEntriesDeleted).toBe(0); // the mark is not a grace period old yet
    clock += 31_000;
    expect((await gc()).logEntriesDeleted).toBe(7); // truncate{through: 7} is seq 9
    expect(await logSeqs()).toEqual([8, 9]);
    // Every instance, old or new, reads and writes on as before.
    const fromScratch = new Catalog(s.another());
    const { state } = await fromScratch.read();
    expect(state).toMatchObject({ seq: 9, truncated: 7 });
    expect(state.versions.map((v) => `${v.name}@${v.version}`).sort()).toEqual(
      ['trunc-0@1.2.0', 'trunc-0@1.4.0', 'trunc-1@1.1.0', 'trunc-1@1.3.0', 'trunc-1@1.5.0', 'trunc-late@1.0.0'].sort(),
    );
    expect(await addVersion(writer, catalogEntry('trunc-after', '1.0.0'))).toBe(10);
    expect(await addVersion(fromScratch, catalogEntry('trunc-after', '2.0.0'))).toBe(11);
    // The next due run truncates through its newer mark (9): the log keeps about two grace
    // periods of entries, however long the history.
    clock += 61_000;
    expect((await gc()).logEntriesDeleted).toBe(2);
    expect(await logSeqs()).toEqual([10, 11, 12]);
    expect((await new Catalog(s.another()).read()).state.versions).toHaveLength(8);
  });

  it('a writer stalled past the grace period inside one commit attempt is told its outcome is unknown, and nothing acknowledged is lost', async () => {
    const s = await fresh();
    const others = new Catalog(s.another());
    await addVersion(others, catalogEntry('stall-base', '1.0.0')); // seq 1
    let clock = Date.now();
    const gc = () => collectGarbage(registryOver(s.another()), { graceMs: 60_000, now: () => clock });
    // The stalled writer has read the snapshot (seq 1); before it reads on in the log, the
    // world moves: more commits, a mark, a grace period, a truncation through seq 3.
    const inner = s.another();
    const stalled = Object.create(inner) as Storage;
    let stalledOnce = false;
    stalled.get = async (key) => {
      if (!stalledOnce && key.startsWith(keys.logPrefix())) {
        stalledOnce = true;
        await addVersion(others, catalogEntry('stall-a', '1.0.0')); // 2
        await addVersion(others, catalogEntry('stall-b', '1.0.0')); // 3
        await gc(); // marks 3
        clock += 61_000;
        expect((await gc()).logEntriesDeleted).toBe(3); // truncate{through: 3} is seq 4
      }
      return inner.get(key);
    };
    const w = new Catalog(stalled);
    // It finds log/2 gone and creates it: an entry no snapshot will fold in.
    await expect(addVersion(w, catalogEntry('stall-me', '1.0.0'))).rejects.toBeInstanceOf(CommitUncertainError);
    expect(await s.storage.head(keys.logEntry(2)).then(() => true)).toBe(true);
    const fresh1 = (await new Catalog(s.another()).read()).state;
    expect(fresh1.versions.map((v) => v.name).sort()).toEqual(['stall-a', 'stall-b', 'stall-base']);
    // Its retry commits, and the stray entry goes with the next truncation.
    expect(await addVersion(w, catalogEntry('stall-me', '1.0.0'))).toBe(5);
    clock += 61_000;
    await gc();
    await expect(s.storage.head(keys.logEntry(2))).rejects.toThrow();
    const final = (await new Catalog(s.another()).read()).state;
    expect(final.versions.map((v) => v.name).sort()).toEqual(['stall-a', 'stall-b', 'stall-base', 'stall-me']);
  });

  it('truncation running flat out (no grace) beside 8 writers: every acknowledged add is there, uncertain ones are told so', async () => {
    const s = await fresh();
    const acknowledged: string[] = [];
    let uncertain = 0;
    let running = true;
    const collector = (async () => {
      let runs = 0;
      // Truncation alone: chunk collection needs its grace period (a writer puts its chunks
      // a moment before the snapshot that names them). One instance, as a collector process is.
      const collector = registryOver(s.another());
      while (running || runs < 2) {
        await truncateLog(collector, 0, () => Date.now() + 1);
        runs++;
      }
      return runs;
    })();
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        const c = new Catalog(s.another());
        for (let i = 0; i < 6; i++) {
          const name = `flat-w${w}`;
          try {
            await addVersion(c, catalogEntry(name, `1.${i}.0`));
            acknowledged.push(`${name}@1.${i}.0`);
          } catch (error) {
            if (!(error instanceof CommitUncertainError)) throw error;
            uncertain++;
          }
        }
      }),
    );
    running = false;
    expect(await collector).toBeGreaterThanOrEqual(2);
    const { state } = await new Catalog(s.another()).read();
    const present = new Set(state.versions.map((v) => `${v.name}@${v.version}`));
    for (const a of acknowledged) expect(present.has(a)).toBe(true);
    expect(present.size).toBeLessThanOrEqual(acknowledged.length + uncertain);
    expect(state.truncated).toBeGreaterThan(0);
    const left = (await s.storage.list(keys.logPrefix())).map((o) => keys.seqOf(o.key));
    expect(Math.min(...left)).toBeGreaterThan(0);
    expect(left.length).toBeLessThan(state.seq);
  });
});
