/**
 * GET /repo: content negotiation as Cosmos expects, strong ETags, 304s, gzip, and a
 * redirect to a pre-rendered object for any answer bigger than a small inline limit
 * (config.repoInlineBytes), so the index's bytes go from the store to the client and the
 * function only answers a few hundred bytes (docs/benchmarks.md; a Lambda response also caps at 6 MB).
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { AlreadyExistsError, NotAcceptableError } from './errors';
import { keys } from './keys';
import type { Response } from './http/handler';
import type { Registry } from './registry';
import { dcosVersionFromUserAgent, renderRepo, type RepoVersion } from './universe/render';

export const REPO_MEDIA_TYPE = 'application/vnd.dcos.universe.repo+json';
/** Lambda caps responses at 6 MB including base64 overhead; no answer inline is ever bigger. */
export const INLINE_LIMIT = 4 * 1024 * 1024;
/** Lifetime of the redirect's signed URL. The object under it never changes (content-keyed). */
export const REDIRECT_TTL_S = 300;

export interface Variant {
  repoVersion: RepoVersion;
  /** The Content-Type to answer with. */
  contentType: string;
}

/**
 * Pick the highest repo version the client accepts. Cosmos sends all of v5, v4, v3 (in
 * any order). A client without Accept (or with * / *) gets v5; one asking for plain
 * application/json gets v5 with that type; anything else is 406.
 */
export function negotiate(accept: string | undefined): Variant {
  const items = (accept ?? '*/*')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  let best: RepoVersion | undefined;
  let anyJson = false;
  for (const item of items) {
    const [type, ...params] = item.split(';').map((s) => s.trim());
    const p = Object.fromEntries(params.map((x) => x.split('=').map((s) => s.trim().toLowerCase())));
    if (p.q !== undefined && Number(p.q) === 0) continue;
    const t = type.toLowerCase();
    if (t === REPO_MEDIA_TYPE) {
      const v = (p.version ?? 'v5') as RepoVersion;
      if (v === 'v3' || v === 'v4' || v === 'v5') if (!best || v > best) best = v;
    } else if (t === '*/*' || t === 'application/*' || t === 'application/json') {
      anyJson = true;
    }
  }
  if (best) return { repoVersion: best, contentType: `${REPO_MEDIA_TYPE};charset=utf-8;version=${best}` };
  if (anyJson) {
    const plain = items.some((i) => i.toLowerCase().startsWith('application/json'));
    return { repoVersion: 'v5', contentType: plain ? 'application/json;charset=utf-8' : `${REPO_MEDIA_TYPE};charset=utf-8;version=v5` };
  }
  throw new NotAcceptableError(`Cannot answer with any of: ${(accept ?? '').slice(0, 200)}`, {
    supported: ['v5', 'v4', 'v3'].map((v) => `${REPO_MEDIA_TYPE};charset=utf-8;version=${v}`),
  });
}

function acceptsGzip(acceptEncoding: string | undefined): boolean {
  return /(^|,)\s*gzip\s*(;\s*q=(?!0(\.0*)?\s*($|,))[\d.]+)?\s*($|,)/i.test(acceptEncoding ?? '');
}

interface Rendered {
  etag: string;
  body: Buffer;
  gzipped?: Buffer;
  /** The answers' bodies as the function response carries them, encoded once. */
  text?: string;
  gzippedBase64?: string;
  /** Written to the store for redirects (by this or another instance). */
  stored?: boolean;
}

/**
 * Per-instance cache of rendered variants, keyed by catalog content + variant; one per catalog,
 * so two registries in one process (tests, the bench) never share a "stored" flag. Small.
 */
const caches = new WeakMap<object, Map<string, Rendered>>();
const CACHE_ENTRIES = 8;

export interface RepoRequest {
  accept?: string;
  acceptEncoding?: string;
  ifNoneMatch?: string;
  userAgent?: string;
  origin: string;
}

export async function repoAnswer(registry: Registry, req: RepoRequest): Promise<Response> {
  const variant = negotiate(req.accept);
  const dcosVersion = dcosVersionFromUserAgent(req.userAgent);
  const publicUrl = registry.config.publicUrl ?? req.origin;
  const dockerHost = registry.config.dockerHost ?? new URL(publicUrl).host;
  const { state } = await registry.catalog.read();
  const catalogState = registry.catalog.contentId();
  const id = createHash('sha256')
    .update(JSON.stringify([catalogState, variant.repoVersion, variant.contentType, dcosVersion ?? '', publicUrl, dockerHost]))
    .digest('base64url')
    .slice(0, 32);
  const etag = `"${id}"`;
  const headers: Record<string, string> = { etag, 'cache-control': 'no-cache', vary: 'Accept, Accept-Encoding, User-Agent' };
  if (req.ifNoneMatch?.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
    return { statusCode: 304, headers, body: '' };
  }
  let cache = caches.get(registry.catalog);
  if (!cache) caches.set(registry.catalog, (cache = new Map()));
  let rendered = cache.get(id);
  if (!rendered) {
    const body = Buffer.from(JSON.stringify(renderRepo(state, { repoVersion: variant.repoVersion, publicUrl, dockerHost, dcosVersion })));
    rendered = { etag, body };
    cache.set(id, rendered);
    if (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  }
  headers['content-type'] = variant.contentType;
  // Inline only small answers: bigger ones cost more passing through a function (base64 between
  // worker threads in serverless offline, per-byte streaming on Lambda) than a redirect hop.
  // With proxy downloads the client cannot reach the store: inline up to what a response holds.
  const limit = registry.config.downloads === 'proxy' ? INLINE_LIMIT : Math.min(registry.config.repoInlineBytes, INLINE_LIMIT);
  if (acceptsGzip(req.acceptEncoding)) {
    if (rendered.body.length > limit * 32) {
      // Cannot fit even gzipped (JSON rarely shrinks 32×): skip the compression.
    } else if ((rendered.gzipped ??= gzipSync(rendered.body, { level: 6 })).length <= limit) {
      rendered.gzippedBase64 ??= rendered.gzipped.toString('base64');
      return { statusCode: 200, headers: { ...headers, 'content-encoding': 'gzip' }, body: rendered.gzippedBase64, isBase64Encoded: true };
    }
  } else if (rendered.body.length <= limit) {
    rendered.text ??= rendered.body.toString('utf8');
    return { statusCode: 200, headers, body: rendered.text };
  }
  // Write the variant once (create-only: the key names its content) and redirect to it. The
  // object stays uncompressed: a signed GET returns a stored Content-Encoding to every client.
  const key = keys.rendered(catalogState, `${id}-repo-${variant.repoVersion}.json`);
  if (!rendered.stored) {
    await registry.storage.put(key, rendered.body, { ifNoneMatch: '*', contentType: variant.contentType }).catch((e) => {
      if (!(e instanceof AlreadyExistsError)) throw e;
    });
    rendered.stored = true;
  }
  const location = await registry.storage.signGet(key, { expiresIn: REDIRECT_TTL_S, origin: req.origin, contentType: variant.contentType });
  return { statusCode: 307, headers: { ...headers, location, 'cache-control': 'no-store' }, body: '' };
}
