/**
 * The read-only Docker Registry HTTP API v2 (/v2/...), so that `docker pull` and `skopeo copy`
 * fetch the bundled images of Added packages:
 *
 *   GET /v2/                                  200 {}
 *   GET|HEAD /v2/<name>/manifests/<tag|digest> the stored manifest bytes, stored media type
 *   GET|HEAD /v2/<name>/blobs/<digest>         307 to a signed store URL (proxy mode: the bytes)
 *   GET /v2/<name>/tags/list?n=&last=          {"name","tags"} with a Link header when paged
 *   GET /v2/_catalog?n=&last=                  {"repositories"}
 *
 * Names contain slashes, so the path is parsed here (the gateway route is /v2/{proxy+}).
 * Every answer costs one catalog read (a conditional GET); a manifest GET adds one small GET
 * of its blob, cached by digest (blobs are immutable).
 *
 * Accept: the manifest is always served as stored, with its own media type (no conversion:
 * converting would change the digest that /repo pins). distribution answers 404
 * MANIFEST_UNKNOWN when an OCI manifest is asked for without OCI in Accept, but clients send
 * their media types as several Accept headers (skopeo sends six), and gateways do not keep
 * them all: serverless-offline passes only the last one. Refusing on Accept would then refuse
 * clients that do accept the type; a client that really cannot read it fails on the type.
 */
import { downloadAnswer } from '../downloads';
import type { Request, Response } from '../http/handler';
import { keys } from '../keys';
import type { Registry } from '../registry';
import { parseManifest } from '../docker/manifest';
import {
  dockerIndex,
  indexManifestBlobs,
  REPOSITORY_NAME,
  SHA256,
  TAG,
  type DockerIndex,
  type ManifestInfo,
  type Repository,
} from './repositories';
import { V2_HEADERS, V2Error, v2ErrorAnswer } from './errors';

/** Page size when the client gives no `n`, and the most it may ask for. */
export const MAX_PAGE = 1000;
const MANIFEST_CACHE_BYTES = 32 * 1024 * 1024;

export type V2Request = Pick<Request, 'method' | 'path' | 'query' | 'headers' | 'origin' | 'requestId'>;

/** Per registry (one per process): the index of the last catalog seen. */
const indexed = new WeakMap<Registry, { etag: string; index: DockerIndex }>();
/** Manifest bytes by digest: blobs are immutable, so any registry of the process may share them. */
const manifests = new Map<string, Buffer>();
let manifestBytes = 0;

async function index(registry: Registry): Promise<DockerIndex> {
  const { state, etag } = await registry.catalog.read();
  let entry = indexed.get(registry);
  if (entry?.etag !== etag) indexed.set(registry, (entry = { etag, index: dockerIndex(state) }));
  return entry.index;
}

