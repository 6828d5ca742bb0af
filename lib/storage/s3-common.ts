/**
 * What both S3 read paths share (the SDK driver in s3.ts and the SDK-free reader in s3-http.ts):
 * the one translation of S3 failures into domain errors, and the small header helpers. Nothing
 * here loads the AWS SDK: the read functions' cold start evaluates this file.
 *
 * Failures have the SDK's shape (`name`/`Code`, `$metadata.httpStatusCode`, Node's `code` for
 * socket errors); s3-http.ts builds its own errors in the same shape so both go through here.
 */
import { AlreadyExistsError, ConflictError, NotFoundError, PreconditionFailedError, StoreUnavailableError } from '../errors';

/** Failures that mean "the store did not answer" (after the SDK's own retries), not an answer; answers (5xx too) stay as they are. */
const UNREACHABLE = new Set([
  'AbortError',
  'TimeoutError',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

function unavailable(err: unknown, op: S3Operation): StoreUnavailableError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { name?: string; code?: string };
  if (!UNREACHABLE.has(e.name ?? '') && !UNREACHABLE.has(e.code ?? '')) return undefined;
  const what = e.name === 'AbortError' || e.name === 'TimeoutError' ? 'did not answer in time' : `is unreachable (${e.code ?? e.name})`;
  return new StoreUnavailableError(`The store ${what} (${op}); retry later`, { cause: err });
}

/** What the failed request was trying to do decides what a 404 or 412 means. */
export type S3Operation = 'read' | 'write' | 'create' | 'swap' | 'copy' | 'multipart';

interface SdkErrorShape {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function statusOf(err: unknown): { status?: number; code?: string } {
  if (typeof err !== 'object' || err === null) return {};
  const e = err as SdkErrorShape;
  return { status: e.$metadata?.httpStatusCode, code: e.Code ?? e.name };
}

/** The one place SDK errors become domain errors; anything unknown is rethrown as is. */
export function translateError(err: unknown, key: string, op: S3Operation): never {
  const { status, code } = statusOf(err);
  const cause = { cause: err };
  // A concurrent conditional request on the same key: the caller retries.
  if (code === 'ConditionalRequestConflict') throw new ConflictError(key, cause);
  if (status === 412 || code === 'PreconditionFailed') {
    if (op === 'create') throw new AlreadyExistsError(key, cause);
    throw new PreconditionFailedError(key, cause);
  }
  const notFound = code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchUpload' || (status === 404 && code !== 'NoSuchBucket');
  if (notFound) {
    // AWS answers 404 to If-Match on a missing key where RGW answers 412: both mean the swap lost.
    if (op === 'swap') throw new PreconditionFailedError(key, cause);
    throw new NotFoundError(key, cause);
  }
  throw unavailable(err, op) ?? err;
}

export function isNotModified(err: unknown): boolean {
  const { status, code } = statusOf(err);
  return status === 304 || code === 'NotModified';
}

export function ignoreNotFound(translate: () => never): void {
  try {
    translate();
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
}

export const unquote = (etag: string | undefined): string => (etag ?? '').replace(/^"(.*)"$/, '$1');
export const quote = (etag: string): string => `"${unquote(etag)}"`;

/** RFC 6266 Content-Disposition: an ASCII fallback plus the exact UTF-8 name. */
export function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

export function parseContentRange(header: string | undefined): { start: number; end: number; total: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header ?? '');
  return m ? { start: Number(m[1]), end: Number(m[2]), total: Number(m[3]) } : undefined;
}

const MiB = 1024 * 1024;
/** Extra deadline per MiB of a body read or written under a call deadline (1 MiB/s at worst). */
const BODY_MS_PER_MIB = 1000;

/**
 * Runs a call that answers at once under the call deadline (both S3 halves: s3.ts, s3-lazy.ts);
 * whatever `call` does with the answer (reading a body) is inside the deadline too, and aborting
 * destroys the connection. Bodies get time in proportion to their size on top (`allow(bytes)`:
 * BODY_MS_PER_MIB each MiB), so a big object on a slow link is not mistaken for a hung store.
 */
export async function bounded<T>(
  callTimeoutMs: number,
  call: (signal: AbortSignal, allow: (bytes: number) => void) => Promise<T>,
): Promise<T> {
  const abort = new AbortController();
  let deadline = Date.now() + callTimeoutMs;
  let timer = setTimeout(() => abort.abort(), callTimeoutMs);
  const allow = (bytes: number) => {
    deadline += Math.ceil(bytes / MiB) * BODY_MS_PER_MIB;
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(), Math.max(0, deadline - Date.now()));
  };
  try {
    return await call(abort.signal, allow);
  } finally {
    clearTimeout(timer);
  }
}
