/**
 * What the pages show, derived from the catalog state alone (no store request): one summary per
 * package (its versions newest first, the newest version's metadata), the facets, and the
 * filtering the list page and its script both apply.
 */
import type { CatalogState, CatalogVersion } from '../catalog/model';
import { rewriteResource } from '../universe/render';
import { compareVersions } from '../universe/version';

type Json = Record<string, unknown>;

export interface PackageSummary {
  name: string;
  /** Newest first (the order of releaseVersion, highest first). */
  versions: CatalogVersion[];
  newest: CatalogVersion;
  /** The package's own `selected` flag as authored (and kept by add); /repo always serves false. */
  certified: boolean;
  tags: string[];
  maintainer: string;
  description: string;
  /** /resource/... of the newest version's icon, when its bytes are in the registry. */
  icon?: string;
  /** Lower-cased name, description and tags: what search matches. */
  search: string;
}

/** How much of a description search reads (every card carries it, so it bounds the list page). */
const SEARCH_DESCRIPTION_CHARS = 300;

const str = (v: unknown) => (typeof v === 'string' ? v : '');

/** Resource URLs of a version rewritten to the registry's own /resource routes (relative). */
export function servedResource(v: CatalogVersion): Json {
  return (rewriteResource(v, '', '') ?? {}) as Json;
}

/** The registry's own URL of an image field (icon-small, screenshots...), or undefined for a remote one. */
export function localImage(url: unknown): string | undefined {
  return typeof url === 'string' && /^\/resource\/[a-f0-9]{64}\/[^/?#]+$/.test(url) ? url : undefined;
}

export function iconOf(v: CatalogVersion, sizes = ['icon-medium', 'icon-small', 'icon-large']): string | undefined {
  const images = (servedResource(v).images ?? {}) as Json;
  for (const s of sizes) {
    const u = localImage(images[s]);
    if (u) return u;
  }
  return undefined;
}

export function summarize(state: CatalogState): PackageSummary[] {
  const byName = new Map<string, CatalogVersion[]>();
  for (const v of state.versions) {
    const list = byName.get(v.name);
    if (list) list.push(v);
    else byName.set(v.name, [v]);
  }
  return [...byName.keys()].sort().map((name) => {
    const versions = byName.get(name)!.sort((a, b) => compareVersions(b.version, a.version) || b.seq - a.seq);
    const newest = versions[0]!;
    const p = newest.package;
    const tags = Array.isArray(p.tags) ? p.tags.filter((t): t is string => typeof t === 'string') : [];
    const description = str(p.description);
    return {
      name,
      versions,
      newest,
      certified: p.selected === true,
      tags,
      maintainer: str(p.maintainer),
      description,
      icon: iconOf(newest),
      // The first 300 characters of the description: the list's script and the server match the same text.
      search: [name, description.slice(0, SEARCH_DESCRIPTION_CHARS), ...tags].join(' ').toLowerCase(),
    };
  });
}

export interface ListQuery {
  q: string;
  tag: string;
  maintainer: string;
  page: number;
}

export function matches(s: PackageSummary, query: ListQuery): boolean {
  const q = query.q.trim().toLowerCase();
  return (
    (!q || s.search.includes(q)) && (!query.tag || s.tags.includes(query.tag)) && (!query.maintainer || s.maintainer === query.maintainer)
  );
}

/** value → how many packages carry it, most common first (then by value). */
export function facet(summaries: PackageSummary[], of: (s: PackageSummary) => string[]): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const s of summaries) for (const v of new Set(of(s))) if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}
