/**
 * Renders the Universe repository index (GET /repo) from the catalog: each entry is the
 * package metadata as uploaded, except `releaseVersion` (derived), `selected` (false) and
 * `resource`, whose URLs are rewritten to the registry's own routes and whose Docker
 * images are rewritten to <docker host>/<repository>@<manifest digest>.
 */
import { releaseVersions, type CatalogState, type CatalogVersion } from '../catalog/model';
import { compareVersions } from './version';

export type RepoVersion = 'v3' | 'v4' | 'v5';

/** Highest packagingVersion each repo media type version may carry. */
const MAX_PACKAGING: Record<RepoVersion, number> = { v3: 3, v4: 4, v5: 5 };

export interface RenderOptions {
  repoVersion: RepoVersion;
  /** Base of rewritten resource URLs, e.g. https://registry.example.com */
  publicUrl: string;
  /** host[:port] in rewritten image references. */
  dockerHost: string;
  /** DC/OS release of the client (from User-Agent "dcos/X.Y"), to filter minDcosReleaseVersion. */
  dcosVersion?: string;
}

function resourceUrl(publicUrl: string, digest: string, name: string): string {
  return `${publicUrl}/resource/${digest.replace(/^sha256:/, '')}/${encodeURIComponent(name)}`;
}

function imageReference(dockerHost: string, repository: string, manifestDigest: string): string {
  return `${dockerHost}/${repository}@${manifestDigest}`;
}

type Json = Record<string, unknown>;

/** Every URL field of a Universe resource, as [path, url]: assets.uris, images, cli binaries. */
export function resourceUrls(resource: Json | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (!resource) return out;
  const uris = (resource.assets as Json | undefined)?.uris as Json | undefined;
  for (const [k, v] of Object.entries(uris ?? {})) if (typeof v === 'string') out.push([`assets.uris.${k}`, v]);
  const images = resource.images as Json | undefined;
  for (const [k, v] of Object.entries(images ?? {})) {
    if (typeof v === 'string') out.push([`images.${k}`, v]);
    else if (Array.isArray(v)) for (const [i, u] of v.entries()) if (typeof u === 'string') out.push([`images.${k}.${i}`, u]);
  }
  const binaries = (resource.cli as Json | undefined)?.binaries as Json | undefined;
  for (const [os, arches] of Object.entries(binaries ?? {})) {
    for (const [arch, bin] of Object.entries((arches as Json) ?? {})) {
      const u = (bin as Json | undefined)?.url;
      if (typeof u === 'string') out.push([`cli.binaries.${os}.${arch}.url`, u]);
    }
  }
  return out;
}

