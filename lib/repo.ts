/**
 * GET /repo: content negotiation as Cosmos expects, strong ETags, 304s, gzip, and the answer's
 * bytes as a BytesResponse that each runtime delivers as is fastest for its client: the
 * production server writes them itself (no redirect, no payload limit, no store request); a
 * Lambda answers inline up to what its 6 MB response holds after base64 (and
 * config.repoInlineBytes), and past that redirects to the same bytes stored once per catalog
 * state, a plain and a gzip rendering (`Content-Encoding: gzip` stored with it), chosen by
 * Accept-Encoding and by whether gzip pays for the client (gzipPays: a big document gzip does not
 * halve goes plain). With proxy downloads /repo never redirects (clients cannot reach the store).
 *
 * Anonymous clients choose the request headers, so nothing derived from them is ever stored
 * (issue 10): a stored rendering is named by the catalog's content, the repo version, the
 * catalog's own DC/OS threshold interval and the configured base. A base taken from the request
 * (no REGISTRY_PUBLIC_URL) is rendered into memory only, at most
 * config.repoRenderingsPerState renderings per catalog state, and answered inline. Headers are
 * capped and split and scanned, never fed to a backtracking pattern.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { CatalogState } from './catalog/model';
import { AlreadyExistsError, BadRequestError, NotAcceptableError } from './errors';
import { keys } from './keys';
import { log } from './log';
import { type BytesResponse, LAMBDA_INLINE_MAX, LAMBDA_TEXT_MAX, type Response } from './http/handler';
import { etagMatches } from './http/headers';
import type { Registry } from './registry';
import { dcosInterval, dcosThresholds, dcosVersionFromUserAgent, renderRepo, type RepoVersion } from './universe/render';

const REPO_MEDIA_TYPE = 'application/vnd.dcos.universe.repo+json';
/** Lifetime of the redirect's signed URL. The object under it never changes (content-keyed). */
const REDIRECT_TTL_S = 300;

interface Variant {
  repoVersion: RepoVersion;
  /** The Content-Type to answer with. */
  contentType: string;
}

/**
 * Pick the highest repo version the client accepts. Cosmos sends all of v5, v4, v3 (in
 * any order). A client without Accept (or with * / *) gets v5; one asking for plain
 * application/json gets v5 with that type; anything else is 406.
 */
function negotiate(accept: string | undefined): Variant {
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

/** Longest Accept, Accept-Encoding, If-None-Match or User-Agent /repo reads (Cosmos sends about 200 characters). */
export const MAX_HEADER_CHARS = 2048;

function capped(name: string, value: string | undefined): string | undefined {
  if (value !== undefined && value.length > MAX_HEADER_CHARS) {
    throw new BadRequestError(`The ${name} header is longer than ${MAX_HEADER_CHARS} characters`, {
      header: name,
      limit: MAX_HEADER_CHARS,
    });
  }
  return value;
}

/** A qvalue (RFC 9110 12.4.2): 0 to 1 with up to three decimals; anything else counts as 0. */
function qvalue(raw: string): number {
  const q = raw.trim();
  if (q.length === 0 || q.length > 5) return 0;
  for (let i = 0; i < q.length; i++) {
    const c = q.charCodeAt(i);
    if (!(c === 46 || (c >= 48 && c <= 57))) return 0;
  }
  const n = Number(q);
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : 0;
}

/**
 * Whether the client takes gzip (RFC 9110 12.5.3): a `gzip` (or `x-gzip`) coding with a
 * non-zero q, else a `*` with one. Split and scanned: a header is never fed to a pattern
 * that backtracks (issue 10: a 15 KB value cost 0.4 s of CPU).
 */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  let gzip: number | undefined;
  let any: number | undefined;
  for (const item of (acceptEncoding ?? '').split(',')) {
    const [coding = '', ...params] = item.split(';');
    const name = coding.trim().toLowerCase();
    if (name !== 'gzip' && name !== 'x-gzip' && name !== '*') continue;
    let q = 1;
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq >= 0 && p.slice(0, eq).trim().toLowerCase() === 'q') q = qvalue(p.slice(eq + 1));
    }
    if (name === '*') any = q;
    else gzip = Math.max(gzip ?? 0, q);
  }
  return (gzip ?? any ?? 0) > 0;
}

