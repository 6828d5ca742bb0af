/**
 * Storage drivers for tests: the filesystem driver on a temp dir, and the S3 driver on
 * the real test S3 server (Ceph RGW started by scripts/test.sh). The S3 one never
 * skips: without REGISTRY_TEST_S3_ENDPOINT the test fails and says how to run it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileStorage } from '../../lib/storage/fs';
import type { Storage } from '../../lib/storage/port';
import { createS3Client, S3Storage } from '../../lib/storage/s3';

export interface S3TestEnv {
  endpoint: string;
  bucket: string;
  region: string;
}

export function s3TestEnv(): S3TestEnv {
  const endpoint = process.env.REGISTRY_TEST_S3_ENDPOINT;
  if (!endpoint) {
    throw new Error('REGISTRY_TEST_S3_ENDPOINT is not set: run the suite with `npm test`, which starts Ceph RGW (scripts/rgw.sh)');
  }
  return { endpoint, bucket: process.env.REGISTRY_TEST_S3_BUCKET ?? 'registry-test', region: process.env.AWS_REGION ?? 'us-east-1' };
}

export function randomPrefix(tag: string): string {
  return `test-${tag}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export function makeS3Storage(prefix: string): S3Storage {
  const env = s3TestEnv();
  const client = createS3Client({ endpoint: env.endpoint, region: env.region, forcePathStyle: true });
  return new S3Storage({ client, bucket: env.bucket, prefix, etagForm: 'unquoted' });
}

export interface TestStore {
  storage: Storage;
  /** Another independent instance over the same data (as another process would have). */
  another(): Storage;
  /** Environment for a registry process over the same data. */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** The signing key of every fileStore(): a server given it (REGISTRY_SIGNING_KEY) accepts URLs the test signs. */
export const SIGNING_KEY = Buffer.alloc(32, 7);

export async function fileStore(): Promise<TestStore> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'registry-fs-'));
  const make = () => new FileStorage({ root, signingKey: async () => SIGNING_KEY });
  return {
    storage: make(),
    another: make,
    env: { REGISTRY_STORAGE: `file:${root}` },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

export async function s3Store(): Promise<TestStore> {
  const env = s3TestEnv();
  const prefix = randomPrefix('s3');
  const make = () => makeS3Storage(prefix);
  return {
    storage: make(),
    another: make,
    env: {
      REGISTRY_STORAGE: `s3://${env.bucket}/${prefix}`,
      REGISTRY_S3_ENDPOINT: env.endpoint,
      REGISTRY_S3_FORCE_PATH_STYLE: 'true',
      REGISTRY_S3_REGION: env.region,
    },
    cleanup: async () => undefined,
  };
}

export const drivers: Array<{ name: string; make: () => Promise<TestStore> }> = [
  { name: 'file', make: fileStore },
  { name: 's3', make: s3Store },
];
