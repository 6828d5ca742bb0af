/**
 * The production server (test/server/harness.ts) on a fresh file store that shares the store's
 * signing key, so a test can sign /_store URLs the server accepts (`files.signPut`, `signGet`);
 * and `waitFor`, for the server's log lines, which arrive through a pipe a moment after the answer.
 */
import type { FileStorage } from '../../lib/storage/fs';
import { type ServerProcess, startServer } from '../server/harness';
import { fileStore, SIGNING_KEY, type TestStore } from './stores';

export interface FileServer {
  store: TestStore;
  srv: ServerProcess;
  /** Another driver on the same directory, for the test's own signing and reads. */
  files: FileStorage;
}

export async function startFileServer(flags: string[]): Promise<FileServer> {
  const store = await fileStore();
  const files = store.another() as FileStorage;
  const srv = await startServer({ env: { ...store.env, REGISTRY_SIGNING_KEY: SIGNING_KEY.toString('hex') }, flags });
  return { store, srv, files };
}

/** Polls `probe` every 25 ms until it gives a value; fails after `timeoutMs`. */
export async function waitFor<T>(probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  for (let waited = 0; waited < timeoutMs; waited += 25) {
    const v = probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition never held');
}
