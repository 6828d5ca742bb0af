/**
 * The process's registry: storage driver, catalog and write gate built once from the
 * configuration and shared by every handler of the process (module scope, as Lambda
 * reuses it across invocations).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Catalog } from './catalog/catalog';
import { config, type Config } from './config';
import { AlreadyExistsError } from './errors';
import { keys } from './keys';
import { FileStorage } from './storage/fs';
import type { Storage } from './storage/port';
import { WriteGate } from './storage/probe';
import { createS3Client, S3Storage } from './storage/s3';

export interface Registry {
  config: Config;
  storage: Storage;
  catalog: Catalog;
  gate: WriteGate;
}

/**
 * The HMAC key of the filesystem driver's signed URLs: from config, else created once in
 * the store (create-only, so every process of the machine agrees on it).
 */
function signingKeyLoader(cfg: Config, storage: () => Storage): () => Promise<Buffer> {
  let key: Promise<Buffer> | undefined;
  const load = async (): Promise<Buffer> => {
    if (cfg.signingKey) return cfg.signingKey;
    const s = storage();
    try {
      await s.put(keys.signingKey(), randomBytes(32).toString('hex'), { ifNoneMatch: '*' });
    } catch (error) {
      if (!(error instanceof AlreadyExistsError)) throw error;
    }
    return Buffer.from((await s.get(keys.signingKey())).body.toString('utf8').trim(), 'hex');
  };
  return () => (key ??= load().catch((e) => ((key = undefined), Promise.reject(e))));
}

export function createStorage(cfg: Config): Storage {
  const s = cfg.storage;
  if (s.kind === 'file') {
    let storage: Storage;
    storage = new FileStorage({ root: path.resolve(s.root), signingKey: signingKeyLoader(cfg, () => storage) });
    return storage;
  }
  const client = createS3Client({ endpoint: s.endpoint, region: s.region, forcePathStyle: s.forcePathStyle });
  const publicClient = s.publicEndpoint
    ? createS3Client({ endpoint: s.publicEndpoint, region: s.region, forcePathStyle: s.forcePathStyle })
    : undefined;
  return new S3Storage({ client, publicClient, bucket: s.bucket, prefix: s.prefix, etagForm: s.etagForm ?? 'unquoted' });
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
