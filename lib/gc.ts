/**
 * Garbage collection: blobs no committed version needs, chunks no snapshot names,
 * upload sessions long finished. It never races an add, through a fence in the commit
 * log (docs/storage.md, "Garbage collection"):
 *
 *   1. gcStart{doomed} is committed, where doomed = unreferenced blobs at that seq;
 *      it bumps the fence epoch and makes `doomed` pending;
 *   2. the doomed blobs are deleted;
 *   3. gcDone clears `pending`.
 *
 * An add checks that each blob is in the blob area and then commits with a guard: the
 * fence epoch must be the one it saw before checking, and none of its blobs pending.
 * So either the add is in the catalog before gcStart (and its blobs are referenced, not
 * doomed), or it checks again after the deletions and re-uploads what is gone.
 */
import { NotFoundError } from './errors';
import { mapLimit } from './limit';
import { keys } from './keys';
import { log } from './log';
import type { Registry } from './registry';
import { referencedBlobs } from './catalog/model';
import type { UploadSession } from './uploads/session';

export interface GcOptions {
  /** Finished upload sessions and unreferenced chunks are kept at least this long. */
  graceMs?: number;
  now?: () => number;
}

export interface GcResult {
  blobsDeleted: number;
  bytesFreed: number;
  chunksDeleted: number;
  /** Pre-rendered /repo answers of replaced catalog states. */
  renderedDeleted: number;
  uploadsDeleted: number;
  /** Commit log entries deleted behind the snapshot (truncation). */
  logEntriesDeleted: number;
  /** A collection left pending by a collector that died was finished first. */
  resumed: boolean;
}

export const GC_GRACE_MS = 3600 * 1000;

/**
 * Deletes the groups (an id and its keys) found unwanted on two runs at least `grace` apart,
 * remembering in `marksKey` since when each unwanted one was seen. Returns keys deleted.
 */
async function sweepUnwanted(
  storage: Registry['storage'],
  marksKey: string,
  unwanted: Map<string, string[]>,
  grace: number,
  now: () => number,
): Promise<number> {
  const marks = (await readJson<Record<string, number>>(storage, marksKey)) ?? {};
  const nextMarks: Record<string, number> = {};
  let deleted = 0;
  for (const [id, groupKeys] of unwanted) {
    if (marks[id] !== undefined && marks[id] + grace < now()) {
      for (const key of groupKeys) await storage.delete(key);
      deleted += groupKeys.length;
    } else {
      nextMarks[id] = marks[id] ?? now();
    }
  }
  await storage.put(marksKey, JSON.stringify(nextMarks), { contentType: 'application/json' });
  return deleted;
}

/**
 * Commit log truncation. Each run marks the seq the snapshot holds now; a later run, at
 * least `grace` after the mark, commits truncate{through: mark} and then deletes those
 * entries. The commit comes first so that the snapshot says `truncated` before any entry
 * is gone: a writer that read a snapshot older than the mark and created an entry in a
 * deleted stretch (it would have to stall for the whole grace period in one attempt) sees
 * it and reports its outcome as unknown instead of acknowledging (Catalog.commit). So the
 * log holds about two grace periods of entries, whatever the catalog's age.
 */
export async function truncateLog(registry: Registry, grace: number, now: () => number = Date.now): Promise<number> {
  const { storage, catalog } = registry;
  const mark = await readJson<{ seq: number; at: number }>(storage, keys.gcLogMark());
  const due = !mark || mark.at + grace < now();
  let deleted = 0;
  if (mark && due) {
    const { state } = await catalog.read();
    const through = Math.min(mark.seq, state.seq);
    if (through > 0) {
      await catalog.commit((s) => ({
        entry: (s.truncated ?? 0) >= through ? undefined : { op: 'truncate' as const, through },
        result: undefined,
      }));
      const doomed = (await storage.list(keys.logPrefix())).map((o) => o.key).filter((k) => keys.seqOf(k) <= through);
      await mapLimit(doomed, 16, async (key) => {
        await storage.delete(key);
        deleted++;
      });
    }
  }
  if (due) {
    const { state } = await catalog.read();
    await storage.put(keys.gcLogMark(), JSON.stringify({ seq: state.seq, at: now() }), { contentType: 'application/json' });
  }
  return deleted;
}

async function readJson<T>(storage: Registry['storage'], key: string): Promise<T | undefined> {
  return storage.get(key).then(
    (o) => JSON.parse(o.body.toString('utf8')) as T,
    (e) => (e instanceof NotFoundError ? undefined : Promise.reject(e)),
  );
}

