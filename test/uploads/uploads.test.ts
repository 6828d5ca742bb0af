/**
 * The upload service in-process on both drivers: complete in bounded, resumable steps
 * (hash state carried across calls), the sweeper finishing uploads nobody drives and
 * failing expired ones, abort, and the copy that only lands verified bytes.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keys } from '../../lib/keys';
import type { Registry } from '../../lib/registry';
import { UPLOAD_TTL_MS, Uploads } from '../../lib/uploads/service';
import { registryOver, send } from '../support/inprocess';
import { drivers, type TestStore } from '../support/stores';
import { testBundle } from '../support/upload';
import type { CompleteProgress } from '../../lib/uploads/wire';

const registryOn = (store: TestStore): Registry => registryOver(store.another());

describe.each(drivers)('uploads on $name storage', ({ make }) => {
  /**
   * Uploads one 24 MiB asset and calls complete with `budget` until it is done (at most
   * 10,000 calls), on a clock that advances `tick` ms per reading.
   */
  async function completeInSteps(store: TestStore, name: string, tick: number, budget: number) {
    const registry = registryOn(store);
    const asset = randomBytes(24 * 1024 * 1024 + 5);
    const bundle = testBundle(name, '1.0.0', { 'big.bin': asset });
    let clock = 0;
    const uploads = new Uploads(registry, () => (clock += tick));
    const view = await uploads.start({ manifest: bundle.manifest });
    await send(registry.storage, view, bundle);
    const results: Awaited<ReturnType<Uploads['complete']>>[] = [];
    do results.push(await uploads.complete(view.id, budget));
    while (!results.at(-1)!.done && results.length < 10_000);
    const stored = await registry.storage.get(keys.blob(bundle.manifest.blobs[0].digest));
    return { registry, view, results, result: results.at(-1)!, landed: stored.body.equals(asset) };
  }

  it('complete works in bounded steps and resumes hashing where it stopped', async () => {
    const store = await make();
    // A clock that advances 1 ms per reading: a 30 ms budget ends each step after about 30 chunks
    // of the 24 MiB (a dozen steps; each step costs several store requests, so not hundreds).
    const { registry, view, results, result, landed } = await completeInSteps(store, 'steps', 1, 30);
    const pending = results.filter((x) => !x.done).map((r) => r.body as CompleteProgress);
    for (const body of pending) expect(body).toMatchObject({ status: 'Processing' });
    // Every step hashes on from where the last one stopped (its saved state), never from the start.
    const hashed = pending.map((body) => body.progress.verifiedBytes);
    for (let i = 1; i < hashed.length; i++) expect(hashed[i]).toBeGreaterThan(hashed[i - 1]);
    expect(result.done).toBe(true);
    expect(result.body).toMatchObject({ name: 'steps', version: '1.0.0', status: 'Added' });
    expect(results.length).toBeGreaterThan(3);
    expect(landed).toBe(true);
    // Staged bytes are gone once committed.
    expect(await registry.storage.list(`${keys.uploadPrefix(view.id)}blobs/`)).toEqual([]);
    await store.cleanup();
  });

  it('a fast read-back that would not end in its step gives way to the resumable hasher', async () => {
    const store = await make();
    // 20 ms per clock reading and a 2 s budget: the fast (non-resumable) hasher starts, finds
    // after its probe that it would overrun the step, and the call continues resumably.
    const { results, result, landed } = await completeInSteps(store, 'slow', 20, 2000);
    expect(result.body).toMatchObject({ name: 'slow', version: '1.0.0', status: 'Added' });
    expect(results.length).toBeGreaterThan(1);
    expect(landed).toBe(true);
    await store.cleanup();
  });

  it('the sweeper finishes uploads nobody drives and fails expired ones', async () => {
    const store = await make();
    const registry = registryOn(store);
    let now = Date.now();
    const uploads = new Uploads(registry, () => now);
    const done = testBundle('swept', '1.0.0', { 'a.bin': randomBytes(1000) });
    const v1 = await uploads.start({ manifest: done.manifest });
    await send(registry.storage, v1, done);
    const abandoned = testBundle('abandoned', '1.0.0', { 'b.bin': randomBytes(1000) });
    const v2 = await uploads.start({ manifest: abandoned.manifest });
    expect(await uploads.sweep()).toEqual({ finished: 1, failed: 0, pending: 1 });
    expect((await registry.catalog.read()).state.versions.map((v) => v.name)).toEqual(['swept']);
    now += UPLOAD_TTL_MS + 1000;
    expect(await uploads.sweep()).toEqual({ finished: 0, failed: 1, pending: 0 });
    const status = await uploads.status(v2.id);
    expect(status).toMatchObject({ status: 'Failed', error: { type: 'UploadExpired' } });
    expect(status.blobs.every((b) => !b.upload)).toBe(true);
    await store.cleanup();
  });

  it('abort drops the staged bytes; an aborted upload cannot complete', async () => {
    const store = await make();
    const registry = registryOn(store);
    const uploads = new Uploads(registry);
    const bundle = testBundle('aborted', '1.0.0', { 'a.bin': randomBytes(9 * 1024 * 1024) });
    const view = await uploads.start({ manifest: bundle.manifest });
    await send(registry.storage, view, bundle);
    await uploads.abort(view.id);
    expect(await registry.storage.list(keys.uploadPrefix(view.id))).toEqual([
      expect.objectContaining({ key: keys.uploadSession(view.id) }),
    ]);
    await expect(uploads.complete(view.id)).rejects.toMatchObject({ type: 'UploadAborted' });
    expect((await registry.catalog.read()).state.versions).toEqual([]);
    await store.cleanup();
  });

  it('bytes replaced after hashing never reach the blob area', async () => {
    const store = await make();
    const registry = registryOn(store);
    const asset = randomBytes(2000);
    const bundle = testBundle('swap', '1.0.0', { 'a.bin': asset });
    const uploads = new Uploads(registry);
    const view = await uploads.start({ manifest: bundle.manifest });
    await send(registry.storage, view, bundle);
    const digest = bundle.manifest.blobs[0].digest;
    const staged = keys.uploadBlob(view.id, digest);
    // The client re-PUTs other bytes through its still valid URL just before the bytes land.
    const storage = registry.storage;
    const realCopy = storage.copy.bind(storage);
    storage.copy = async (source, target, options) => {
      if (target === keys.blob(digest)) await storage.put(staged, randomBytes(2000));
      return realCopy(source, target, options);
    };
    const done = await uploads.complete(view.id);
    expect(done.done).toBe(true);
    expect((await storage.get(keys.blob(digest))).body.equals(asset)).toBe(true);
    await store.cleanup();
  });
});
