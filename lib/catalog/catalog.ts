/**
 * The commit protocol (docs/storage.md explains it at length):
 *
 *  - catalog/log/<seq>.json: one entry per change, created with If-None-Match: *. The
 *    store lets exactly one writer create each seq, which gives every change one place
 *    in one total order. Writing the entry is the commit point.
 *  - catalog/snapshot.json: {seq, chunks}: the fold of log 1..seq, split by package name
 *    into PARTITIONS immutable, content-addressed chunk objects (catalog/chunks/<sha256>).
 *    Replaced with If-Match (CAS), and a writer only ever replaces it with a later seq, so
 *    it only moves forward. A commit rewrites the chunk of the package it touches, not
 *    the whole catalog.
 *
 * Writer: read the snapshot, read log entries after it until one is missing (the next free
 * seq), decide against that state, create the entry at that seq (on a lost race: read on
 * and decide again), then advance the snapshot to at least that seq before it
 * acknowledges. Reader: one conditional GET of the snapshot (cached by ETag) plus the
 * chunks it has not seen (immutable, cached forever), so every acknowledged change is
 * visible to every instance (read-your-writes) at O(1) requests in the steady state.
 */
import { createHash, randomBytes } from 'node:crypto';
import { AlreadyExistsError, CommitUncertainError, ConflictError, NotFoundError, PreconditionFailedError, RegistryError } from '../errors';
import { keys } from '../keys';
import { type Backoff, backoffDelay, sleep } from '../retry';
import type { Storage } from '../storage/port';
import {
  apply,
  EMPTY,
  partitionOf,
  PARTITIONS,
  touched,
  type CatalogState,
  type CatalogVersion,
  type GcState,
  type LogEntry,
} from './model';

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
type NewEntry = DistributiveOmit<LogEntry, 'seq'>;

export interface Plan<R> {
  /** The change to commit, or none when the state already says what the caller wants. */
  entry?: NewEntry;
  result: R;
}

/** catalog/snapshot.json */
interface Root {
  seq: number;
  /**
   * Each partition's chunk object, as "<seq that wrote it>-<sha256 of its body>"; null for
   * an empty partition. The seq makes every written chunk a new object, so garbage
   * collection never races a writer that would name an old one again.
   */
  chunks: Array<string | null>;
  /** Garbage-collection fence (absent until the first collection). */
  gc?: GcState;
  /** Log entries up to this seq may have been deleted (absent until the first truncation). */
  truncated?: number;
}

interface Snapshot {
  /** Store etag of catalog/snapshot.json; undefined when it does not exist yet. */
  etag?: string;
  root: Root;
  state: CatalogState;
}

const EMPTY_ROOT: Root = { seq: 0, chunks: new Array(PARTITIONS).fill(null) };
const MAX_ATTEMPTS = 200;

function isLostRace(error: unknown): boolean {
  return error instanceof AlreadyExistsError || error instanceof PreconditionFailedError || error instanceof ConflictError;
}

/** Writers racing for the log or the snapshot: full jitter, 10 ms doubling up to 500 ms. */
const RACE_BACKOFF: Backoff = { baseMs: 10, maxMs: 500, growth: 'exponential', jitter: 'full' };
const backoff = (attempt: number) => sleep(backoffDelay(RACE_BACKOFF, attempt));

function chunkBody(versions: CatalogVersion[]): { hex: string; body: string } {
  const body = JSON.stringify({ versions: [...versions].sort((a, b) => a.seq - b.seq) });
  return { hex: createHash('sha256').update(body).digest('hex'), body };
}

export class Catalog {
  private snapshot: Snapshot = { root: EMPTY_ROOT, state: EMPTY };
  /** Immutable log entries read past the snapshot, by seq. */
  private readonly entries = new Map<number, LogEntry>();
  /** Immutable chunks of the current snapshot, by chunk id. */
  private chunks = new Map<string, CatalogVersion[]>();

  constructor(private readonly storage: Storage) {}

  /** The catalog as of the newest snapshot: one conditional GET in the steady state. */
  async read(): Promise<{ state: CatalogState; etag: string }> {
    await this.refreshSnapshot();
    return { state: this.snapshot.state, etag: this.snapshot.etag ?? 'empty' };
  }