export async function collectGarbage(registry: Registry, options: GcOptions = {}): Promise<GcResult> {
  const { storage, catalog } = registry;
  const grace = options.graceMs ?? GC_GRACE_MS;
  const now = options.now ?? Date.now;
  await registry.gate.check();
  const result: GcResult = {
    blobsDeleted: 0,
    bytesFreed: 0,
    chunksDeleted: 0,
    renderedDeleted: 0,
    uploadsDeleted: 0,
    logEntriesDeleted: 0,
    resumed: false,
  };

  const deleteBlobs = async (digests: string[]) => {
    await mapLimit(digests, 16, async (d) => {
      const key = keys.blob(d);
      const size = await storage.head(key).then(
        (o) => o.size,
        (e) => (e instanceof NotFoundError ? -1 : Promise.reject(e)),
      );
      if (size < 0) return;
      await storage.delete(key);
      result.blobsDeleted++;
      result.bytesFreed += size;
    });
  };
  const finish = (epoch: number) =>
    catalog.commit((state) => ({
      entry: state.gc && state.gc.epoch === epoch && state.gc.pending.length ? { op: 'gcDone' as const } : undefined,
      result: undefined,
    }));

  // A collector that died between gcStart and gcDone left its deletions pending: finish them.
  let state = await catalog.settle();
  if (state.gc?.pending.length) {
    result.resumed = true;
    await deleteBlobs(state.gc.pending);
    await finish(state.gc.epoch);
  }

  // Upload sessions: live ones protect their blobs (so they need not re-upload them);
  // finished ones past the grace period are removed with whatever they left.
  const live = new Set<string>();
  const sessionKeys = (await storage.list(keys.uploadsPrefix())).filter((o) => o.key.endsWith('/session.json'));
  await mapLimit(sessionKeys, 16, async (o) => {
    let session: UploadSession;
    try {
      session = JSON.parse((await storage.get(o.key)).body.toString('utf8')) as UploadSession;
    } catch (error) {
      if (error instanceof NotFoundError) return;
      throw error;
    }
    if (session.status === 'Uploading' || session.status === 'Processing') {
      for (const b of session.blobs) live.add(`sha256:${b.digest}`);
    } else if (Date.parse(session.createdAt) + grace < now()) {
      const leftovers = await storage.list(keys.uploadPrefix(session.id));
      // The session last, so a crash here leaves it for the next run to find.
      for (const x of leftovers.filter((x) => x.key !== o.key)) await storage.delete(x.key);
      await storage.delete(o.key);
      result.uploadsDeleted++;
    }
  });

  // Blobs: fence, delete, done.
  const stored = (await storage.list(keys.blobPrefix())).map((o) => `sha256:${o.key.slice(keys.blobPrefix().length)}`);
  const candidates = stored.filter((d) => !live.has(d));
  const epoch = await catalog.commit((s) => {
    if (s.gc?.pending.length) return { result: undefined }; // another collector is at work
    const referenced = referencedBlobs(s);
    const doomed = candidates.filter((d) => !referenced.has(d));
    if (doomed.length === 0) return { result: undefined };
    return { entry: { op: 'gcStart' as const, doomed }, result: (s.gc?.epoch ?? 0) + 1 };
  });
  if (epoch !== undefined) {
    state = await catalog.newest();
    await deleteBlobs(state.gc?.pending ?? []);
    await finish(epoch);
  }

  // Chunks: only those unnamed by the snapshot on two runs at least `grace` apart (a
  // writer puts its chunks a moment before the snapshot that names them).
  await catalog.read();
  const named = catalog.currentChunks();
  const unnamed = new Map<string, string[]>();
  for (const { key } of await storage.list(keys.chunkPrefix())) {
    const id = key.slice(keys.chunkPrefix().length, -'.json'.length);
    if (!named.has(id)) unnamed.set(id, [key]);
  }
  result.chunksDeleted = await sweepUnwanted(storage, keys.gcChunkMarks(), unnamed, grace, now);

  // Pre-rendered /repo answers of catalog states other than the current one, on two runs at
  // least `grace` apart (redirects to them are signed for minutes, not hours).
  const current = keys.renderedState(catalog.contentId());
  const stale = new Map<string, string[]>();
  for (const { key } of await storage.list(keys.renderedPrefix())) {
    const state = key.slice(0, key.indexOf('/', keys.renderedPrefix().length) + 1);
    if (state !== current) stale.set(state, [...(stale.get(state) ?? []), key]);
  }
  result.renderedDeleted = await sweepUnwanted(storage, keys.gcRenderedMarks(), stale, grace, now);

  result.logEntriesDeleted = await truncateLog(registry, grace, now);
  log.info('garbage collected', { ...result });
  return result;
}
