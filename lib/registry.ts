/**
 * The process's registry: storage driver, catalog and write gate built once from the
 * configuration and shared by every handler of the process (module scope, as Lambda
 * reuses it across invocations).
 */
import path from 'node:path';
import { Catalog } from './catalog/catalog';
import { config, type Config } from './config';
import { FileStorage } from './storage/fs';
import type { Storage } from './storage/port';
import { WriteGate } from './storage/probe';
import { LazyS3Storage } from './storage/s3-lazy';

export interface Registry {
  config: Config;
  storage: Storage;
  catalog: Catalog;
  gate: WriteGate;
}

export function createStorage(cfg: Config): Storage {
  const s = cfg.storage;
  if (s.kind === 'file') {
    // Without REGISTRY_SIGNING_KEY the driver keeps its key in the store (meta/signing-key, 0600).
    return new FileStorage({ root: path.resolve(s.root), signingKey: cfg.signingKey });
  }
  // Reads over node:http, the SDK loaded on first write (lib/storage/s3-lazy.ts): read functions start without it.
  const settings = {
    endpoint: s.endpoint,
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    connectTimeoutMs: s.timeouts.connectMs,
    idleTimeoutMs: s.timeouts.idleMs,
  };
  const etagForm = s.etagForm ?? 'unquoted';
  return new LazyS3Storage({
    settings,
    publicEndpoint: s.publicEndpoint,
    bucket: s.bucket,
    prefix: s.prefix,
    etagForm,
    callTimeoutMs: s.timeouts.callMs,
  });
}

export function createRegistry(cfg: Config): Registry {
  const storage = createStorage(cfg);
  return { config: cfg, storage, catalog: new Catalog(storage), gate: new WriteGate(storage) };
}

let current: Registry | undefined;
/** The process-wide registry, built on first use. */
export function registry(): Registry {
  return (current ??= createRegistry(config()));
}

/**
 * Make `r` the process-wide registry the handlers answer from: an in-process server over a
 * registry of its own (tests, tools) sets it before it serves. One registry per process,
 * as on Lambda.
 */
export function useRegistry(r: Registry): void {
  current = r;
}
