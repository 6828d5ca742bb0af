/**
 * The routes the server answers with streams instead of buffered Lambda payloads, so big
 * files have no size limit and never sit in memory: the filesystem driver's signed
 * /_store targets (the same FileStorage calls functions/store.ts makes) and, in proxy
 * mode, asset downloads (the resource handler decides; only its redirect is replaced by
 * the bytes). No domain logic lives here.
 */
import type { Readable } from 'node:stream';
import { RegistryError } from '../lib/errors';
import { keys } from '../lib/keys';
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

/** The bytes of an asset the resource handler allowed (it answered with a redirect). */
export async function proxiedResource(registry: Registry, digest: string, name: string, handlerHeaders: Record<string, string>): Promise<StreamAnswer> {
  if (!digest) throw new RegistryError('ResourceNotFound', 'Resource not found');
  const object = await registry.storage.getStream(keys.blob(digest));
  return {
    status: 200,
    headers: {
      etag: `"${digest}"`,
      'cache-control': 'public, max-age=31536000, immutable',
      ...pick(handlerHeaders, ['etag']),
      'content-type': 'application/octet-stream',
      'content-length': String(object.size),
      'content-disposition': `attachment; filename="${name.replace(/["\\\r\n]/g, '_')}"`,
    },
    stream: object.stream,
  };
}

function pick(headers: Record<string, string>, names: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => names.includes(k.toLowerCase())));
}
