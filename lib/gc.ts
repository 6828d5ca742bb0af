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
  /** upload-index/ markers of ended uploads (with their sessions) and of sessions long gone. */
  uploadMarkersDeleted: number;
  /** Commit log entries deleted behind the snapshot (truncation). */
  logEntriesDeleted: number;
  /** A collection left pending by a collector that died was finished first. */
  resumed: boolean;
}

const GC_GRACE_MS = 3600 * 1000;

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

/** What every step of one collection shares. */
interface Run {
  registry: Registry;
  storage: Registry['storage'];
  catalog: Registry['catalog'];
  grace: number;
  now: () => number;
  result: GcResult;
}

/** Deletes the given blobs from the blob area, counting them and their bytes. */
async function deleteBlobs(run: Run, digests: string[]): Promise<void> {
  const { storage, result } = run;
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
}

/** gcDone for `epoch`, unless another collector already finished it. */
async function finishCollection(run: Run, epoch: number): Promise<void> {
  await run.catalog.commit((state) => ({
    entry: state.gc && state.gc.epoch === epoch && state.gc.pending.length ? { op: 'gcDone' as const } : undefined,
    result: undefined,
  }));
}

/** Step 1. A collector that died between gcStart and gcDone left its deletions pending: finish them. */
async function resumePendingCollection(run: Run): Promise<void> {
  const state = await run.catalog.settle();
  if (!state.gc?.pending.length) return;
  run.result.resumed = true;
  await deleteBlobs(run, state.gc.pending);
  await finishCollection(run, state.gc.epoch);
}

/** The upload-index marker of a session, or undefined when its coordinates cannot name one. */
function markerOf(session: UploadSession): string | undefined {
  try {
    return keys.uploadIndexEntry(session.name, session.version, session.id);
  } catch {
    return undefined;
  }
}

/**
 * Step 2. Upload sessions: live ones (Uploading, Processing) protect their blobs, so they need
 * not re-upload them; ended ones (Added, Failed: aborted, expired, refused) past the grace period
 * are removed with whatever they left and their upload-index marker. Returns the blobs live
 * uploads protect and the ids of the sessions still stored.
 */
async function sweepUploads(run: Run): Promise<{ live: Set<string>; sessions: Set<string> }> {
  const { storage, grace, now, result } = run;
  const live = new Set<string>();
  const sessions = new Set<string>();
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
      sessions.add(session.id);
      for (const b of session.blobs) live.add(`sha256:${b.digest}`);
    } else if (Date.parse(session.createdAt) + grace < now()) {
      const leftovers = await storage.list(keys.uploadPrefix(session.id));
      for (const x of leftovers.filter((x) => x.key !== o.key)) await storage.delete(x.key);
      const marker = markerOf(session);
      // Read the count after the await: `x += await` would add to a value read before it (runs are concurrent).
      const markers = marker ? await deleteIfPresent(storage, marker) : 0;
      result.uploadMarkersDeleted += markers;
      // The session last, so a crash here leaves it for the next run to find.
      await storage.delete(o.key);
      result.uploadsDeleted++;
    } else {
      sessions.add(session.id);
    }
  });
  return { live, sessions };
}

async function deleteIfPresent(storage: Registry['storage'], key: string): Promise<number> {
  const present = await storage.head(key).then(
    () => true,
    (e) => (e instanceof NotFoundError ? false : Promise.reject(e)),
  );
  if (present) await storage.delete(key);
  return present ? 1 : 0;
}

/**
 * Step 3. Upload-index markers whose session is gone (deleted by a collector before markers went
 * with their sessions, or a start that died between writing the marker and creating the
 * session). A marker is written just before its session, so one without a session may be a
 * start in progress: it goes only when seen without a session on two runs at least `grace` apart.
 */
