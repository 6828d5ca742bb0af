/**
 * A registry: storage driver, catalog and write gate built once from a configuration and
 * shared by every request answered from it (each request carries its registry: req.registry).
 * The composition root: the storage base layer (lib/storage/layer.ts) is applied here, once,
 * over whichever driver the configuration names.
 */
import path from 'node:path';
import { Catalog } from './catalog/catalog';
import { config, type Config } from './config';
import { LazyFileStorage } from './storage/fs-lazy';
import { type StorageLayer, storageLayer } from './storage/layer';
import type { Storage } from './storage/port';
import { WriteGate } from './storage/probe';
import { UploadRelay } from './storage/relay';
import { LazyS3Storage } from './storage/s3-lazy';

export interface Registry {
  config: Config;
  storage: Storage;
  catalog: Catalog;
  gate: WriteGate;
  /**
   * The runtime streams request bodies of any size to the store (the production server);
   * Lambda buffers them within its payload limit, so uploads relayed to S3 are refused there.
   */
  streamsBodies?: boolean;
}

/** The configured driver under the storage base layer. */
export function createStorage(cfg: Config): StorageLayer {
  return storageLayer(createDriver(cfg));
}

function createDriver(cfg: Config): Storage {
  const s = cfg.storage;
  if (s.kind === 'file') {
    // Without REGISTRY_SIGNING_KEY the driver keeps its key in the store (meta/signing-key, 0600).
    // Loaded on first use (lib/storage/fs-lazy.ts): functions on S3 start without it.
    return new LazyFileStorage({ root: path.resolve(s.root), signingKey: cfg.signingKey });
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
  const driver = new LazyS3Storage({
    settings,
    publicEndpoint: s.publicEndpoint,
    bucket: s.bucket,
    prefix: s.prefix,
    etagForm,
    callTimeoutMs: s.timeouts.callMs,
  });
  if (cfg.uploads === 'direct') return driver;
  // Clients reach only the registry: it signs the upload targets and streams each body to the store.
  return new UploadRelay(driver, driver.streamingWrites(), { signingKey: cfg.signingKey });
}

export function createRegistry(cfg: Config, runtime: { streamsBodies?: boolean } = {}): Registry {
  const storage = createStorage(cfg);
  return {
    config: cfg,
    storage,
    catalog: new Catalog(storage),
    gate: new WriteGate(storage),
    streamsBodies: runtime.streamsBodies ?? false,
  };
}

let current: Registry | undefined;
/**
 * The Lambda entries' registry: built from the configuration on first use and kept for the
 * process's life (Lambda reuses it across invocations). Only the Lambda adapter
 * (lib/http/lambda.ts) and the scheduled Lambda entries (functions/gc.ts scheduled,
 * functions/sweeper.ts handler) read it; operations answer from req.registry, and the
 * production server builds its own (server/main.ts) and hands it to its requests and schedules.
 */
export function registry(): Registry {
  return (current ??= createRegistry(config()));
}
