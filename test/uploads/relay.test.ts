/**
 * Uploads through the registry (REGISTRY_UPLOADS=proxy) on S3 (the shared RGW), in process:
 * targets are the registry's own signed /_store URLs, relative to its base; bodies reach the store through the
 * endpoint with their declared length only; Lambda (a runtime that does not stream bodies)
 * refuses the upload before storing anything. The whole add through Admin Router with the
 * real CLI and the production server: test/server/admin-router.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config';
import { keys } from '../../lib/keys';
import { createRegistry } from '../../lib/registry';
import { Uploads } from '../../lib/uploads/service';
import { send } from '../support/inprocess';
import { s3Store } from '../support/stores';
import { testBundle } from '../support/upload';

const MiB = 1024 * 1024;

async function relayedRegistry(streamsBodies: boolean) {
  const store = await s3Store();
  const cfg = parseConfig({ ...store.env, REGISTRY_UPLOADS: 'proxy', REGISTRY_WRITE_TOKENS: 'relay-token-0123456789' });
  return { store, registry: createRegistry(cfg, { streamsBodies }) };
}

describe('uploads relayed to S3 through the registry (REGISTRY_UPLOADS=proxy)', () => {
  it('signs /_store targets relative to the registry base (any proxy prefix) and lands the streamed bytes in the store', async () => {
    const { registry } = await relayedRegistry(true);
    expect(registry.storage.urls?.servedBy).toBe('registry');
    const bundle = testBundle(`relay-${randomBytes(3).toString('hex')}`, '1.0.0', { 'big.bin': randomBytes(9 * MiB) });
    const uploads = new Uploads(registry);
    const view = await uploads.start({ manifest: bundle.manifest });
    const targets = view.blobs.flatMap((b) =>
      !b.upload ? [] : 'url' in b.upload ? [b.upload.url] : b.upload.multipart.parts.map((p) => p.url),
    );
    expect(targets.length).toBeGreaterThan(1);
    // Relative (no scheme, no leading slash): a client resolves it against the base URL it called.
    for (const url of targets) expect(url.startsWith(`_store/uploads/${view.id}/`)).toBe(true);
    const base = 'https://cluster.example/service/dcos-registry/';
    expect(new URL(targets[0], base).pathname.startsWith(`/service/dcos-registry/_store/uploads/${view.id}/`)).toBe(true);
    await send(registry.storage, view, bundle);
    const done = await uploads.complete(view.id);
    expect(done.done).toBe(true);
    const big = bundle.manifest.blobs.find((b) => b.size === 9 * MiB)!;
    expect((await registry.storage.head(keys.blob(big.digest.slice(7)))).size).toBe(9 * MiB);
  }, 120_000);

  it('a body without a declared length is 411; one shorter than declared stores nothing', async () => {
    const { registry } = await relayedRegistry(true);
    const urls = registry.storage.urls;
    if (urls?.servedBy !== 'registry') throw new Error('not relayed');
    const staged = keys.uploadBlob('0'.repeat(26), 'a'.repeat(64));
    await expect(urls.endpoint.receivePut(staged, Buffer.from('abc'), 1000)).rejects.toMatchObject({ type: 'LengthRequired' });
    await expect(urls.endpoint.receivePut(staged, Buffer.from('abc'), 2, 3)).rejects.toMatchObject({ type: 'PayloadTooLarge' });
    await expect(urls.endpoint.receivePut(staged, Readable.from([Buffer.from('ab')]), 1000, 3)).rejects.toMatchObject({
      type: 'BadRequest',
      message: 'The body ended after 2 of its 3 bytes',
    });
    await expect(registry.storage.head(staged)).rejects.toMatchObject({ type: 'NotFound' });
    await expect(urls.endpoint.receivePut(staged, Buffer.from('abc'), 1000, 3)).resolves.toMatchObject({ size: 3 });
    expect((await registry.storage.get(staged)).body.toString()).toBe('abc');
  });

  it('on Lambda (no streamed bodies) an upload is refused with 501 before anything is stored', async () => {
    const { registry } = await relayedRegistry(false);
    const bundle = testBundle(`relay-${randomBytes(3).toString('hex')}`, '1.0.0', { 'a.txt': randomBytes(100) });
    await expect(new Uploads(registry).start({ manifest: bundle.manifest })).rejects.toMatchObject({
      type: 'NotImplemented',
      message: expect.stringMatching(/REGISTRY_UPLOADS=proxy.*Lambda cannot stream/),
    });
    expect(await registry.storage.list(keys.uploadsPrefix())).toEqual([]);
  });
});