interface Rendered {
  body: Buffer;
  gzipped?: Buffer;
  /** The answers' bodies as the function response carries them, encoded once. */
  text?: string;
  base64?: string;
  gzippedBase64?: string;
}

/**
 * What an instance holds for the catalog state it last served: at most
 * config.repoRenderingsPerState renderings (least recently used goes first), the state's DC/OS
 * thresholds, and which stored renderings are known to be written. Renderings for a base
 * taken from request headers live here only: nothing a client sends is ever persisted.
 */
interface StateRenderings {
  contentId: string;
  /** A too-big inline answer for a header-derived base was logged (once per state). */
  warned?: boolean;
  thresholds: string[];
  held: Map<string, Rendered>;
  /** Names of renderings for the configured base written to the store (by this or another instance). */
  stored: Set<string>;
}

/** One per catalog object, so two registries in one process (tests, the bench) never share one. */
const states = new WeakMap<object, StateRenderings>();

function renderingsOf(registry: Registry, state: CatalogState): StateRenderings {
  const contentId = registry.catalog.contentId();
  let current = states.get(registry.catalog);
  if (current?.contentId !== contentId) {
    // A new state replaces the old one's renderings: their answers are gone for good.
    current = { contentId, thresholds: dcosThresholds(state), held: new Map(), stored: new Set() };
    states.set(registry.catalog, current);
  }
  return current;
}

/** How many renderings the instance holds for the registry's current catalog state. */
export function heldRenderings(registry: Registry): number {
  return states.get(registry.catalog)?.held.size ?? 0;
}

export interface RepoRequest {
  /** The raw request headers /repo reads; each is capped at MAX_HEADER_CHARS. */
  accept?: string;
  acceptEncoding?: string;
  ifNoneMatch?: string;
  userAgent?: string;
  /** scheme://host the client used: the base only when REGISTRY_PUBLIC_URL is not set. */
  origin: string;
}

/**
 * Most of the plain bytes a gzip rendering may keep and still be served gzip. A client pays to
 * inflate every byte of the document: on a data-centre link (1 Gbit/s, 8 ns a byte) that costs
 * about what the bytes it saves do (the bench's 36 MiB catalog, whose base64 filler gzip keeps
 * 73% of, arrives in 834 ms plain and 1148 ms gzip at 1 Gbit/s; the 19.6 MiB one, 28%, in 975 ms
 * plain and 784 ms gzip). Catalogs of JSON and prose gzip 3-6× and go gzip to clients that take
 * it; ones made mostly of base64 blobs (big marathon templates) go plain.
 */
export const GZIP_KEEPS_AT_MOST = 0.5;
/**
 * Documents up to this size go gzip to clients that take it whatever gzip keeps: there round trips
 * (TCP's first windows), not bytes, decide, and inflating them costs the client about a millisecond.
 */
export const GZIP_ALWAYS_UP_TO = 256 * 1024;

/**
 * Whether a client that takes gzip is better served the gzip rendering: a small document, one that
 * gzip at least halves, or one whose gzip bytes alone fit an inline Lambda answer (`inlineMax`: a
 * redirect costs the client a second request, and without a store to redirect to the plain bytes
 * would not fit the response at all).
 */
export function gzipPays(plainBytes: number, gzipBytes: number, inlineMax?: number): boolean {
  if (plainBytes <= GZIP_ALWAYS_UP_TO || gzipBytes <= plainBytes * GZIP_KEEPS_AT_MOST) return true;
  return inlineMax !== undefined && plainBytes > inlineMax && gzipBytes <= inlineMax;
}

const hash = (parts: unknown[]) => createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 32);

