/**
 * The catalog's data: what a committed package version holds, the log entries that
 * change the catalog, and the pure function that applies an entry to a state.
 */
import { compareVersions } from '../universe/version';

interface AssetRef {
  uri: string;
  digest: string;
  size: number;
  name: string;
}

export interface ImageRef {
  reference: string;
  key?: string;
  repository: string;
  tag?: string | null;
  manifestDigest: string;
  mediaType: string;
  /**
   * Config and layer digests of the image manifest, recorded at commit (when the manifest is
   * a verified blob), so /v2 can tell which blobs a repository holds without parsing
   * manifests. Absent on entries committed before it was recorded.
   */
  blobs?: string[];
}

interface BlobRef {
  digest: string;
  size: number;
}

/** A committed package version. `package` is the metadata as uploaded, never changed. */
export interface CatalogVersion {
  name: string;
  version: string;
  /** Commit sequence number of the add: breaks releaseVersion ties, orders image tags. */
  seq: number;
  uploadId: string;
  addedAt: string;
  /** sha256 of the canonical upload manifest: equal digests mean an idempotent re-add. */
  contentDigest: string;
  package: Record<string, unknown>;
  assets: AssetRef[];
  images: ImageRef[];
  blobs: BlobRef[];
}

/** `writer`: random id of the commit call that wrote it (recognises our own entry after a retry). */
export type LogEntry = { seq: number; writer?: string } & (
  | { op: 'add'; entry: CatalogVersion }
  | { op: 'remove'; name: string; version: string; removedAt: string }
  /** Several adds in one commit (bulk imports, benchmark seeding): all or nothing. */
  | { op: 'addMany'; entries: CatalogVersion[] }
  /** Garbage collection fence: these blobs are about to be deleted (see lib/gc.ts). */
  | { op: 'gcStart'; doomed: string[] }
  /** The deletions of the pending collection are done. */
  | { op: 'gcDone' }
  /**
   * Log truncation: entries up to `through` may be deleted. Committed (and so visible in the
   * snapshot) before the deletions start; see lib/catalog/catalog.ts and docs/storage.md.
   */
  | { op: 'truncate'; through: number }
);

/**
 * Garbage-collection fence. `epoch` counts collections started; `pending` lists the blob
 * digests (sha256:<hex>) of the collection in progress, which no add may rely on.
 */
export interface GcState {
  epoch: number;
  pending: string[];
}

/** Materialized catalog at `seq`: versions in commit order. */
export interface CatalogState {
  seq: number;
  versions: CatalogVersion[];
  gc?: GcState;
  /** Log entries up to this seq may have been deleted (absent: none). Only grows. */
  truncated?: number;
}

const NO_GC: GcState = Object.freeze({ epoch: 0, pending: [] }) as unknown as GcState;
export const EMPTY: CatalogState = Object.freeze({ seq: 0, versions: [] }) as CatalogState;

export function find(state: CatalogState, name: string, version: string): CatalogVersion | undefined {
  return state.versions.find((v) => v.name === name && v.version === version);
}

const same = (v: CatalogVersion, name: string, version: string) => v.name === name && v.version === version;

export function apply(state: CatalogState, entry: LogEntry): CatalogState {
  if (entry.seq !== state.seq + 1) throw new Error(`log entry ${entry.seq} applied to state at ${state.seq}`);
  const gc = state.gc ?? NO_GC;
  switch (entry.op) {
    case 'remove':
      return { ...state, seq: entry.seq, versions: state.versions.filter((v) => !same(v, entry.name, entry.version)) };
    case 'gcStart':
      return { ...state, seq: entry.seq, gc: { epoch: gc.epoch + 1, pending: entry.doomed } };
    case 'gcDone':
      return { ...state, seq: entry.seq, gc: { epoch: gc.epoch, pending: [] } };
    case 'truncate':
      return { ...state, seq: entry.seq, truncated: Math.max(state.truncated ?? 0, Math.min(entry.through, entry.seq - 1)) };
    default: {
      const adds = entry.op === 'add' ? [entry.entry] : entry.entries;
      const rest = state.versions.filter((v) => !adds.some((a) => same(v, a.name, a.version)));
      return { ...state, seq: entry.seq, versions: [...rest, ...adds] };
    }
  }
}

/** Names of the packages an entry changes. */
export function touched(entry: LogEntry): string[] {
  switch (entry.op) {
    case 'remove':
      return [entry.name];
    case 'add':
      return [entry.entry.name];
    case 'addMany':
      return entry.entries.map((e) => e.name);
    default:
      return [];
  }
}

/** Every blob digest a committed version needs. */
export function referencedBlobs(state: CatalogState): Set<string> {
  return new Set(state.versions.flatMap((v) => v.blobs.map((b) => b.digest)));
}

/**
 * The snapshot is split into this many chunks by package name, so that a commit rewrites
 * one chunk (about 1/64 of the catalog) instead of all of it.
 */
export const PARTITIONS = 64;

/** FNV-1a of the name: stable across versions of the code (it decides chunk membership). */
export function partitionOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h % PARTITIONS;
}

/**
 * releaseVersion per version: unique within a package, ordered by a version-aware comparison
 * (commit order breaks ties), so re-adding an old version never makes it the default.
 */
export function releaseVersions(state: CatalogState): Map<CatalogVersion, number> {
  const byName = new Map<string, CatalogVersion[]>();
  for (const v of state.versions) byName.set(v.name, [...(byName.get(v.name) ?? []), v]);
  const out = new Map<CatalogVersion, number>();
  for (const list of byName.values()) {
    list.sort((a, b) => compareVersions(a.version, b.version) || a.seq - b.seq);
    for (const [i, v] of list.entries()) out.set(v, i);
  }
  return out;
}
