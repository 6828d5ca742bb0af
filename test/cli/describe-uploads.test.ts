/**
 * describe tracks uploads (issue 13 item 4): a version with an open, processing or failed upload
 * describes as Uploading, Processing or Failed (the reason only with showReason, i.e. to writers),
 * by name and version, from an instance that did not run the upload; Added once committed; not
 * found again after remove. In-process on both drivers (the filesystem driver and Ceph RGW).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { VersionNotFoundError } from '../../lib/errors';
import { describe as describeVersion, remove } from '../../lib/packages';
import { Uploads } from '../../lib/uploads/service';
import { registryOver, send } from '../support/inprocess';
import { drivers } from '../support/stores';
import { testBundle } from '../support/upload';

describe.each(drivers)('describe of uploads on $name storage', ({ make }) => {
  it('Uploading → Processing → Added, seen from another instance; not found after remove', async () => {
    const store = await make();
    const a = registryOver(store.another());
    const b = registryOver(store.another());
    const bundle = testBundle('tracked', '1.0.0', { 'big.bin': randomBytes(20 * 1024 * 1024 + 3) });
    await expect(describeVersion(b, 'tracked', '1.0.0')).rejects.toBeInstanceOf(VersionNotFoundError);

    let clock = 0;
    const uploads = new Uploads(a, () => (clock += 1));
    const view = await uploads.start({ manifest: bundle.manifest });
    expect(await describeVersion(b, 'tracked', '1.0.0')).toMatchObject({
      name: 'tracked',
      version: '1.0.0',
      status: 'Uploading',
      uploadId: view.id,
      progress: { blobs: 1, verified: 0 },
    });
    await send(a.storage, view, bundle);
    // One bounded step (5 ms on a clock that ticks per reading) leaves it Processing.
    const step = await uploads.complete(view.id, 5);
    expect(step.done).toBe(false);
    expect(await describeVersion(b, 'tracked', '1.0.0')).toMatchObject({ status: 'Processing', uploadId: view.id });
    let done = step;
    for (let i = 0; i < 10_000 && !done.done; i++) done = await uploads.complete(view.id, 1000);
    expect(done.done).toBe(true);
    expect(await describeVersion(b, 'tracked', '1.0.0')).toMatchObject({ status: 'Added', uploadId: view.id });

    await remove(b, 'tracked', '1.0.0');
    await expect(describeVersion(a, 'tracked', '1.0.0')).rejects.toBeInstanceOf(VersionNotFoundError);
    await store.cleanup();
  });

  it('Failed: the reason only for writers; a newer upload of the same version wins', async () => {
    const store = await make();
    const a = registryOver(store.another());
    const b = registryOver(store.another());
    const bundle = testBundle('broken', '2.0.0', { 'a.bin': randomBytes(1000) });
    const uploads = new Uploads(a);
    const view = await uploads.start({ manifest: bundle.manifest });
    await send(a.storage, view, bundle, randomBytes(1000)); // wrong bytes
    await expect(uploads.complete(view.id)).rejects.toBeDefined();

    const reader = await describeVersion(b, 'broken', '2.0.0');
    expect(reader).toMatchObject({ status: 'Failed', uploadId: view.id });
    expect(reader).not.toHaveProperty('error');
    const writer = await describeVersion(b, 'broken', '2.0.0', { showReason: true });
    expect(writer).toMatchObject({ status: 'Failed', error: { type: expect.any(String), message: expect.any(String) } });

    // The user runs add again: a new upload of the same version, newer than the failed one.
    const again = await uploads.start({ manifest: bundle.manifest });
    expect(await describeVersion(b, 'broken', '2.0.0')).toMatchObject({ status: 'Uploading', uploadId: again.id });
    await send(a.storage, again, bundle);
    expect((await uploads.complete(again.id)).done).toBe(true);
    expect(await describeVersion(b, 'broken', '2.0.0')).toMatchObject({ status: 'Added', uploadId: again.id });
    await store.cleanup();
  });

  it('coordinates that cannot name a version are not found, not an error', async () => {
    const store = await make();
    const r = registryOver(store.storage);
    await expect(describeVersion(r, '../x', '1.0.0')).rejects.toBeInstanceOf(VersionNotFoundError);
    await expect(describeVersion(r, 'x', '..')).rejects.toBeInstanceOf(VersionNotFoundError);
    await store.cleanup();
  });
});
