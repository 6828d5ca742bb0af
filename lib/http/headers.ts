/**
 * Header values built in one place: Content-Disposition (RFC 6266), the request's origin
 * (forwarding headers, X-Forwarded-Prefix included, only from a trusted proxy), and the
 * headers every answer carries.
 */
import { BadRequestError } from '../errors';
import type { Auth } from './routes';

/**
 * `attachment; filename="<ascii>"` plus, when the name is not plain printable ASCII,
 * RFC 6266's `filename*=UTF-8''<percent-encoded>` (RFC 8187). The plain form is Latin-1 safe
 * whatever the name holds (a non-Latin-1 header value cannot even be sent by node).
 */
export function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  if (ascii === filename) return `attachment; filename="${ascii}"`;
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

// Linear (no nested quantifiers): names, IPv4, [IPv6], an optional port.
const HOST = /^(?:[A-Za-z0-9_.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

const first = (v: string | undefined) => v?.split(',')[0].trim() || undefined;

// Segments of URL path characters (RFC 3986 pchar): no CR/LF or any control, space, `?`, `#`, `\`.
// Linear: a segment cannot contain `/`, so each `/` starts exactly one repetition.
const PREFIX = /^(?:\/[A-Za-z0-9._~!$&'()*+,;=:@%-]{1,255})+\/?$/;
const MAX_PREFIX = 1024;

/**
 * The path prefix a trusted proxy says it strips (X-Forwarded-Prefix, e.g. `/service/dcos-registry`),
 * without its trailing slash; '' when absent or not a plain absolute path: a dot segment (`.`, `..`,
 * also percent-encoded), malformed percent-encoding, or a character outside a path are ignored, never
 * an error (as X-Forwarded-Proto: javascript is).
 */
function prefixOf(value: string | undefined): string {
  const p = first(value);
  if (!p || p.length > MAX_PREFIX || !PREFIX.test(p)) return '';
  const segments = p.split('/').filter((s) => s !== '');
  for (const s of segments) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(s);
    } catch {
      return '';
    }
    if (decoded === '.' || decoded === '..' || /[/\\\x00-\x20\x7f]/.test(decoded)) return '';
  }
  return segments.length ? `/${segments.join('/')}` : '';
}

export interface OriginSettings {
  publicUrl?: string;
  trustProxy: boolean;
  /** The scheme of the connection the adapter accepted. */
  scheme: 'http' | 'https';
}

/**
 * scheme://host[:port][/prefix] the client used: the registry's base URL as the client sees it.
 * X-Forwarded-Proto/Host/Prefix count only from a trusted proxy, and only when well-formed
 * (`X-Forwarded-Proto: javascript` is ignored, never a 500; so is a prefix with `..` or CR/LF);
 * a Host that is not a host name is a 400.
 */
export function originOf(headers: Record<string, string>, s: OriginSettings): string {
  if (s.publicUrl) return s.publicUrl;
  const forwardedHost = s.trustProxy ? first(headers['x-forwarded-host']) : undefined;
  const forwardedProto = s.trustProxy ? first(headers['x-forwarded-proto'])?.toLowerCase() : undefined;
  const host = forwardedHost && HOST.test(forwardedHost) ? forwardedHost : (headers.host ?? 'localhost');
  if (!HOST.test(host)) throw new BadRequestError('The Host header is not a host name');
  const proto = forwardedProto === 'http' || forwardedProto === 'https' ? forwardedProto : s.scheme;
  const prefix = s.trustProxy ? prefixOf(headers['x-forwarded-prefix']) : '';
  return `${proto}://${host}${prefix}`;
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'Content-Type,If-None-Match,Range',
  'access-control-allow-methods': 'GET,HEAD,OPTIONS',
  'access-control-expose-headers': 'ETag,Location,Content-Length,Docker-Content-Digest,Docker-Distribution-Api-Version',
} as const;

/**
 * Headers every answer carries, by the route's kind: `nosniff` always; answers of write
 * routes (they carry signed URLs and upload state) are never stored by a cache; CORS only on
 * public reads (a browser page on another origin has no business with write routes).
 */
export function answerHeaders(
  route: { auth: Auth; method: string } | undefined,
  requestHeaders: Record<string, string>,
): Record<string, string> {
  const out: Record<string, string> = { 'x-content-type-options': 'nosniff' };
  if (route?.auth === 'write') out['cache-control'] = 'no-store';
  if (requestHeaders.origin && route && route.auth === 'public' && (route.method === 'GET' || route.method === 'HEAD')) {
    Object.assign(out, CORS);
  }
  return out;
}

export const PREFLIGHT_HEADERS: Record<string, string> = { ...CORS, 'access-control-max-age': '600' };

/** If-None-Match names this ETag (weak comparison, RFC 9110 13.1.2) or is `*` (/repo, the web catalog). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  for (const raw of ifNoneMatch.split(',')) {
    const tag = raw.trim();
    if (tag === '*' || tag === etag || (tag.startsWith('W/') && tag.slice(2) === etag)) return true;
  }
  return false;
}
