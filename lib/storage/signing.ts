/**
 * Signed URLs for the filesystem driver.
 *
 * S3 clients get presigned S3 URLs; with the filesystem driver the "store" is the registry
 * itself, so its upload/download targets are URLs to the registry's own route
 * `/_store/<key>`, authorised by an HMAC-SHA256 over everything the URL grants (method,
 * key, expiry, multipart coordinates, download file name and type). The HMAC key comes
 * from the store (shared by every worker process), never from process memory.
 *
 * A URL grants only what lib/keys.ts's signedScope allows (PUT into an upload's staging
 * keys, GET of published blobs and rendered answers), checked on signing and again on every
 * request: a signature made with a leaked key still cannot reach the catalog or sessions.
 *
 * Pure functions: the caller supplies the secret and the clock.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { RegistryError } from '../errors';
import { signedScope } from '../keys';
import type { StoreRequestGrant, StoreUrlFields } from './port';

/** A forged, tampered or expired signed URL (HTTP 403). */
export class ForbiddenError extends RegistryError {
  constructor(message: string) {
    super('Forbidden', message);
  }
}

const STORE_ROUTE = '/_store/';
const VERSION = 'dcos-registry-store-v1';
/** HMAC-SHA256 keys shorter than its block's half are refused, wherever they come from. */
const MIN_SIGNING_KEY_BYTES = 32;

/** A signing key that is missing, malformed or too short; names where it came from. */
class SigningKeyError extends Error {
  constructor(source: string, problem: string) {
    super(`Signing key from ${source} ${problem}`);
    this.name = 'SigningKeyError';
  }
}

/** The key itself, checked: at least MIN_SIGNING_KEY_BYTES bytes. */
export function checkSigningKey(key: Buffer, source: string): Buffer {
  if (!Buffer.isBuffer(key) || key.length < MIN_SIGNING_KEY_BYTES) {
    throw new SigningKeyError(source, `has ${Buffer.isBuffer(key) ? key.length : 0} bytes; at least ${MIN_SIGNING_KEY_BYTES} are required`);
  }
  return key;
}

/** A key file's text: hex digits (whitespace around them ignored), at least MIN_SIGNING_KEY_BYTES bytes. */
export function parseSigningKeyText(text: string, source: string): Buffer {
  const hex = text.trim();
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) throw new SigningKeyError(source, 'is not hex text (an even number of 0-9a-f digits)');
  return checkSigningKey(Buffer.from(hex, 'hex'), source);
}

/** Whether a signed URL may carry this method on this key (lib/keys.ts's signedScope). */
function inScope(method: 'GET' | 'PUT', key: string): boolean {
  return method === 'PUT' ? signedScope.put(key) : signedScope.get(key);
}

export interface StoreUrlParams extends StoreUrlFields {
  method: 'GET' | 'PUT';
}

export type StoreGrant = StoreRequestGrant;

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
    // Only when set, so URLs signed without it keep their MAC (the array's length tells them apart).
    ...(p.contentEncoding === undefined ? [] : [p.contentEncoding]),
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

/**
 * A signed `/_store/<key>?…` URL: absolute under `origin`, or, without one, a reference relative
 * to the registry's base (`_store/<key>?…`, no leading slash) that a client resolves against the
 * base URL it used, so it works under any prefix a proxy adds (Admin Router's /service/<name>/).
 * The MAC covers neither: only what the URL grants.
 */
export function signStoreUrl(origin: string | undefined, params: StoreUrlParams, secret: Buffer): string {
  if (!Number.isSafeInteger(params.expires)) throw new RangeError('expires must be integer unix seconds');
  if ((params.uploadId === undefined) !== (params.partNumber === undefined)) {
    throw new RangeError('uploadId and partNumber go together');
  }
  if (!inScope(params.method, params.key)) {
    throw new RangeError(`signed ${params.method} URLs may not name ${JSON.stringify(params.key).slice(0, 200)} (lib/keys.ts signedScope)`);
  }
  checkSigningKey(secret, 'the caller');
  const query = new URLSearchParams();
  query.set('X-Expires', String(params.expires));
  if (params.uploadId !== undefined) query.set('uploadId', params.uploadId);
  if (params.partNumber !== undefined) query.set('partNumber', String(params.partNumber));
  if (params.filename !== undefined) query.set('filename', params.filename);
  if (params.contentType !== undefined) query.set('contentType', params.contentType);
  if (params.contentEncoding !== undefined) query.set('contentEncoding', params.contentEncoding);
  query.set('X-Signature', mac(params, secret).toString('hex'));
  const path = `${storePath(params.key)}?${query.toString()}`;
  return origin === undefined ? path.slice(1) : `${origin.replace(/\/+$/, '')}${path}`;
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
    contentEncoding: q.contentEncoding,
  };
  // Before the MAC: out of scope is refused whoever signed it (the key file may have leaked).
  if (!inScope(method, req.key)) {
    throw new ForbiddenError(
      method === 'PUT'
        ? 'Signed URLs may only upload into an upload staging area'
        : 'Signed URLs may only download published blobs and rendered answers',
    );
  }
  const expected = mac(params, checkSigningKey(req.secret, 'the store'));
  const given = Buffer.from(signature, 'hex');
  if (!timingSafeEqual(expected, given)) throw new ForbiddenError('Signature does not match');
  // Checked after the MAC so that an expired-but-genuine URL is told apart from a forgery.
  if (Math.floor(req.now / 1000) > params.expires) throw new ForbiddenError('Signed URL has expired');
  if ((params.uploadId === undefined) !== (params.partNumber === undefined)) throw new ForbiddenError('Incomplete part URL');
  if (params.partNumber !== undefined) {
    if (method !== 'PUT') throw new ForbiddenError('Bad part URL');
    return { kind: 'part', key: params.key, expires: params.expires, uploadId: params.uploadId, partNumber: params.partNumber };
  }
  if (method === 'PUT') return { kind: 'put', key: params.key, expires: params.expires };
  return {
    kind: 'get',
    key: params.key,
    expires: params.expires,
    filename: params.filename,
    contentType: params.contentType,
    contentEncoding: params.contentEncoding,
  };
}
