/**
 * The fault-injecting wrapper keeps the port's capabilities of the driver under it, as the
 * storage layer does: otherwise a registry over it would take a filesystem store for one that
 * serves its own URLs, and the probe's If-Match switch would never reach an S3 driver.
 */
import { describe, expect, it } from 'vitest';
import { keys } from '../../lib/keys';
import { StorageLayer } from '../../lib/storage/layer';
import { fileStore, s3Store } from '../support/stores';
import { FaultyStorage, transientErrors } from './faulty-storage';

describe('FaultyStorage keeps the driver capabilities', () => {
  it('over the filesystem driver: the registry serves its URLs, and what they receive is a store call faults strike', async () => {
    const store = await fileStore();
    try {
      const faulty = new FaultyStorage(store.another());
      expect(faulty.urls?.servedBy).toBe('registry');
      expect(new StorageLayer(faulty).urls.servedBy).toBe('registry');
      const urls = faulty.urls;
      if (urls?.servedBy !== 'registry') throw new Error('unreachable');
      // Keys a signed PUT may name (lib/keys.ts signedScope): staged blobs of an upload.
      const [a, b] = ['a', 'b'].map((c) => keys.uploadBlob('0'.repeat(26), c.repeat(64)));

      faulty.inject({ when: (c) => c.method === 'receivePut', error: transientErrors.reset, times: 1 });
      const body = Buffer.from('relayed bytes');
      await expect(urls.endpoint.receivePut(a, body, 1024, body.length)).rejects.toThrow('ECONNRESET');
      await expect(store.another().head(a)).rejects.toThrow();
      await urls.endpoint.receivePut(a, body, 1024, body.length);
      expect((await store.another().get(a)).body.toString()).toBe('relayed bytes');
      expect(faulty.calls.map((c) => `${c.method} ${c.key}`)).toEqual([`receivePut ${a}`, `receivePut ${a}`]);

      // A signature is checked by the driver, unfaulted: a URL signed through the wrapper verifies through it.
      const signed = new URL(await faulty.signPut(b, { expiresIn: 60 }), 'http://registry.test/');
      const grant = await urls.endpoint.verify({
        method: 'PUT',
        key: b,
        query: Object.fromEntries(signed.searchParams),
      });
      expect(grant).toMatchObject({ kind: 'put', key: b });
      expect(faulty.calls).toHaveLength(2);
    } finally {
      await store.cleanup();
    }
  });

  it("over the S3 driver: the If-Match form is the driver's own object, so switching it through the wrapper switches the driver", async () => {
    const driver = (await s3Store()).another();
    const faulty = new FaultyStorage(driver);
    expect(faulty.urls).toBe(driver.urls);
    expect(faulty.conditionalWrites).toBeDefined();
    expect(faulty.conditionalWrites).toBe(driver.conditionalWrites);
    const layered = new StorageLayer(faulty);
    expect(layered.urls.servedBy).toBe('store');
    if (!layered.conditionalWrites) throw new Error('the layer lost the If-Match form');
    layered.conditionalWrites.etagForm = 'quoted';
    expect(driver.conditionalWrites?.etagForm).toBe('quoted');
  });
});
