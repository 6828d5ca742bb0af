/**
 * The commit protocol (docs/storage.md explains it at length):
 *
 *  - catalog/log/<seq>.json: one entry per change, created with If-None-Match: *. The
 *    store lets exactly one writer create each seq, which gives every change one place
 *    in one total order. Writing the entry is the commit point.
 *  - catalog/snapshot.json: the fold of log 1..seq. Replaced with If-Match (CAS), and a
 *    writer only ever replaces it with a later seq, so it only moves forward.
 *
 * Writer: read snapshot, read log entries after it until one is missing (the next free
 * seq), decide against that state, create the entry at that seq (on a lost race: read
 * on and decide again), then advance the snapshot to at least that seq before it
 * acknowledges. Reader: one conditional GET of the snapshot (cached by ETag), so every
 * acknowledged change is visible to every instance (read-your-writes) at O(1) requests.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AlreadyExistsError, ConflictError, NotFoundError, PreconditionFailedError } from '../errors';
import { keys } from '../keys';
import type { Storage } from '../storage/port';
import { apply, EMPTY, type CatalogState, type LogEntry } from './model';

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
export type NewEntry = DistributiveOmit<LogEntry, 'seq'>;

export interface Plan<R> {
  /** The change to commit, or none when the state already says what the caller wants. */
  entry?: NewEntry;
  result: R;
}

interface Snapshot {
  /** Store etag of catalog/snapshot.json; undefined when it does not exist yet. */
  etag?: string;
  state: CatalogState;
}

const MAX_ATTEMPTS = 200;

function isLostRace(error: unknown): boolean {
  return error instanceof AlreadyExistsError || error instanceof PreconditionFailedError || error instanceof ConflictError;
}

async function backoff(attempt: number): Promise<void> {
  const cap = Math.min(500, 10 * 2 ** Math.min(attempt, 6));
  await sleep(Math.random() * cap);
}

export class Catalog {
  private snapshot: Snapshot = { state: EMPTY };
  /** Immutable log entries read past the snapshot, by seq. */
  private readonly entries = new Map<number, LogEntry>();
  /** Store requests made, for benchmarks and the O(1) tests. */
  requests = 0;

  constructor(private readonly storage: Storage) {}

  /** The catalog as of the newest snapshot: one conditional GET. */
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
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const state = await this.latest();
      const { entry, result } = plan(state);
      if (!entry) {
        await this.advanceSnapshot(state.seq);
        return result;
      }
      const full = { ...entry, seq: state.seq + 1 } as LogEntry;
      try {
        this.requests++;
        await this.storage.put(keys.logEntry(full.seq), JSON.stringify(full), { ifNoneMatch: '*', contentType: 'application/json' });
      } catch (error) {
        if (!isLostRace(error)) throw error;
        await backoff(attempt);
        continue;
      }
      this.entries.set(full.seq, full);
      await this.advanceSnapshot(full.seq);
      return result;
    }
    throw new ConflictError(keys.logPrefix());
  }

  /** Roll the snapshot forward over entries left by writers that died before advancing it. */
  async settle(): Promise<CatalogState> {
    const state = await this.latest();
    await this.advanceSnapshot(state.seq);
    return state;
  }

  private async refreshSnapshot(): Promise<void> {
    this.requests++;
    let fresh;
    try {
      fresh = await this.storage.getIfChanged(keys.snapshot(), this.snapshot.etag);
    } catch (error) {
      if (error instanceof NotFoundError) {
        this.snapshot = { state: EMPTY };
        return;
      }
      throw error;
    }
    if (fresh) {
      const state = JSON.parse(fresh.body.toString('utf8')) as CatalogState;
      this.snapshot = { etag: fresh.etag, state };
      for (const seq of this.entries.keys()) if (seq <= state.seq) this.entries.delete(seq);
    }
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
          this.requests++;
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
      if (this.snapshot.state.seq >= seq) return;
      // Write the newest state we know of (a fold of the log, so any writer's is the same).
      let state = this.snapshot.state;
      for (let s = state.seq + 1; this.entries.has(s); s++) state = apply(state, this.entries.get(s)!);
      if (state.seq < seq) {
        state = await this.latest();
        continue;
      }
      const base = this.snapshot.etag;
      try {
        this.requests++;
        const { etag } = await this.storage.put(
          keys.snapshot(),
          JSON.stringify(state),
          base ? { ifMatch: base, contentType: 'application/json' } : { ifNoneMatch: '*', contentType: 'application/json' },
        );
        this.snapshot = { etag, state };
        for (const s of this.entries.keys()) if (s <= state.seq) this.entries.delete(s);
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
