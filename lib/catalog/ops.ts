/** The two changes the catalog knows, as plans for Catalog.commit. */
import { VersionExistsError, VersionNotFoundError } from '../errors';
import type { Catalog } from './catalog';
import { find, type CatalogState, type CatalogVersion } from './model';

/**
 * Add a version. Same name+version with the same content digest: success without a new
 * entry (idempotent retry); with other content: VersionExistsError. Returns the seq of
 * the add that is in the catalog.
 */
export function addVersion(catalog: Catalog, entry: Omit<CatalogVersion, 'seq'>, guard?: (state: CatalogState) => void): Promise<number> {
  return catalog.commit((state) => {
    const existing = find(state, entry.name, entry.version);
    if (!existing) guard?.(state);
    if (existing) {
      if (existing.contentDigest === entry.contentDigest) return { result: existing.seq };
      throw new VersionExistsError(entry.name, entry.version);
    }
    const seq = state.seq + 1;
    return { entry: { op: 'add', entry: { ...entry, seq } }, result: seq };
  });
}

/** Remove a version; VersionNotFoundError when it is not in the catalog. */
export function removeVersion(catalog: Catalog, name: string, version: string, now = new Date()): Promise<number> {
  return catalog.commit((state) => {
    if (!find(state, name, version)) throw new VersionNotFoundError(name, version);
    const seq = state.seq + 1;
    return { entry: { op: 'remove', name, version, removedAt: now.toISOString() }, result: seq };
  });
}

/**
 * Add many versions in one commit (bulk imports, benchmark seeding): all or nothing.
 * Versions already present with the same content are skipped; other content fails all.
 */
export function addVersions(catalog: Catalog, entries: Array<Omit<CatalogVersion, 'seq'>>): Promise<number> {
  return catalog.commit((state) => {
    const fresh = entries.filter((e) => {
      const existing = find(state, e.name, e.version);
      if (existing && existing.contentDigest !== e.contentDigest) throw new VersionExistsError(e.name, e.version);
      return !existing;
    });
    if (fresh.length === 0) return { result: state.seq };
    const seq = state.seq + 1;
    return { entry: { op: 'addMany', entries: fresh.map((e) => ({ ...e, seq })) }, result: seq };
  });
}
