/**
 * Downloads of verified blobs (asset files for /resource, layers and configs for /v2): a
 * redirect to a short-lived signed store URL, or, in proxy mode (REGISTRY_DOWNLOADS=proxy:
 * the store is not reachable by clients), the bytes themselves.
 *
 * A Lambda response is buffered and capped at 6 MB (base64 included), so proxy mode serves
 * at most PROXY_LIMIT bytes per answer: whole blobs up to that size, and byte ranges of any
 * blob up to that length (206). A whole blob above it is still answered with a redirect: the
 * deployment must then let clients reach the store (REGISTRY_S3_PUBLIC_ENDPOINT), or run the
 * production server, which streams.
 */
import type { Response } from './http/handler';
import { contentDisposition } from './http/headers';
import { keys } from './keys';
import type { Registry } from './registry';

export const PROXY_LIMIT = 4 * 1024 * 1024;
/** Signed download URLs live this long: enough to start a multi-GB transfer, short enough to leak little. */
const SIGNED_URL_TTL_S = 600;

export interface Download {
  /** Bare hex digest (checked by the caller). */
  hex: string;
  size: number;
  /** The request's Range header, if any. */
  range?: string;
  origin: string;
  /** Content-Disposition file name. */
  filename?: string;
  /** Headers every answer carries (ETag, Docker-Content-Digest, ...). */
  headers: Record<string, string>;
  head: boolean;
}

export type ByteRange = { start: number; end: number } | 'unsatisfiable' | undefined;

/** Longest Range header read: one `bytes=<first>-<last>` of any real size fits many times over. */
export const MAX_RANGE_CHARS = 256;

/** Digits only, as a number; undefined for anything else (signs, exponents, hex, empty). */
function digits(s: string): number | undefined {
  if (s.length === 0) return undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return Number(s);
}

/**
 * One `bytes=` range of an object of `size` bytes (RFC 9110 14.1.2), inclusive. Several
 * ranges, a malformed header or one longer than MAX_RANGE_CHARS are ignored (the whole
 * object is the answer then, as RFC 9110 allows). Split and scanned: a header is never fed to
 * a pattern that backtracks (issue 10: a 15 KB value cost 0.4 s of CPU).
 */
export function parseRange(header: string | undefined, size: number): ByteRange {
  if (!header || header.length > MAX_RANGE_CHARS) return undefined;
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return undefined;
  const spec = header.slice(eq + 1);
  const dash = spec.indexOf('-');
  if (dash < 0) return undefined;
  const first = spec.slice(0, dash).trim();
  const last = spec.slice(dash + 1).trim();
  if (first === '') {
    const suffix = digits(last);
    if (suffix === undefined) return undefined;
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = digits(first);
  const end = last === '' ? size - 1 : digits(last);
  if (start === undefined || end === undefined) return undefined;
  if (last !== '' && end < start) return undefined; // invalid: ignore
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/** The answer to GET/HEAD of a blob the caller has found in the catalog. */
export async function downloadAnswer(registry: Registry, d: Download): Promise<Response> {
  const key = keys.blob(d.hex);
  const content: Record<string, string> = {
    ...d.headers,
    'content-type': 'application/octet-stream',
    ...(d.filename ? { 'content-disposition': contentDisposition(d.filename) } : {}),
  };
  const proxy = registry.config.downloads === 'proxy';
  if (proxy) content['accept-ranges'] = 'bytes';
  // HEAD never redirects: a URL signed for GET does not admit HEAD on S3.
  if (d.head) return { statusCode: 200, headers: { ...content, 'content-length': String(d.size) }, body: '' };
  if (proxy) {
    const range = parseRange(d.range, d.size);
    if (range === 'unsatisfiable') {
      return { statusCode: 416, headers: { ...d.headers, 'content-range': `bytes */${d.size}` }, body: '' };
    }
    if (range && range.end - range.start + 1 <= PROXY_LIMIT) {
      const { stream } = await registry.storage.getStream(key, range);
      const chunks: Buffer[] = [];
      for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
      const body = Buffer.concat(chunks);
      return {
        statusCode: 206,
        // identity: keeps serverless-offline (hapi) from gzipping it into a chunked answer without a length.
        headers: {
          ...content,
          'content-range': `bytes ${range.start}-${range.end}/${d.size}`,
          'content-length': String(body.length),
          'content-encoding': 'identity',
        },
        body: body.toString('base64'),
        isBase64Encoded: true,
      };
    }
    if (!range && d.size <= PROXY_LIMIT) {
      const { body } = await registry.storage.get(key);
      return {
        statusCode: 200,
        headers: { ...content, 'content-length': String(body.length), 'content-encoding': 'identity' },
        body: body.toString('base64'),
        isBase64Encoded: true,
      };
    }
  }
  const location = await registry.storage.signGet(key, {
    expiresIn: SIGNED_URL_TTL_S,
    origin: d.origin,
    filename: d.filename,
    contentType: 'application/octet-stream',
  });
  // The signed URL expires: a cache may keep the redirect for a minute only.
  const { etag: _e, ...kept } = d.headers;
  return { statusCode: 307, headers: { ...kept, location, 'cache-control': 'private, max-age=60' }, body: '' };
}