  /**
   * Decide and commit one change. `plan` sees the state at the newest seq and may throw
   * (e.g. VersionNotFound) or return no entry (nothing to do). Returns once the change is
   * in the snapshot, i.e. visible to every reader.
   */
  async commit<R>(plan: (state: CatalogState) => Plan<R>): Promise<R> {
    // Tells our own entry apart when a retried create-only PUT answers 412 for itself.
    const writer = randomBytes(12).toString('hex');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const state = await this.latest();
      const { entry, result } = plan(state);
      if (!entry) {
        await this.advanceSnapshot(state.seq);
        return result;
      }
      const full = { ...entry, seq: state.seq + 1, writer } as LogEntry;
      try {
        await this.storage.put(keys.logEntry(full.seq), JSON.stringify(full), { ifNoneMatch: '*', contentType: 'application/json' });
      } catch (error) {
        if (!isLostRace(error)) throw error;
        if (!(await this.isOurs(full.seq, writer))) {
          await backoff(attempt);
          continue;
        }
      }
      this.entries.set(full.seq, full);
      // Committed: a transient store error from here on must not turn into a failure (a
      // retried remove would then report its own success as VersionNotFound). Advancing is
      // idempotent (create-only chunks, CAS snapshot), so retry it.
      for (let retry = 0; ; retry++) {
        try {
          await this.advanceSnapshot(full.seq);
          break;
        } catch (error) {
          if (retry >= 4 || error instanceof RegistryError) throw error;
          await backoff(retry + 3);
        }
      }
      // Log entries at or below `truncated` may have been deleted, so a create there can
      // have landed in a hole no snapshot will ever fold in. Truncation only reaches seqs
      // the snapshot held a grace period earlier, so this takes a writer stalled for that
      // long between reading the snapshot and this check; its outcome is then unknown.
      if ((this.snapshot.state.truncated ?? 0) >= full.seq) throw new CommitUncertainError(full.seq);
      return result;
    }
    throw new ConflictError(keys.logPrefix());
  }

  /** Whether the entry at seq was written by this commit (its create answered 412 on a retry). */
  private async isOurs(seq: number, writer: string): Promise<boolean> {
    try {
      const entry = JSON.parse((await this.storage.get(keys.logEntry(seq))).body.toString('utf8')) as LogEntry;
      return entry.writer === writer;
    } catch (error) {
      if (error instanceof NotFoundError) return false;
      throw error;
    }
  }

  /** Roll the snapshot forward over entries left by writers that died before advancing it. */
  async settle(): Promise<CatalogState> {
    const state = await this.latest();
    await this.advanceSnapshot(state.seq);
    return state;
  }

  private async refreshSnapshot(attempt = 0): Promise<void> {
    let fresh: Awaited<ReturnType<Storage['getIfChanged']>>;
    try {
      fresh = await this.storage.getIfChanged(keys.snapshot(), this.snapshot.etag);
    } catch (error) {
      if (error instanceof NotFoundError) {
        this.snapshot = { root: EMPTY_ROOT, state: EMPTY };
        return;
      }
      throw error;
    }
    if (!fresh) return;
    const root = JSON.parse(fresh.body.toString('utf8')) as Root;
    const chunks = new Map<string, CatalogVersion[]>();
    try {
      await Promise.all(
        root.chunks.map(async (hex) => {
          if (!hex) return;
          let versions = this.chunks.get(hex);
          if (!versions) {
            versions = (
              JSON.parse((await this.storage.get(keys.catalogChunk(hex))).body.toString('utf8')) as { versions: CatalogVersion[] }
            ).versions;
          }
          chunks.set(hex, versions);
        }),
      );
    } catch (error) {
      // A chunk of a snapshot that was replaced meanwhile may have been collected: read the new one.
      if (!(error instanceof NotFoundError) || attempt >= 5) throw error;
      return this.refreshSnapshot(attempt + 1);
    }
    this.chunks = chunks;
    const versions = root.chunks.flatMap((hex) => (hex ? chunks.get(hex)! : []));
    const extra = { ...(root.gc ? { gc: root.gc } : {}), ...(root.truncated ? { truncated: root.truncated } : {}) };
    this.snapshot = { etag: fresh.etag, root, state: { seq: root.seq, versions, ...extra } };
    for (const seq of this.entries.keys()) if (seq <= root.seq) this.entries.delete(seq);
  }

  /**
   * Identity of the current snapshot's versions (its chunk ids): unlike the snapshot's etag,
   * it stays the same across commits that change no version (garbage-collection fences, log
   * truncation), so /repo's ETag and pre-rendered answers survive them.
   */
  contentId(): string {
    return createHash('sha256').update(JSON.stringify(this.snapshot.root.chunks)).digest('base64url').slice(0, 32);
  }

  /** Chunk objects the current snapshot names (garbage collection keeps these). */
  currentChunks(): Set<string> {
    return new Set(this.snapshot.root.chunks.filter((c): c is string => c !== null));
  }

  /** The state at the newest committed seq, snapshot plus log (what a writer decides against). */
  async newest(): Promise<CatalogState> {
    return this.latest();
  }

  /** The state at the newest committed seq: the snapshot plus the log entries after it. */
  private async latest(): Promise<CatalogState> {
    await this.refreshSnapshot();
    let state = this.snapshot.state;
    for (;;) {
      const seq = state.seq + 1;
      let entry = this.entries.get(seq);
      if (!entry) {
        try {
          entry = JSON.parse((await this.storage.get(keys.logEntry(seq))).body.toString('utf8')) as LogEntry;
        } catch (error) {
          if (error instanceof NotFoundError) return state;
          throw error;
        }
        this.entries.set(seq, entry);
      }
      state = apply(state, entry);
    }
  }

  /** Make the snapshot hold at least `seq`. Only ever moves it forward. */
  private async advanceSnapshot(seq: number): Promise<void> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const base = this.snapshot;
      if (base.state.seq >= seq) return;
      // Write the newest state we know of (a fold of the log, so any writer's is the same).
      let state = base.state;
      const changed = new Set<number>();
      for (let s = state.seq + 1; this.entries.has(s); s++) {
        const entry = this.entries.get(s)!;
        state = apply(state, entry);
        for (const name of touched(entry)) changed.add(partitionOf(name));
      }
      if (state.seq < seq) {
        await this.latest();
        continue;
      }
      const root: Root = {
        seq: state.seq,
        chunks: [...base.root.chunks],
        ...(state.gc ? { gc: state.gc } : {}),
        ...(state.truncated ? { truncated: state.truncated } : {}),
      };
      const written = new Map<string, CatalogVersion[]>();
      await Promise.all(
        [...changed].map(async (p) => {
          const versions = state.versions.filter((v) => partitionOf(v.name) === p);
          if (versions.length === 0) {
            root.chunks[p] = null;
            return;
          }
          const { hex, body } = chunkBody(versions);
          const id = `${state.seq}-${hex}`;
          root.chunks[p] = id;
          written.set(id, versions);
          // Content-addressed and immutable: someone else writing it first is fine.
          await this.storage.put(keys.catalogChunk(id), body, { ifNoneMatch: '*', contentType: 'application/json' }).catch((e) => {
            if (!(e instanceof AlreadyExistsError)) throw e;
          });
        }),
      );
      try {
        const body = JSON.stringify(root);
        const { etag } = await this.storage.put(
          keys.snapshot(),
          body,
          base.etag ? { ifMatch: base.etag, contentType: 'application/json' } : { ifNoneMatch: '*', contentType: 'application/json' },
        );
        const chunks = new Map<string, CatalogVersion[]>();
        for (const hex of root.chunks) if (hex) chunks.set(hex, this.chunks.get(hex) ?? written.get(hex)!);
        this.chunks = chunks;
        this.snapshot = { etag, root, state: { ...state, versions: root.chunks.flatMap((hex) => (hex ? chunks.get(hex)! : [])) } };
        for (const s of this.entries.keys()) if (s <= root.seq) this.entries.delete(s);
        return;
      } catch (error) {
        if (!isLostRace(error)) throw error;
        await backoff(attempt);
        await this.refreshSnapshot();
      }
    }
    throw new ConflictError(keys.snapshot());
  }
}
