/**
 * What "the catalog is consistent" means after a crash, checked from the store itself: the
 * log is seq 1..n without gaps, each entry applies to the state before it, the snapshot
 * holds the fold of a prefix of the log (its seq ≤ the last log seq), and the newest state
 * (snapshot plus the entries after it) equals the fold of the whole log.
 */
import { expect } from 'vitest';
import { Catalog } from '../../lib/catalog/catalog';
import { apply, EMPTY, type CatalogState, type LogEntry } from '../../lib/catalog/model';
import { keys } from '../../lib/keys';
import type { Storage } from '../../lib/storage/port';

const versionsOf = (state: CatalogState) => state.versions.map((v) => `${v.name}@${v.version}#${v.seq}#${v.contentDigest}`).sort();

export async function readLog(storage: Storage): Promise<LogEntry[]> {
  const objects = await storage.list(keys.logPrefix());
  expect(objects.map((o) => keys.seqOf(o.key))).toEqual(objects.map((_, i) => i + 1));
  return Promise.all(objects.map(async (o) => JSON.parse((await storage.get(o.key)).body.toString('utf8')) as LogEntry));
}

/** Checks consistency and returns the newest state (the fold of the whole log). */
export async function expectConsistent(storage: Storage): Promise<CatalogState> {
  const log = await readLog(storage);
  const folds: CatalogState[] = [EMPTY];
  for (const entry of log) folds.push(apply(folds[folds.length - 1], entry));
  const { state: snapshot } = await new Catalog(storage).read();
  expect(snapshot.seq).toBeLessThanOrEqual(log.length);
  expect(versionsOf(snapshot)).toEqual(versionsOf(folds[snapshot.seq]));
  // settle() is what the sweeper (and every next writer) does over entries of dead writers.
  const settled = await new Catalog(storage).settle();
  expect(settled.seq).toBe(log.length);
  expect(versionsOf(settled)).toEqual(versionsOf(folds[log.length]));
  const { state: after } = await new Catalog(storage).read();
  expect(after.seq).toBe(log.length);
  return folds[log.length];
}

export function has(state: CatalogState, name: string, version: string): boolean {
  return state.versions.some((v) => v.name === name && v.version === version);
}
