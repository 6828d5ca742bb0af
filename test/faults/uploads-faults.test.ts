/**
 * The upload service killed at each store call of `complete` (lib/uploads/service.ts), then
 * resumed by a fresh instance: it finishes Added, the blob area holds only bytes whose sha256
 * is their name, and nothing of the upload is left staged. One single-PUT blob and one
 * multipart blob (two parts), so every step (seal, assemble, hash, land, commit, clean up)
 * is a kill point.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { collectGarbage } from '../../lib/gc';
import { keys } from '../../lib/keys';
import type { Storage } from '../../lib/storage/port';
import { PART_SIZE, Uploads } from '../../lib/uploads/service';
import { registryOver, send } from '../support/inprocess';
import { drivers, type TestStore } from '../support/stores';
import { testBundle, type TestBundle } from '../support/upload';
import { expectConsistent, has } from './consistency';
import { FaultyStorage, KillError, transientErrors } from './faulty-storage';

async function completeUntilDone(uploads: Uploads, id: string): Promise<unknown> {
  for (let i = 0; i < 100; i++) {
    const r = await uploads.complete(id);
    if (r.done) return r.body;
  }
  throw new Error('complete never finished');
}

/**
 * Every object under blobs/sha256/ holds bytes whose sha256 is its name. `seen` (key → etag)
 * skips objects already hashed and unchanged since, so a long loop stays linear.
 */
async function expectOnlyVerifiedBlobs(storage: Storage, seen = new Map<string, string>()): Promise<string[]> {
  const names: string[] = [];
  for (const o of await storage.list(keys.blobPrefix())) {
    const hex = o.key.slice(keys.blobPrefix().length);
    names.push(hex);
    if (seen.get(o.key) === o.etag) continue;
    const got = await storage.get(o.key);
    expect(createHash('sha256').update(got.body).digest('hex'), o.key).toBe(hex);
    seen.set(o.key, got.etag);
  }
  return names;
}

async function started(store: TestStore, version: string): Promise<{ bundle: TestBundle; id: string }> {
  const registry = registryOver(store.another());
  // Fresh bytes each time: blobs already in the blob area would skip the steps under test.
  const bundle = testBundle('crashy', version, { 'small.bin': randomBytes(3000), 'big.bin': randomBytes(PART_SIZE + 4096) });
  const view = await new Uploads(registry).start({ manifest: bundle.manifest });
  await send(registry.storage, view, bundle);
  return { bundle, id: view.id };
}

describe.each(drivers)('upload faults on $name storage', ({ make }) => {
  it('complete killed at each store call, then resumed by a fresh instance: Added, only verified bytes land, nothing left after GC', {
    timeout: 300_000,
  }, async () => {
    let reached = 0;
    for (let k = 1; k <= 80; k++) {
      // A fresh store per kill point, emptied afterwards: a test S3 server keeps data in RAM.
      const store = await make();
      const seen = new Map<string, string>();
      const version = `1.0.${k}`;
      const { bundle, id } = await started(store, version);
      const faulty = new FaultyStorage(store.another());
      const dying = registryOver(faulty);
      await dying.gate.check(); // the probe is not part of complete
      await dying.catalog.read();
      faulty.armKill(k);
      let finished = false;
      try {
        await completeUntilDone(new Uploads(dying), id);
        finished = true;
      } catch (error) {
        expect(error).toBeInstanceOf(KillError);
      }
      // Between the crash and the resume: nothing unverified in the blob area.
      await expectOnlyVerifiedBlobs(store.another(), seen);
      const fresh = registryOver(store.another());
      const body = (await completeUntilDone(new Uploads(fresh), id)) as { status: string; name: string; version: string };
      expect(body).toMatchObject({ status: 'Added', name: 'crashy', version });
      const blobs = await expectOnlyVerifiedBlobs(store.another(), seen);
      for (const b of bundle.manifest.blobs) expect(blobs).toContain(b.digest.slice(7));
      expect(has(await expectConsistent(store.another()), 'crashy', version)).toBe(true);
      // Staged bytes may outlive a crash between "Added" and the clean-up (complete does not
      // clean up an upload it finds Added); garbage collection removes them and the session.
      await collectGarbage(registryOver(store.another()), { graceMs: 0 });
      expect((await store.another().list(keys.uploadPrefix(id))).map((o) => o.key)).toEqual([]);
      expect(has(await expectConsistent(store.another()), 'crashy', version)).toBe(true);
      const wipe = store.another();
      for (const o of await wipe.list('')) await wipe.delete(o.key);
      await store.cleanup();
      if (finished) {
        reached = k;
        break;
      }
    }
    // complete makes about 40 store calls here (seal, assemble, hash, land, session updates, commit, clean-up).
    expect(reached).toBeGreaterThan(30);
  });

  it('a transient read error while hashing fails the call, not the upload: the next call finishes it', { timeout: 120_000 }, async () => {
    const store = await make();
    const { id } = await started(store, '2.0.0');
    const faulty = new FaultyStorage(store.another());
    faulty.inject({ when: (c) => c.method === 'getStream', error: transientErrors.reset, times: 1 });
    const uploads = new Uploads(registryOver(faulty));
    await expect(uploads.complete(id)).rejects.toThrow('ECONNRESET');
    expect(await completeUntilDone(uploads, id)).toMatchObject({ status: 'Added' });
    await expectOnlyVerifiedBlobs(store.another());
    await store.cleanup();
  });
});
