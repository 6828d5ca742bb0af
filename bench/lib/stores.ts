/** Fresh stores for one benchmark case: a prefix of the S3 bucket, or a temp directory. */
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../lib/config';
import { createRegistry, type Registry } from '../../lib/registry';
import { FileStorage } from '../../lib/storage/fs';
import { StorageLayer } from '../../lib/storage/layer';
import type { Storage } from '../../lib/storage/port';
import { createS3Client, S3Storage } from '../../lib/storage/s3';
import type { S3Target } from './rgw';

export type Driver = 's3' | 'file';

export interface BenchStore {
  driver: Driver;
  /** A new driver instance over the same data, as another process would have. */
  make(): Storage;
  /** Environment of a registry process (serverless offline) over the same data. */
  env: Record<string, string>;
}

const SIGNING_KEY = randomBytes(32);

export async function benchStore(driver: Driver, s3: S3Target, tag: string): Promise<BenchStore> {
  if (driver === 'file') {
    const root = await mkdtemp(path.join(os.tmpdir(), `bench-${tag}-`));
    return {
      driver,
      make: () => new FileStorage({ root, signingKey: async () => SIGNING_KEY }),
      env: { REGISTRY_STORAGE: `file:${root}`, REGISTRY_SIGNING_KEY: SIGNING_KEY.toString('hex') },
    };
  }
  const prefix = `bench-${tag}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  return {
    driver,
    make: () =>
      new S3Storage({
        client: createS3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true }),
        bucket: s3.bucket,
        prefix: `${prefix}/`,
        etagForm: 'unquoted',
        // A shared 2-core machine can hold a multi-MB write past the default 5 s; the rows time what happens.
        callTimeoutMs: 60_000,
      }),
    env: {
      REGISTRY_STORAGE: `s3://${s3.bucket}/${prefix}`,
      REGISTRY_S3_ENDPOINT: s3.endpoint,
      REGISTRY_S3_FORCE_PATH_STYLE: 'true',
      REGISTRY_S3_REGION: s3.region,
      REGISTRY_S3_ETAG_FORM: 'unquoted',
      REGISTRY_S3_TIMEOUT_MS: '60000',
    },
  };
}

/**
 * The registry a function process builds over the store's environment (lib/registry.ts
 * createRegistry: on S3 the SDK-free reader of s3-lazy.ts, as deployed), so in-process rows
 * measure the driver users run.
 */
export function registryOf(store: BenchStore, publicUrl: string): Registry & { storage: StorageLayer } {
  const registry = createRegistry(
    parseConfig({ ...store.env, REGISTRY_WRITE_TOKENS: 'bench-token-0123456789', REGISTRY_PUBLIC_URL: publicUrl }),
  );
  const { storage } = registry;
  // The layer counts store requests (the rows' per-request figures read it).
  if (!(storage instanceof StorageLayer)) throw new Error('createRegistry returned a storage without the storage layer');
  return { ...registry, storage };
}
