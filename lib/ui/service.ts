/**
 * The web catalog's answers (GET /ui/, /ui/packages/{name}, /ui/assets/{file}, and the
 * redirect of GET / for browsers). Pages are public reads, so the work one anonymous request
 * can cause is bounded: the package summaries and list pages are computed once per catalog
 * content (Catalog.contentId(), as /repo's renderings) and held for that content only; the
 * list pages beyond LIST_ALL packages; a package page checks at most MAX_HEADS blobs in the
 * store (the rest say "not checked") and lists at most MAX_UPLOADS uploads in progress.
 */
import { createHash } from 'node:crypto';
import { BadRequestError, NotFoundError, VersionNotFoundError } from '../errors';
import type { Response } from '../http/handler';
import { etagMatches } from '../http/headers';
import { checkName, keys } from '../keys';
import { log } from '../log';
import { describe, type DescribeUpload } from '../packages';
import type { Registry } from '../registry';
import { releaseVersions } from '../catalog/model';
import { ASSET_VERSION, ASSETS } from './assets';
import { pageHeaders } from './html';
import { errorPage, listPage, packagePage, type Presence } from './pages';
import { type ListQuery, type PackageSummary, summarize } from './view';

/** Blobs one package page checks in the store (HEAD), at most. */
const MAX_HEADS = 48;
/** HEADs in flight for one page. */
const HEAD_CONCURRENCY = 8;
/** Versions with an upload in progress shown on one package page, at most. */
const MAX_UPLOADS = 10;
/** List pages held per catalog content (each a distinct query). */
const LIST_PAGES_HELD = 32;
/** Longest query value read. */
const MAX_QUERY = 200;

const HTML = 'text/html; charset=utf-8';
const hash = (parts: unknown[]) => createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 32);

interface Held {
  contentId: string;
  summaries: PackageSummary[];
  byName: Map<string, PackageSummary>;
  lists: Map<string, string>;
  /** Blob digests seen present in the store (verified blobs never change; referenced ones are never collected). */
  present: Set<string>;
}

const held = new WeakMap<object, Held>();

async function current(registry: Registry) {
  const { state } = await registry.catalog.read();
  const contentId = registry.catalog.contentId();
  let h = held.get(registry.catalog);
  if (h?.contentId !== contentId) {
    const summaries = summarize(state);
    h = { contentId, summaries, byName: new Map(summaries.map((s) => [s.name, s])), lists: new Map(), present: new Set() };
    held.set(registry.catalog, h);
  }
  return { state, held: h };
}

/** If-None-Match names this ETag; a header over 2 KiB is not read (the page is answered whole). */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  return ifNoneMatch !== undefined && ifNoneMatch.length <= 2048 && etagMatches(ifNoneMatch, etag);
}

const page = (statusCode: number, body: string, extra: Record<string, string> = {}): Response => ({
  statusCode,
  headers: { ...pageHeaders(HTML), 'cache-control': 'no-cache', ...extra },
  body,
});

function param(query: Record<string, string>, name: string): string {
  const v = query[name];
  if (v === undefined) return '';
  if (v.length > MAX_QUERY) throw new BadRequestError(`The ${name} parameter is longer than ${MAX_QUERY} characters`);
  return v;
}

export interface UiRequest {
  query: Record<string, string>;
  headers: Record<string, string>;
  /** scheme://host the client used (REGISTRY_PUBLIC_URL wins). */
  origin: string;
}

/** GET /ui/: the list of packages. */
export async function listAnswer(registry: Registry, req: UiRequest): Promise<Response> {
  const query: ListQuery = {
    q: param(req.query, 'q'),
    tag: param(req.query, 'tag'),
    maintainer: param(req.query, 'maintainer'),
    page: Math.max(1, Math.min(1_000_000, Number.parseInt(param(req.query, 'page'), 10) || 1)),
  };
  const { held: h } = await current(registry);
  const id = JSON.stringify(query);
  const etag = `"${hash([h.contentId, id, ASSET_VERSION])}"`;
  if (matches(req.headers['if-none-match'], etag)) return { statusCode: 304, headers: { etag, 'cache-control': 'no-cache' }, body: '' };
  let html = h.lists.get(id);
  if (html === undefined) {
    html = listPage(h.summaries, query);
    h.lists.set(id, html);
    while (h.lists.size > LIST_PAGES_HELD) h.lists.delete(h.lists.keys().next().value!);
  }
  return page(200, html, { etag });
}

