/**
 * In-process registry pieces for tests that drive lib/ directly: a Registry over any
 * storage, and a client's side of the upload protocol (bytes through the signed targets:
 * real HTTP PUTs to S3, the filesystem driver's receiving side otherwise).
 */
import { expect } from 'vitest';
import { Catalog } from '../../lib/catalog/catalog';
import { parseConfig } from '../../lib/config';
import { keys } from '../../lib/keys';
import type { Registry } from '../../lib/registry';
import type { Storage } from '../../lib/storage/port';
import { WriteGate } from '../../lib/storage/probe';
import type { UploadView } from '../../lib/uploads/service';
import { type TestBundle, targetUrl } from './upload';

export const ORIGIN = 'http://registry.test';

export function registryOver(storage: Storage): Registry {
  return {
    config: parseConfig({ REGISTRY_WRITE_TOKENS: 'x'.repeat(16) }),
    storage,
    catalog: new Catalog(storage),
    gate: new WriteGate(storage),
  };
}

/** Sends every blob the view asks for (or `override` bytes instead), as a client does. */
export async function send(storage: Storage, view: UploadView, bundle: TestBundle, override?: Buffer): Promise<void> {
  for (const b of view.blobs) {
    if (!b.upload) continue;
    const bytes = override ?? bundle.blobs.get(b.digest)!;
    const staged = keys.uploadBlob(view.id, b.digest);
    // Where the registry serves its own signed URLs (/_store), this in-process client hands the bytes to its endpoint.
    const endpoint = storage.urls?.servedBy === 'registry' ? storage.urls.endpoint : undefined;
    if ('url' in b.upload) {
      if (endpoint) await endpoint.receivePut(staged, bytes, Infinity, bytes.length);
      else
        expect((await fetch(targetUrl(ORIGIN, b.upload.url), { method: 'PUT', headers: b.upload.headers, body: bytes })).status).toBe(200);
      continue;
    }
    const { partSize, parts } = b.upload.multipart;
    for (const p of parts) {
      const chunk = bytes.subarray((p.partNumber - 1) * partSize, p.partNumber * partSize);
      if (endpoint)
        await endpoint.receivePart(
          staged,
          targetUrl(ORIGIN, p.url).searchParams.get('uploadId')!,
          p.partNumber,
          chunk,
          Infinity,
          chunk.length,
        );
      else expect((await fetch(targetUrl(ORIGIN, p.url), { method: 'PUT', headers: b.upload.headers, body: chunk })).status).toBe(200);
    }
  }
}
