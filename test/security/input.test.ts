/**
 * Hostile input that must get a clear 4xx, never a 500 and never internals (issue 10 item 8):
 * storage keys stay out of 404/409/412 messages, and deeply nested or huge JSON is refused
 * before validation can overflow the stack. Driven in-process (test/support/inprocess.ts),
 * on both storage drivers where storage is involved; answers go through errorAnswer, the map
 * every HTTP adapter uses.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config';
import { errorAnswer } from '../../lib/http/errors';
import { keys } from '../../lib/keys';
import type { Registry } from '../../lib/registry';
import { resourceAnswer } from '../../lib/resource';
import { Uploads } from '../../lib/uploads/service';
import { ORIGIN, registryOver, send } from '../support/inprocess';
import { drivers } from '../support/stores';
import { testBundle } from '../support/upload';

async function answerOf(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return errorAnswer(error);
  }
  throw new Error('expected a refusal');
}

describe.each(drivers)('storage keys stay out of answers on $name storage', ({ make }) => {
  it('a proxied download of a blob gone from the store answers 404 naming the digest, not the key', async () => {
    const store = await make();
    const registry: Registry = {
      ...registryOver(store.another()),
      config: parseConfig({ REGISTRY_WRITE_TOKENS: 'x'.repeat(16), REGISTRY_DOWNLOADS: 'proxy' }),
    };
    const bytes = randomBytes(1000);
    const bundle = testBundle('gone', '1.0.0', { 'gone.bin': bytes });
    const uploads = new Uploads(registry);
    const view = await uploads.start({ manifest: bundle.manifest }, ORIGIN);
    await send(registry.storage, view, bundle);
    expect((await uploads.complete(view.id)).done).toBe(true);
    const digest = bundle.manifest.assets[0].digest;
    const hex = digest.slice(7);
    await registry.storage.delete(keys.blob(hex));

    const answer = await answerOf(resourceAnswer(registry, { digest: hex, name: 'gone.bin', origin: ORIGIN }));
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ type: 'NotFound', message: `Blob ${digest} was not found` });
    await store.cleanup();
  });

  it('lost create-only and compare-and-swap writes answer 409/412 without the key', async () => {
    const store = await make();
    const { storage } = store;
    const id = 'a'.repeat(26);
    const key = keys.uploadSession(id);
    const { etag } = await storage.put(key, '{}', { ifNoneMatch: '*' });
    const exists = await answerOf(storage.put(key, '{}', { ifNoneMatch: '*' }));
    expect(exists).toEqual({ status: 409, body: { type: 'AlreadyExists', message: `Upload ${id} already exists` } });
    const changed = await answerOf(storage.put(key, '{"b":1}', { ifMatch: `x${etag.slice(1)}` }));
    expect(changed).toEqual({ status: 412, body: { type: 'PreconditionFailed', message: `Upload ${id} changed meanwhile; retry` } });
    const missing = await answerOf(storage.get(keys.snapshot()));
    expect(missing).toEqual({ status: 404, body: { type: 'NotFound', message: 'The catalog was not found' } });
    for (const a of [exists, changed, missing]) expect(a.body.message).not.toMatch(/uploads\/|catalog\/|\.json/);
    await store.cleanup();
  });
});