async function manifestBody(registry: Registry, digest: string): Promise<Buffer> {
  const cached = manifests.get(digest);
  if (cached) return cached;
  const { body } = await registry.storage.get(keys.blob(digest));
  manifests.set(digest, body);
  manifestBytes += body.length;
  for (const [d, b] of manifests) {
    if (manifestBytes <= MANIFEST_CACHE_BYTES) break;
    manifests.delete(d);
    manifestBytes -= b.length;
  }
  return body;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return { statusCode: status, headers: { ...V2_HEADERS, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

function repository(idx: DockerIndex, name: string): Repository {
  const repo = idx.repositories.get(name);
  if (!repo) throw new V2Error('NAME_UNKNOWN', undefined, { name });
  return repo;
}

function pageOf(all: string[], query: Record<string, string>, path: string): { items: string[]; link?: string } {
  let n = MAX_PAGE;
  if (query.n !== undefined) {
    if (!/^\d{1,9}$/.test(query.n)) throw new V2Error('PAGINATION_NUMBER_INVALID', undefined, { n: query.n.slice(0, 20) });
    n = Math.min(Number(query.n), MAX_PAGE);
  }
  const last = query.last;
  const from = last === undefined ? 0 : all.findIndex((x) => x > last);
  const rest = from < 0 ? [] : all.slice(from);
  const items = rest.slice(0, n);
  if (items.length === 0 || rest.length <= n) return { items };
  const next = `${path}?n=${n}&last=${encodeURIComponent(items[items.length - 1])}`;
  return { items, link: `<${next}>; rel="next"` };
}

async function manifestAnswer(registry: Registry, req: V2Request, name: string, reference: string): Promise<Response> {
  const repo = repository(await index(registry), name);
  let info: ManifestInfo | undefined;
  if (reference.includes(':')) {
    if (!SHA256.test(reference))
      throw new V2Error('DIGEST_INVALID', 'invalid digest: only sha256:<64 hex> is served', { digest: reference.slice(0, 100) });
    info = repo.manifests.get(reference);
  } else if (TAG.test(reference)) {
    info = repo.tags.get(reference);
  }
  if (!info)
    throw new V2Error('MANIFEST_UNKNOWN', undefined, { name, ...(reference.includes(':') ? { digest: reference } : { tag: reference }) });
  const headers: Record<string, string> = {
    ...V2_HEADERS,
    'content-type': info.mediaType,
    'docker-content-digest': info.digest,
    etag: `"${info.digest}"`,
    // A tag may move to another manifest when a newer package carrying it is added.
    'cache-control': reference === info.digest ? 'public, max-age=31536000, immutable' : 'no-cache',
  };
  const inm = req.headers['if-none-match'];
  if (inm?.split(',').some((t) => [info.digest, `"${info.digest}"`].includes(t.trim()))) return { statusCode: 304, headers, body: '' };
  if (req.method === 'HEAD') return { statusCode: 200, headers: { ...headers, 'content-length': String(info.size) }, body: '' };
  const body = await manifestBody(registry, info.digest);
  // identity: keeps serverless-offline (hapi) from gzipping it into a chunked answer without a length.
  return {
    statusCode: 200,
    headers: { ...headers, 'content-length': String(body.length), 'content-encoding': 'identity' },
    body: body.toString('base64'),
    isBase64Encoded: true,
  };
}

/** Size of a blob of the repository; reads the manifests of images committed without blob lists. */
async function blobSize(registry: Registry, repo: Repository, digest: string): Promise<number | undefined> {
  while (!repo.blobs.has(digest) && repo.unindexed.length) {
    const m = repo.unindexed[0];
    const parsed = parseManifest(`${repo.name}@${m.digest}`, await manifestBody(registry, m.digest), m.mediaType);
    indexManifestBlobs(repo, m, parsed.kind === 'image' ? [parsed.config, ...parsed.layers] : []);
  }
  return repo.blobs.get(digest);
}

async function blobAnswer(registry: Registry, req: V2Request, name: string, digest: string): Promise<Response> {
  if (!SHA256.test(digest))
    throw new V2Error('DIGEST_INVALID', 'invalid digest: only sha256:<64 hex> is served', { digest: digest.slice(0, 100) });
  const repo = repository(await index(registry), name);
  const size = await blobSize(registry, repo, digest);
  if (size === undefined) throw new V2Error('BLOB_UNKNOWN', undefined, { name, digest });
  return downloadAnswer(registry, {
    hex: digest.slice('sha256:'.length),
    size,
    range: req.headers.range,
    origin: req.origin,
    headers: {
      ...V2_HEADERS,
      'docker-content-digest': digest,
      etag: `"${digest}"`,
      'cache-control': 'public, max-age=31536000, immutable',
    },
    head: req.method === 'HEAD',
  });
}

function segment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function checkName(name: string): string {
  if (name.length > 255 || !REPOSITORY_NAME.test(name)) throw new V2Error('NAME_INVALID', undefined, { name: name.slice(0, 300) });
  return name;
}

async function route(registry: Registry, req: V2Request): Promise<Response> {
  const path = req.path.replace(/\/{2,}/g, '/');
  if (path === '/v2' || path === '/v2/') return json(200, {});
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new V2Error('UNSUPPORTED', 'this registry is read-only');
  const rest = path.slice('/v2/'.length);
  if (rest === '_catalog') {
    const { items, link } = pageOf((await index(registry)).names, req.query, '/v2/_catalog');
    return json(200, { repositories: items }, link ? { link } : {});
  }
  let m = /^(.+)\/tags\/list$/.exec(rest);
  if (m) {
    const name = checkName(m[1]);
    const repo = repository(await index(registry), name);
    const { items, link } = pageOf([...repo.tags.keys()].sort(), req.query, `/v2/${name}/tags/list`);
    return json(200, { name, tags: items }, link ? { link } : {});
  }
  m = /^(.+)\/(manifests|blobs)\/([^/]+)$/.exec(rest);
  if (m) {
    const name = checkName(m[1]);
    const ref = segment(m[3]);
    return m[2] === 'manifests' ? manifestAnswer(registry, req, name, ref) : blobAnswer(registry, req, name, ref);
  }
  throw new V2Error('NOT_FOUND', undefined, { path: path.slice(0, 300) });
}

/** The answer to any /v2 request; errors are answered in the v2 shape, never thrown. */
export async function v2Answer(registry: Registry, req: V2Request): Promise<Response> {
  try {
    return await route(registry, req);
  } catch (error) {
    return v2ErrorAnswer(error, { path: req.path.slice(0, 300), requestId: req.requestId });
  }
}