async function sweepUploadIndex(run: Run, sessions: Set<string>): Promise<void> {
  const { storage, grace, now, result } = run;
  const orphans = new Map<string, string[]>();
  for (const { key } of await storage.list(keys.uploadIndexRoot())) {
    const id = key.slice(key.lastIndexOf('/') + 1);
    if (!sessions.has(id)) orphans.set(key, [key]);
  }
  const deleted = await sweepUnwanted(storage, keys.gcUploadIndexMarks(), orphans, grace, now);
  result.uploadMarkersDeleted += deleted;
}

/** Step 4. Blobs no committed version and no live upload needs: fence (gcStart), delete, gcDone. */
async function collectBlobs(run: Run, live: Set<string>): Promise<void> {
  const { storage, catalog } = run;
  const stored = (await storage.list(keys.blobPrefix())).map((o) => `sha256:${o.key.slice(keys.blobPrefix().length)}`);
  const candidates = stored.filter((d) => !live.has(d));
  const epoch = await catalog.commit((s) => {
    if (s.gc?.pending.length) return { result: undefined }; // another collector is at work
    const referenced = referencedBlobs(s);
    const doomed = candidates.filter((d) => !referenced.has(d));
    if (doomed.length === 0) return { result: undefined };
    return { entry: { op: 'gcStart' as const, doomed }, result: (s.gc?.epoch ?? 0) + 1 };
  });
  if (epoch === undefined) return;
  const state = await catalog.newest();
  await deleteBlobs(run, state.gc?.pending ?? []);
  await finishCollection(run, epoch);
}

/**
 * Step 5. Chunks: only those unnamed by the snapshot on two runs at least `grace` apart (a
 * writer puts its chunks a moment before the snapshot that names them).
 */
async function sweepChunks(run: Run): Promise<void> {
  const { storage, catalog, grace, now, result } = run;
  await catalog.read();
  const named = catalog.currentChunks();
  const unnamed = new Map<string, string[]>();
  for (const { key } of await storage.list(keys.chunkPrefix())) {
    const id = key.slice(keys.chunkPrefix().length, -'.json'.length);
    if (!named.has(id)) unnamed.set(id, [key]);
  }
  result.chunksDeleted = await sweepUnwanted(storage, keys.gcChunkMarks(), unnamed, grace, now);
}

/**
 * Step 6. Pre-rendered /repo answers of catalog states other than the current one, on two runs
 * at least `grace` apart (redirects to them are signed for minutes, not hours).
 */
async function sweepRendered(run: Run): Promise<void> {
  const { storage, catalog, grace, now, result } = run;
  const current = keys.renderedState(catalog.contentId());
  const stale = new Map<string, string[]>();
  for (const { key } of await storage.list(keys.renderedPrefix())) {
    const state = key.slice(0, key.indexOf('/', keys.renderedPrefix().length) + 1);
    if (state !== current) stale.set(state, [...(stale.get(state) ?? []), key]);
  }
  result.renderedDeleted = await sweepUnwanted(storage, keys.gcRenderedMarks(), stale, grace, now);
}

/** One collection: the steps above in order, then commit log truncation (step 7). */
export async function collectGarbage(registry: Registry, options: GcOptions = {}): Promise<GcResult> {
  await registry.gate.check();
  const run: Run = {
    registry,
    storage: registry.storage,
    catalog: registry.catalog,
    grace: options.graceMs ?? GC_GRACE_MS,
    now: options.now ?? Date.now,
    result: {
      blobsDeleted: 0,
      bytesFreed: 0,
      chunksDeleted: 0,
      renderedDeleted: 0,
      uploadsDeleted: 0,
      uploadMarkersDeleted: 0,
      logEntriesDeleted: 0,
      resumed: false,
    },
  };
  await resumePendingCollection(run);
  const { live, sessions } = await sweepUploads(run);
  await sweepUploadIndex(run, sessions);
  await collectBlobs(run, live);
  await sweepChunks(run);
  await sweepRendered(run);
  run.result.logEntriesDeleted = await truncateLog(registry, run.grace, run.now);
  log.info('garbage collected', { ...run.result });
  return run.result;
}
