/**
 * The routes the server answers with streams instead of buffered Lambda payloads, so big
 * files have no size limit and never sit in memory: the filesystem driver's signed
 * /_store targets (the same FileStorage calls functions/store.ts makes) and, in proxy
 * mode, downloads of assets and image blobs (the handler decides; only its redirect is
 * replaced by the bytes). No domain logic lives here.
 */
import { Readable } from 'node:stream';
import { parseRange } from '../lib/downloads';
import { HEX_DIGEST, keys } from '../lib/keys';
import type { Registry } from '../lib/registry';
import { FileStorage } from '../lib/storage/fs';
import { ForbiddenError, keyFromStorePath } from '../lib/storage/signing';

export interface StreamAnswer {
  status: number;
  headers: Record<string, string>;
  stream: Readable;
}

/** The filesystem driver, or undefined: with S3 the /_store routes go to the handler (which says 404). */
export function fileStorageOf(registry: Registry): FileStorage | undefined {
  return registry.storage instanceof FileStorage ? registry.storage : undefined;
}

async function grant(storage: FileStorage, method: string, rawPath: string, query: Record<string, string>) {
  const key = keyFromStorePath(rawPath);
  if (!key) throw new ForbiddenError('Malformed store path');
  return storage.verifyStoreRequest({ method, key, query });
}

export async function storeGet(storage: FileStorage, rawPath: string, query: Record<string, string>): Promise<StreamAnswer> {
  const g = await grant(storage, 'GET', rawPath, query);
  const object = await storage.getStream(g.key);
  const headers: Record<string, string> = {
    'content-type': g.contentType ?? 'application/octet-stream',
    'content-length': String(object.size),
  };
  if (g.filename) headers['content-disposition'] = `attachment; filename="${g.filename.replace(/["\\\r\n]/g, '_')}"`;
  return { status: 200, headers, stream: object.stream };
}

export async function storePut(
  storage: FileStorage,
  rawPath: string,
  query: Record<string, string>,
  body: AsyncIterable<Uint8Array>,
  limitBytes: number,
): Promise<{ etag: string; size: number }> {
  const g = await grant(storage, 'PUT', rawPath, query);
  if (g.kind === 'part') return storage.receivePart(g.key, g.uploadId!, g.partNumber!, body, limitBytes);
  if (g.kind !== 'put') throw new ForbiddenError('This URL does not grant an upload');
  return storage.receivePut(g.key, body, limitBytes);
}

/** A blob a download route may redirect to, named by the request itself. */
export interface BlobRef {
  hex: string;
  etag: string;
  filename?: string;
}

/** Routes whose redirect (proxy mode) names a verified blob: /resource and /v2 blobs. */
export function blobOf(routeKey: string, params: Record<string, string>): BlobRef | undefined {
  if (routeKey === 'GET /resource/{digest}/{name}' && HEX_DIGEST.test(params.digest ?? '')) {
    return { hex: params.digest, etag: `"${params.digest}"`, filename: params.name };
  }
  const v2 = routeKey === 'GET /v2/{proxy+}' ? /\/blobs\/sha256:([a-f0-9]{64})$/.exec(params.proxy ?? '') : null;
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
): Promise<StreamAnswer> {
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
    ...(blob.filename ? { 'content-disposition': `attachment; filename="${blob.filename.replace(/["\\\r\n]/g, '_')}"` } : {}),
  };
  const range = rangeHeader ? parseRange(rangeHeader, (await registry.storage.head(key)).size) : undefined;
  if (range === 'unsatisfiable') {
    const { size } = await registry.storage.head(key);
    return { status: 416, headers: { ...kept, 'content-range': `bytes */${size}`, 'content-length': '0' }, stream: Readable.from([]) };
  }
  const object = await registry.storage.getStream(key, range);
  if (object.range) {
    headers['content-range'] = `bytes ${object.range.start}-${object.range.end}/${object.range.total}`;
  }
  headers['content-length'] = String(object.size);
  return { status: object.range ? 206 : 200, headers, stream: object.stream };
}