async function presence(registry: Registry, h: Held, digests: string[]): Promise<Presence> {
  const known = new Map<string, boolean>();
  const unknown = [...new Set(digests)].filter((d) => !h.present.has(d)).slice(0, MAX_HEADS);
  let next = 0;
  const worker = async () => {
    while (next < unknown.length) {
      const d = unknown[next++]!;
      try {
        await registry.storage.head(keys.blob(d));
        known.set(d, true);
        h.present.add(d);
      } catch (error) {
        if (error instanceof NotFoundError) known.set(d, false);
        else log.warn('web catalog: blob presence unknown', { digest: d, error: (error as Error).message });
      }
    }
  };
  await Promise.all(Array.from({ length: HEAD_CONCURRENCY }, worker));
  return { of: (d) => (h.present.has(d) ? true : known.get(d)) };
}

/** Uploads of this package not (yet) in the catalog: Uploading, Processing, Failed (reason: writers, from the JSON route). */
async function uploadsOf(registry: Registry, summary: PackageSummary | undefined, name: string): Promise<DescribeUpload[]> {
  const prefix = keys.uploadIndexNamePrefix(name);
  const entries = await registry.storage.list(prefix, { limit: 1000 });
  const inCatalog = new Set(summary?.versions.map((v) => v.version));
  const versions = [...new Set(entries.map((e) => e.key.slice(prefix.length).split('/')[0]!))].filter((v) => v && !inCatalog.has(v));
  const found = await Promise.all(
    versions.slice(0, MAX_UPLOADS).map((v) =>
      describe(registry, name, v).catch((error) => {
        if (error instanceof VersionNotFoundError) return undefined;
        throw error;
      }),
    ),
  );
  return found.filter((d): d is DescribeUpload => d !== undefined && d.status !== 'Added');
}

/** GET /ui/packages/{name}?version=&compare= */
export async function packageAnswer(registry: Registry, name: string, req: UiRequest): Promise<Response> {
  const wanted = param(req.query, 'version');
  const compareTo = param(req.query, 'compare');
  try {
    checkName(name);
  } catch {
    return page(404, errorPage('Package not found', `There is no package named ${name.slice(0, 100)} in this registry.`));
  }
  const { state, held: h } = await current(registry);
  const summary = h.byName.get(name);
  const uploads = await uploadsOf(registry, summary, name);
  if (!summary) {
    if (!uploads.length) return page(404, errorPage('Package not found', `There is no package named ${name} in this registry.`));
    const empty: PackageSummary = {
      name,
      versions: [],
      newest: undefined!,
      certified: false,
      tags: [],
      maintainer: '',
      description: '',
      search: name,
    };
    return page(
      200,
      packagePage({ summary: empty, presence: { of: () => undefined }, uploads, origin: registry.config.publicUrl ?? req.origin }),
    );
  }
  const version = wanted ? summary.versions.find((v) => v.version === wanted) : summary.newest;
  if (!version) {
    return page(
      404,
      errorPage('Version not found', `${name} has no version ${wanted} in this registry; see ${name}'s page for the versions it has.`),
    );
  }
  const compare = compareTo ? summary.versions.find((v) => v.version === compareTo && v !== version) : undefined;
  const digests = [...version.assets.map((a) => a.digest), ...version.images.flatMap((i) => [i.manifestDigest, ...(i.blobs ?? [])])];
  const html = packagePage({
    summary,
    version,
    releaseVersion: releaseVersions(state).get(version),
    compare,
    presence: await presence(registry, h, digests),
    uploads,
    origin: registry.config.publicUrl ?? req.origin,
  });
  return page(200, html);
}

/** GET /ui/assets/{file}: the stylesheet and the script. */
export function assetAnswer(file: string, req: Pick<UiRequest, 'query' | 'headers'>): Response {
  const asset = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
  if (!asset)
    return { statusCode: 404, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' }, body: 'Not found\n' };
  // A URL naming the current version never changes; any other is revalidated.
  const cache = req.query.v === ASSET_VERSION ? 'public, max-age=31536000, immutable' : 'no-cache';
  if (matches(req.headers['if-none-match'], asset.etag))
    return { statusCode: 304, headers: { etag: asset.etag, 'cache-control': cache }, body: '' };
  return { statusCode: 200, headers: { ...pageHeaders(asset.type), etag: asset.etag, 'cache-control': cache }, body: asset.body };
}
