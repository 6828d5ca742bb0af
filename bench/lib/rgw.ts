/**
 * The benchmark's own Ceph RGW (scripts/rgw.sh) on ports apart from the test suite's, with
 * an 8 GiB memstore for the GB-sized cases; or an S3 store given in the settings.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { BenchSettings } from './settings';

const ROOT = path.resolve(__dirname, '../..');
const RGW_ENV = {
  RGW_DIR: '/tmp/rgw-bench',
  RGW_PORT: '7495',
  RGW_MON_PORT: '6795',
  RGW_MEMSTORE_BYTES: String(8 * 1024 * 1024 * 1024),
};

export interface S3Target {
  endpoint: string;
  bucket: string;
  region: string;
  stop(): void;
}

export function startS3(settings: BenchSettings): S3Target {
  if (settings.s3) {
    return { ...settings.s3, region: process.env.AWS_REGION ?? 'us-east-1', stop: () => undefined };
  }
  const env = { ...process.env, ...RGW_ENV };
  execFileSync('bash', [path.join(ROOT, 'scripts/rgw.sh'), 'start'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  // The test user's fixed credentials (scripts/rgw.sh), for the SDK and for offline instances.
  process.env.AWS_ACCESS_KEY_ID = 'registrytest';
  process.env.AWS_SECRET_ACCESS_KEY = 'registrytestsecret';
  return {
    endpoint: `http://127.0.0.1:${RGW_ENV.RGW_PORT}`,
    bucket: 'registry-test',
    region: 'us-east-1',
    stop: () =>
      execFileSync('bash', [path.join(ROOT, 'scripts/rgw.sh'), 'stop'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] }),
  };
}
