/**
 * Signed URLs for the filesystem driver.
 *
 * S3 clients get presigned S3 URLs; with the filesystem driver the "store" is the registry
 * itself, so its upload/download targets are URLs to the registry's own route
 * `/_store/<key>`, authorised by an HMAC-SHA256 over everything the URL grants (method,
 * key, expiry, multipart coordinates, download file name and type). The HMAC key comes
 * from the store (shared by every worker process), never from process memory.
 *
 * Pure functions: the caller supplies the secret and the clock.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { RegistryError } from '../errors';

/** A forged, tampered or expired signed URL (HTTP 403). */
export class ForbiddenError extends RegistryError {
  constructor(message: string) {
    super('Forbidden', message);
  }
}

export const STORE_ROUTE = '/_store/';
const VERSION = 'dcos-registry-store-v1';
const MAX_PART_NUMBER = 10_000;

export interface StoreUrlParams {
  method: 'GET' | 'PUT';
  key: string;
  /** Unix seconds; the URL is accepted up to the end of this second. */
  expires: number;
  uploadId?: string;
  partNumber?: number;
  /** GET only: file name for Content-Disposition. */
  filename?: string;
  /** GET only: Content-Type to answer with. */
  contentType?: string;
}

export interface StoreGrant {
  kind: 'put' | 'get' | 'part';
  key: string;
  expires: number;
  uploadId?: string;
  partNumber?: number;
  filename?: string;
  contentType?: string;
}

/** JSON of a fixed-order array: unambiguous whatever characters the fields hold. */
function mac(p: StoreUrlParams, secret: Buffer): Buffer {
  const canonical = JSON.stringify([
    VERSION,
    p.method,
    p.key,
    p.expires,
    p.uploadId ?? null,
    p.partNumber ?? null,
    p.filename ?? null,
    p.contentType ?? null,
  ]);
  return createHmac('sha256', secret).update(canonical).digest();
}

/** `/_store/<key>` with each key segment percent-encoded. */
export function storePath(key: string): string {
  return STORE_ROUTE + key.split('/').map(encodeURIComponent).join('/');
}

/** Inverse of storePath for the path the router received; undefined when it is not a store path. */
export function keyFromStorePath(path: string): string | undefined {
  if (!path.startsWith(STORE_ROUTE)) return undefined;
  try {
    return path.slice(STORE_ROUTE.length).split('/').map(decodeURIComponent).join('/');
  } catch {
    return undefined; // malformed percent-encoding
  }
}

export function signStoreUrl(origin: string, params: StoreUrlParams, secret: Buffer): string {
  if (!Number.isSafeInteger(params.expires)) throw new RangeError('expires must be integer unix seconds');
  if ((params.uploadId === undefined) !== (params.partNumber === undefined)) {
    throw new RangeError('uploadId and partNumber go together');
  }
  const query = new URLSearchParams();
  query.set('X-Expires', String(params.expires));
  if (params.uploadId !== undefined) query.set('uploadId', params.uploadId);
  if (params.partNumber !== undefined) query.set('partNumber', String(params.partNumber));
  if (params.filename !== undefined) query.set('filename', params.filename);
  if (params.contentType !== undefined) query.set('contentType', params.contentType);
  query.set('X-Signature', mac(params, secret).toString('hex'));
  return `${origin.replace(/\/+$/, '')}${storePath(params.key)}?${query.toString()}`;
}

export interface StoreRequest {
  /** HTTP method of the request; HEAD is accepted on a GET grant. */
  method: string;
  /** Object key, decoded from the path (keyFromStorePath). */
  key: string;
  /** Decoded query parameters (API Gateway's queryStringParameters shape). */
  query: Record<string, string | undefined>;
  secret: Buffer;
  /** Milliseconds since the epoch. */
  now: number;
}

/** Checks a request to /_store/<key>; returns what it may do or throws ForbiddenError. */
export function verifyStoreRequest(req: StoreRequest): StoreGrant {
  const q = req.query;
  const method = req.method.toUpperCase() === 'HEAD' ? 'GET' : req.method.toUpperCase();
  if (method !== 'GET' && method !== 'PUT') throw new ForbiddenError(`Method ${req.method} is not allowed on a signed URL`);
  const expiresText = q['X-Expires'];
  const signature = q['X-Signature'];
  if (!expiresText || !/^\d{1,12}$/.test(expiresText) || !signature || !/^[0-9a-f]{64}$/.test(signature)) {
    throw new ForbiddenError('Missing or malformed signature');
  }
  const partText = q.partNumber;
  if (partText !== undefined && !/^\d{1,5}$/.test(partText)) throw new ForbiddenError('Malformed part number');
  const params: StoreUrlParams = {
    method,
    key: req.key,
    expires: Number(expiresText),
    uploadId: q.uploadId,
    partNumber: partText === undefined ? undefined : Number(partText),
    filename: q.filename,
    contentType: q.contentType,
  };
  const expected = mac(params, req.secret);
  const given = Buffer.from(signature, 'hex');
  if (!timingSafeEqual(expected, given)) throw new ForbiddenError('Signature does not match');
  // Checked after the MAC so that an expired-but-genuine URL is told apart from a forgery.
  if (Math.floor(req.now / 1000) > params.expires) throw new ForbiddenError('Signed URL has expired');
  if ((params.uploadId === undefined) !== (params.partNumber === undefined)) throw new ForbiddenError('Incomplete part URL');
  if (params.partNumber !== undefined) {
    if (method !== 'PUT' || params.partNumber < 1 || params.partNumber > MAX_PART_NUMBER) throw new ForbiddenError('Bad part URL');
    return { kind: 'part', key: params.key, expires: params.expires, uploadId: params.uploadId, partNumber: params.partNumber };
  }
  if (method === 'PUT') return { kind: 'put', key: params.key, expires: params.expires };
  return { kind: 'get', key: params.key, expires: params.expires, filename: params.filename, contentType: params.contentType };
}
