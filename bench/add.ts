/**
 * Add of a bundle: the real client (lib/client addBundle) on a bundle built by lib/builder
 * against a `serverless offline` instance, vs the least work that keeps invariant 4 on a
 * store that does not check SHA-256 itself: an AWS SDK multipart upload of the same bytes
 * (lib-storage Upload, 8 MiB parts, the client's concurrency) plus one full read-back
 * through sha256. Then the second add of the same bundle: blob bytes sent (target 0).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DeleteObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { buildBundle } from '../lib/builder';
import { addBundle, type AddProgress } from '../lib/client';
import { createS3Client } from '../lib/storage/s3';
import { PART_SIZE } from '../lib/uploads/service';
import { TEST_TOKEN, type Offline } from '../test/support/offline';
import { definitionFor, randomFile } from './lib/assets';
import type { S3Target } from './lib/rgw';
import { ms, now } from './lib/stats';
import type { Results } from './lib/table';

const CONCURRENCY = 4;

async function baseline(s3: S3Target, file: string): Promise<number> {
  const client = createS3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true });
  const key = `bench-baseline-upload/${randomBytes(6).toString('hex')}`;
  const t = now();
  await new Upload({
    client,
    params: { Bucket: s3.bucket, Key: key, Body: createReadStream(file) },
    partSize: PART_SIZE,
    queueSize: CONCURRENCY,
  }).done();
  const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of got.Body as AsyncIterable<Buffer>) hash.update(chunk);
  hash.digest('hex');
  const elapsed = now() - t;
  // A GB-sized leftover per run fills a memstore RGW (its OSD then gets OOM-killed).
  await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key })).catch(() => undefined);
  client.destroy();
  return elapsed;
}

export async function addFigures(results: Results, s3: S3Target, offline: Offline, bytes: number): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-add-'));
  try {
    const asset = path.join(dir, 'asset.bin');
    await randomFile(asset, bytes);
    const name = `bench-add-${randomBytes(3).toString('hex')}`;
    const definitionFile = await definitionFor(dir, name, '1.0.0', asset);
    const { path: bundle } = await buildBundle({ definitionFile, outputDirectory: dir });
    const mb = `${(bytes / 1e6).toFixed(0)} MB`;

    // Warm the instance's upload function (a tiny add), as a steady-state registry is.
    const warmDir = path.join(dir, 'warm');
    await mkdir(warmDir);
    const tiny = path.join(warmDir, 'tiny.bin');
    await randomFile(tiny, 1024);
    const warm = await buildBundle({
      definitionFile: await definitionFor(warmDir, `${name}-warm`, '1.0.0', tiny),
      outputDirectory: warmDir,
    });
    await addBundle(warm.path, { url: offline.url, token: TEST_TOKEN, pollIntervalMs: 100 });

    const base = await baseline(s3, asset);
    const t = now();
    await addBundle(bundle, { url: offline.url, token: TEST_TOKEN, concurrency: CONCURRENCY, pollIntervalMs: 100 });
    const add = now() - t;
    const ratio = add / base;
    results.add({
      figure: `add of a ${mb} bundle (CLI client → serverless offline → RGW)`,
      value: ms(add),
      baseline: `SDK upload + sha256 read-back: ${ms(base)}`,
      ratio,
      target: '≤ 1.2×',
      met: ratio <= 1.2,
    });

    let toSend = -1;
    let sent = 0;
    const onProgress = (e: AddProgress) => {
      if (e.kind === 'start') toSend = e.bytesToSend;
      if (e.kind === 'upload') sent = e.sent;
    };
    const t2 = now();
    await addBundle(bundle, { url: offline.url, token: TEST_TOKEN, concurrency: CONCURRENCY, pollIntervalMs: 100, onProgress });
    results.add({
      figure: `second add of the same ${mb} bundle: blob bytes sent`,
      value: `${sent} B (planned ${toSend} B) in ${ms(now() - t2)}`,
      target: '0',
      met: sent === 0 && toSend === 0,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
