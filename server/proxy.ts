/**
 * Proxy-mode downloads (REGISTRY_DOWNLOADS=proxy: clients cannot reach the store): a blob over
 * the Lambda payload limit gets a redirect from its operation; this server has no such limit
 * and streams the bytes instead (the operation decides; only its redirect is replaced).
 * No domain logic lives here.
 */
import { Readable } from 'node:stream';
import { parseRange } from '../lib/downloads';
import type { StreamResponse } from '../lib/http/handler';
import { contentDisposition } from '../lib/http/headers';
import type { OperationId } from '../lib/http/routes';
import { HEX_DIGEST, keys } from '../lib/keys';
import type { Registry } from '../lib/registry';

/** A blob a download route may redirect to, named by the request itself. */
export interface BlobRef {
  hex: string;
  etag: string;
  filename?: string;
}

/** Routes whose redirect (proxy mode) names a verified blob: /resource and /v2 blobs. */
export function blobOf(route: OperationId, params: Record<string, string>): BlobRef | undefined {
  if (route === 'getResource' && HEX_DIGEST.test(params.digest ?? '')) {
    return { hex: params.digest, etag: `"${params.digest}"`, filename: params.name };
  }
  const v2 = route === 'v2Get' ? /\/blobs\/sha256:([a-f0-9]{64})$/.exec(params.proxy ?? '') : null;
  return v2 ? { hex: v2[1], etag: `"sha256:${v2[1]}"` } : undefined;
}

/**
 * The bytes of a blob whose download handler answered with a redirect (the blob was found in
 * the catalog; only its size was over the Lambda payload limit), with the handler's headers
 * (Docker-Content-Digest, ...) and Range support as lib/downloads.ts gives below the limit.
 */
export async function proxiedBlob(
  registry: Registry,
  blob: BlobRef,
  handlerHeaders: Record<string, string>,
  rangeHeader: string | undefined,
): Promise<StreamResponse> {
  const key = keys.blob(blob.hex);
  const kept = Object.fromEntries(
    Object.entries(handlerHeaders).filter(([k]) => !['location', 'cache-control', 'content-length'].includes(k.toLowerCase())),
  );
  const headers: Record<string, string> = {
    ...kept,
    etag: blob.etag,
    'cache-control': 'public, max-age=31536000, immutable',
    'content-type': 'application/octet-stream',
    'accept-ranges': 'bytes',
    ...(blob.filename ? { 'content-disposition': contentDisposition(blob.filename) } : {}),
  };
  const range = rangeHeader ? parseRange(rangeHeader, (await registry.storage.head(key)).size) : undefined;
  if (range === 'unsatisfiable') {
    const { size } = await registry.storage.head(key);
    return { statusCode: 416, headers: { ...kept, 'content-range': `bytes */${size}`, 'content-length': '0' }, stream: Readable.from([]) };
  }
  const object = await registry.storage.getStream(key, range);
  if (object.range) {
    headers['content-range'] = `bytes ${object.range.start}-${object.range.end}/${object.range.total}`;
  }
  headers['content-length'] = String(object.size);
  return { statusCode: object.range ? 206 : 200, headers, stream: object.stream };
}