export async function repoAnswer(registry: Registry, req: RepoRequest): Promise<Response | BytesResponse> {
  const variant = negotiate(capped('Accept', req.accept));
  const takesGzip = acceptsGzip(capped('Accept-Encoding', req.acceptEncoding));
  const ifNoneMatch = capped('If-None-Match', req.ifNoneMatch);
  const dcosVersion = dcosVersionFromUserAgent(capped('User-Agent', req.userAgent));
  const configured = registry.config.publicUrl;
  const publicUrl = configured ?? req.origin;
  const dockerHost = registry.config.dockerHost ?? new URL(publicUrl).host;
  const { state } = await registry.catalog.read();
  const renderings = renderingsOf(registry, state);
  // A rendering is named by what decides its bytes, and nothing else: the catalog's content,
  // the repo version, the DC/OS threshold interval and the base of its URLs. Only renderings
  // for the configured base are ever stored, so no request header reaches a stored key.
  const interval = dcosInterval(renderings.thresholds, dcosVersion);
  const id = hash([renderings.contentId, variant.repoVersion, interval, publicUrl, dockerHost]);
  const etag = `"${hash([id, variant.contentType])}"`;
  const headers: Record<string, string> = { etag, 'cache-control': 'no-cache', vary: 'Accept, Accept-Encoding, User-Agent' };
  if (etagMatches(ifNoneMatch, etag)) return { statusCode: 304, headers, body: '' };

  let rendered = renderings.held.get(id);
  if (rendered) {
    renderings.held.delete(id); // re-inserted below: most recently used last
  } else {
    const visibleTo = interval === renderings.thresholds.length ? undefined : dcosVersion;
    const doc = renderRepo(state, { repoVersion: variant.repoVersion, publicUrl, dockerHost, dcosVersion: visibleTo });
    rendered = { body: Buffer.from(JSON.stringify(doc)) };
  }
  renderings.held.set(id, rendered);
  while (renderings.held.size > registry.config.repoRenderingsPerState) renderings.held.delete(renderings.held.keys().next().value!);

  headers['content-type'] = variant.contentType;
  if (!configured && !renderings.warned && rendered.body.length > LAMBDA_INLINE_MAX) {
    renderings.warned = true;
    log.warn('/repo answers inline past what a Lambda response holds: a Lambda deployment needs REGISTRY_PUBLIC_URL to redirect them', {
      bytes: rendered.body.length,
    });
  }
  // Each runtime delivers it as is fastest for its client (lib/http/handler.ts BytesResponse): the
  // server writes the bytes; Lambda inlines them while they fit its payload, else redirects to
  // the stored rendering. Only renderings for the configured base are stored, and with proxy
  // downloads clients cannot reach the store: then there is no redirect at all.
  const storable = configured !== undefined && registry.config.downloads !== 'proxy';
  // Gzip as the stored rendering has it, for clients that take it (Cosmos does) where it pays
  // (gzipPays: a catalog of JSON and prose is 3-6× fewer bytes; one of base64 blobs goes plain).
  const r = rendered;
  const gzipped = takesGzip ? (r.gzipped ??= gzipSync(r.body, { level: 6 })) : undefined;
  // What a Lambda answers inline: past it a redirect, or (nowhere to redirect to) a payload too big.
  const inlineMax = storable ? Math.min(registry.config.repoInlineBytes, LAMBDA_INLINE_MAX) : LAMBDA_INLINE_MAX;
  const gzip = gzipped !== undefined && gzipPays(r.body.length, gzipped.length, inlineMax);
  const encoding = gzip ? 'gzip' : 'identity';
  const bytes = gzip && gzipped ? gzipped : r.body;
  if (gzip) headers['content-encoding'] = 'gzip';
  return {
    statusCode: 200,
    headers,
    bytes,
    inlineBytes: registry.config.repoInlineBytes,
    payload: () => {
      if (!gzip && bytes.length <= LAMBDA_TEXT_MAX) return { body: (r.text ??= bytes.toString('utf8')), isBase64Encoded: false };
      if (gzip) return { body: (r.gzippedBase64 ??= bytes.toString('base64')), isBase64Encoded: true };
      return { body: (r.base64 ??= bytes.toString('base64')), isBase64Encoded: true };
    },
    location: storable
      ? async () => {
          // Written once (create-only: the key names its content), with its coding as metadata so
          // that a GET of it answers Content-Encoding: gzip. The signed URL sets the Content-Type,
          // so the plain JSON and the vendor type share one object.
          const name = `${hash([id, encoding])}-repo-${variant.repoVersion}.json${gzip ? '.gz' : ''}`;
          const key = keys.rendered(renderings.contentId, name);
          const contentEncoding = gzip ? 'gzip' : undefined;
          if (!renderings.stored.has(name)) {
            await registry.storage.put(key, bytes, { ifNoneMatch: '*', contentType: variant.contentType, contentEncoding }).catch((e) => {
              if (!(e instanceof AlreadyExistsError)) throw e;
            });
            renderings.stored.add(name);
          }
          return registry.storage.signGet(key, {
            expiresIn: REDIRECT_TTL_S,
            origin: publicUrl,
            contentType: variant.contentType,
            contentEncoding,
          });
        }
      : undefined,
  };
}