/** Docker references of a resource, as [key, reference]. */
export function resourceImages(resource: Json | undefined): Array<[string, string]> {
  const docker = ((resource?.assets as Json | undefined)?.container as Json | undefined)?.docker as Json | undefined;
  return Object.entries(docker ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string');
}

/** The served resource of one catalog version. */
export function rewriteResource(v: CatalogVersion, publicUrl: string, dockerHost: string): Json | undefined {
  const original = v.package.resource as Json | undefined;
  if (!original) return undefined;
  const resource = structuredClone(original);
  const assets = new Map(v.assets.map((a) => [a.uri, a]));
  const map = (u: string) => {
    const a = assets.get(u);
    return a ? resourceUrl(publicUrl, a.digest, a.name) : u;
  };
  const uris = (resource.assets as Json | undefined)?.uris as Json | undefined;
  if (uris) for (const k of Object.keys(uris)) if (typeof uris[k] === 'string') uris[k] = map(uris[k] as string);
  const images = resource.images as Json | undefined;
  if (images) {
    for (const k of Object.keys(images)) {
      const val = images[k];
      if (typeof val === 'string') images[k] = map(val);
      else if (Array.isArray(val)) images[k] = val.map((u) => (typeof u === 'string' ? map(u) : u));
    }
  }
  const binaries = (resource.cli as Json | undefined)?.binaries as Json | undefined;
  for (const arches of Object.values(binaries ?? {})) {
    for (const bin of Object.values((arches as Json) ?? {})) {
      const b = bin as Json;
      if (b && typeof b.url === 'string') b.url = map(b.url);
    }
  }
  const docker = ((resource.assets as Json | undefined)?.container as Json | undefined)?.docker as Json | undefined;
  if (docker) {
    // By key first (the bundle records one image per key), else by the reference written there.
    const byKey = new Map(v.images.filter((i) => i.key !== undefined).map((i) => [i.key, i]));
    const byRef = new Map(v.images.map((i) => [i.reference, i]));
    for (const k of Object.keys(docker)) {
      if (typeof docker[k] !== 'string') continue;
      const keyed = byKey.get(k);
      const img = keyed && keyed.reference === docker[k] ? keyed : byRef.get(docker[k] as string);
      if (img) docker[k] = imageReference(dockerHost, img.repository, img.manifestDigest);
    }
  }
  return resource;
}

function packagingMajor(v: CatalogVersion): number {
  return Number.parseFloat(String(v.package.packagingVersion ?? '0'));
}

/** "1.11.0" and "1.11" name the same DC/OS release. (A scan: the version may come from a request header.) */
function trimZeros(v: string): string {
  const parts = v.split('.');
  while (parts.length > 1 && /^0+$/.test(parts[parts.length - 1]!)) parts.pop();
  return parts.join('.');
}

/** `dcos`: the client's DC/OS release, trimmed once per rendering. */
function visible(v: CatalogVersion, repoVersion: RepoVersion, dcos: string | undefined): boolean {
  if (packagingMajor(v) > MAX_PACKAGING[repoVersion]) return false;
  const min = v.package.minDcosReleaseVersion;
  if (dcos && typeof min === 'string' && compareVersions(trimZeros(min), dcos) > 0) return false;
  return true;
}

/** The repository index object for one variant. Entries sorted by name, then releaseVersion. */
export function renderRepo(state: CatalogState, options: RenderOptions): { packages: Json[] } {
  const dcos = options.dcosVersion ? trimZeros(options.dcosVersion) : undefined;
  const rv = releaseVersions(state);
  const packages = state.versions
    .filter((v) => visible(v, options.repoVersion, dcos))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : rv.get(a)! - rv.get(b)!))
    .map((v) => {
      const entry: Json = { ...v.package, releaseVersion: rv.get(v)!, selected: false };
      const resource = rewriteResource(v, options.publicUrl, options.dockerHost);
      if (resource) entry.resource = resource;
      return entry;
    });
  return { packages };
}

/**
 * "Mozilla/5.0 ... dcos/1.13.0" → "1.13.0": the first whitespace-separated product token
 * `dcos/<digits>(.<digits>)*`, its version cut where the pattern stops. Scanned in one pass
 * (no backtracking pattern over a header a client controls).
 */
export function dcosVersionFromUserAgent(userAgent: string | undefined): string | undefined {
  if (!userAgent) return undefined;
  const lower = userAgent.toLowerCase();
  let at = 0;
  for (;;) {
    const found = lower.indexOf('dcos/', at);
    if (found < 0) return undefined;
    at = found + 'dcos/'.length;
    if (found > 0 && !/\s/.test(userAgent[found - 1]!)) continue;
    let end = at;
    // Digits, and a dot only between digits.
    while (end < userAgent.length) {
      const c = userAgent.charCodeAt(end);
      if (c >= 48 && c <= 57) end++;
      else if (c === 46 && end > at && isDigit(userAgent, end - 1) && isDigit(userAgent, end + 1)) end++;
      else break;
    }
    if (end > at) return userAgent.slice(at, end);
  }
}

const isDigit = (s: string, i: number) => i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57;

/**
 * The catalog's own DC/OS release thresholds: its distinct minDcosReleaseVersion values
 * (trailing ".0"s dropped), oldest first. Every DC/OS version between two neighbours sees
 * the same packages, so a rendering is chosen by interval, not by the client's exact version.
 */
export function dcosThresholds(state: CatalogState): string[] {
  const distinct = new Set<string>();
  for (const v of state.versions) {
    const min = v.package.minDcosReleaseVersion;
    if (typeof min === 'string') distinct.add(trimZeros(min));
  }
  return [...distinct].sort(compareVersions);
}

/**
 * How many thresholds a client of `dcosVersion` has reached (0..thresholds.length); a client
 * that names no version sees everything, as one past the newest threshold does. Two clients in
 * the same interval get the same rendering (visible() hides exactly the thresholds above it).
 */
export function dcosInterval(thresholds: readonly string[], dcosVersion: string | undefined): number {
  if (dcosVersion === undefined) return thresholds.length;
  const v = trimZeros(dcosVersion);
  let reached = 0;
  while (reached < thresholds.length && compareVersions(thresholds[reached]!, v) <= 0) reached++;
  return reached;
}
