/**
 * Garbage collection on both drivers: what it deletes and keeps, and that it never races
 * an add (the fence in the commit log), also when interleaved with adds on purpose.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../lib/catalog/catalog';
import { removeVersion } from '../../lib/catalog/ops';
import { collectGarbage } from '../../lib/gc';
import { keys } from '../../lib/keys';
import type { Registry } from '../../lib/registry';
import type { Storage } from '../../lib/storage/port';
import { Uploads } from '../../lib/uploads/service';
import { registryOver, send } from '../support/inprocess';
import { drivers, type TestStore } from '../support/stores';
import { testBundle, type TestBundle } from '../support/upload';

async function add(registry: Registry, bundle: TestBundle): Promise<{ id: string; done: boolean }> {
  const uploads = new Uploads(registry);
  const view = await uploads.start({ manifest: bundle.manifest }, 'http://registry.test');
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

const exists = (storage: Storage, digest: string) => storage.head(keys.blob(digest)).then(() => true, () => false);

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
    const live = await uploads.start({ manifest: c.manifest }, 'http://registry.test');
    await send(registry.storage, live, c);
    await uploads.complete(live.id, -1); // nothing verified yet: budget spent at once
    const [onlyA, sharedDigest] = [a.manifest.assets.find((x) => x.name === 'only-a.bin')!.digest, a.manifest.assets.find((x) => x.name === 'shared.bin')!.digest];
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
    const view = await uploads.start({ manifest: next.manifest }, 'http://registry.test');
    expect(view.blobs[0].present).toBe(true); // nothing to send, as far as the client knows
    // A collector that listed the uploads before this one began takes the blob.
    expect((await collectGarbage(registryOver(blindToUploads(s.another())), { graceMs: 0 })).blobsDeleted).toBe(1);
    await expect(uploads.complete(view.id)).rejects.toMatchObject({ type: 'BlobMissing' });
    const again = await uploads.status(view.id, 'http://registry.test');
    expect(again.status).toBe('Uploading');
    await send(registry.storage, again, next);
    expect((await uploads.complete(view.id)).done).toBe(true);
    expect(await exists(s.storage, next.manifest.blobs[0].digest)).toBe(true);
  });

  it('a collection that starts between an add\'s blob check and its commit sends the add back to check again', async () => {
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
    const view = await uploads.start({ manifest: next.manifest }, 'http://registry.test');
    armed = true; // race during complete's check, not during start
    await expect(uploads.complete(view.id)).rejects.toMatchObject({ type: 'BlobMissing' });
    expect(raced).toBe(true);
    expect((await new Catalog(s.another()).read()).state.versions).toEqual([]);
    await send(registry.storage, await uploads.status(view.id, 'http://registry.test'), next);
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
          await add(registry, testBundle(`churn-${i}`, '1.0.0', { 'shared.bin': shared, 'own.bin': randomBytes(200) }));
          await removeVersion(registry.catalog, `churn-${i}`, '1.0.0');
          for (;;) {
            try {
              return await add(registry, testBundle(`keep-${i}`, '1.0.0', { 'shared.bin': shared }));
            } catch (error) {
              if ((error as { type?: string }).type !== 'BlobMissing') throw error;
              // The collector took the shared blob: start over, as the CLI would.
            }
          }
        })(),
      );
      work.push(collectGarbage(registryOver(blindToUploads(s.another())), { graceMs: 0 }).catch((e) => {
        if ((e as { type?: string }).type !== 'UploadStateConflict') throw e;
      }));
    }
    await Promise.all(work);
    await collectGarbage(registryOver(s.another()), { graceMs: 0 });
    const { state } = await new Catalog(s.another()).read();
    expect(state.versions.map((v) => v.name).sort()).toEqual(Array.from({ length: 6 }, (_, i) => `keep-${i}`));
    for (const v of state.versions) for (const blob of v.blobs) expect(await exists(s.storage, blob.digest)).toBe(true);
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
});
