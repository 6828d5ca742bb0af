/**
 * The S3 driver against a real S3 server (Ceph RGW from scripts/rgw.sh in CI and `npm test`;
 * any S3-compatible store works). Never a mock: s3-errors.test.ts is the only mocked test.
 *
 * Settings: REGISTRY_TEST_S3_ENDPOINT, REGISTRY_TEST_S3_BUCKET, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_REGION (`eval "$(scripts/rgw.sh env)"`). Without an endpoint
 * this file fails: a driver that was never run against a store is not tested.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client, S3Storage } from '../../lib/storage/s3';
import { AlreadyExistsError, NotFoundError, PreconditionFailedError } from '../../lib/errors';
import { storageConformance } from './conformance';

const endpoint = process.env.REGISTRY_TEST_S3_ENDPOINT;
const bucket = process.env.REGISTRY_TEST_S3_BUCKET ?? 'registry-test';
const region = process.env.AWS_REGION ?? 'us-east-1';
/** Every run writes under its own prefix, so runs (and parallel files) never see each other. */
const runPrefix = `test-s3/${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
const sign = { expiresIn: 300, origin: 'http://registry.invalid' };

if (!endpoint) {
  describe('S3 driver', () => {
    it('needs a real S3 server', () => {
      throw new Error(
        'REGISTRY_TEST_S3_ENDPOINT is not set. Run `npm test` (it starts Ceph RGW via scripts/rgw.sh), ' +
          'or start one yourself: `scripts/rgw.sh start && eval "$(scripts/rgw.sh env)"`.',
      );
    });
  });
} else {
  const client = createS3Client({ endpoint, region, forcePathStyle: true });
  let counter = 0;
  const made: S3Storage[] = [];
  const make = (extra: Partial<ConstructorParameters<typeof S3Storage>[0]> = {}): S3Storage => {
    const storage = new S3Storage({ client, bucket, prefix: `${runPrefix}/${++counter}`, ...extra });
    made.push(storage);
    return storage;
  };

  afterAll(async () => {
    // Leave nothing behind on a long-lived store (MinIO, a shared bucket).
    for (const storage of made) {
      for (const o of await storage.list('')) await storage.delete(o.key);
    }
  });

  // The shared suite: the same tests the filesystem driver passes.
  storageConformance('s3', async () => ({ storage: make() }));

  describe('S3 driver specifics on a real store', () => {
    it('keeps prefixes apart: another prefix sees nothing', async () => {
      const s = make();
      const other = make();
      await s.put('only-here', 'x');
      expect((await s.list('')).map((o) => o.key)).toEqual(['only-here']);
      expect(await other.list('')).toEqual([]);
      await expect(other.get('only-here')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('an empty prefix addresses the bucket root', async () => {
      const root = new S3Storage({ client, bucket, prefix: '' });
      const s = make();
      await s.put('deep/key', 'x');
      const viaRoot = await root.list(`${runPrefix}/${counter}/`);
      expect(viaRoot.map((o) => o.key)).toEqual([`${runPrefix}/${counter}/deep/key`]);
    });

    it('CAS on a missing key is PreconditionFailedError, never NotFound (RGW 412, AWS 404)', async () => {
      const s = make();
      const donor = await s.put('donor', 'x');
      await expect(s.put('never-written', 'v', { ifMatch: donor.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
      await expect(s.put('never-written', 'v', { ifNoneMatch: '*' })).resolves.toHaveProperty('etag');
      await expect(s.put('never-written', 'v', { ifNoneMatch: '*' })).rejects.toBeInstanceOf(AlreadyExistsError);
    });

    it('copies big sources part by part (UploadPartCopy), with the same source etag rules', async () => {
      const MiB = 1024 * 1024;
      const s = make({ multipartCopy: { threshold: 6 * MiB, partSize: 5 * MiB } });
      const data = randomBytes(11 * MiB + 17);
      const v1 = await s.put('uploads/big', data);
      const { etag } = await s.copy('uploads/big', 'blobs/big', { ifSourceEtag: v1.etag });
      expect(etag).toMatch(/-3$/);
      expect((await s.head('blobs/big')).etag).toBe(etag);
      expect((await s.get('blobs/big')).body.equals(data)).toBe(true);
      await s.put('uploads/big', randomBytes(7 * MiB));
      await expect(s.copy('uploads/big', 'blobs/stale', { ifSourceEtag: v1.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
      await expect(s.head('blobs/stale')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('completeMultipart returns the object etag even where the store answers an empty one (RGW 16)', async () => {
      const s = make();
      const id = await s.createMultipart('big');
      const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1234)];
      for (const n of [2, 1]) {
        const url = await s.signPart('big', id, n, sign);
        expect((await fetch(url, { method: 'PUT', body: parts[n - 1] })).status).toBe(200);
      }
      const { etag } = await s.completeMultipart('big', id, await s.listParts('big', id));
      expect(etag).toMatch(/^[0-9a-f]{32}-2$/);
      expect((await s.head('big')).etag).toBe(etag);
      // Buffer.equals: vitest's toEqual walks a 5 MB buffer byte by byte for half a minute.
      expect((await s.get('big')).body.equals(Buffer.concat(parts))).toBe(true);
    });
  });

  describe('signed URLs on a real store', () => {
    it('a signed PUT uploads and a signed GET downloads with the file name', async () => {
      const s = make();
      const put = await s.signPut('assets/file.bin', { ...sign, contentType: 'application/octet-stream' });
      const res = await fetch(put, { method: 'PUT', body: 'payload', headers: { 'content-type': 'application/octet-stream' } });
      expect(res.status).toBe(200);
      const get = await s.signGet('assets/file.bin', { ...sign, filename: 'résumé "v1".bin' });
      const down = await fetch(get);
      expect(down.status).toBe(200);
      expect(await down.text()).toBe('payload');
      expect(down.headers.get('content-disposition')).toContain(`filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v1%22.bin`);
    });

    it('rejects signed PUTs made with a wrong secret, tampered or expired (403) and stores nothing', async () => {
      const s = make();
      const wrongSecret = createS3Client({
        endpoint,
        region,
        forcePathStyle: true,
        credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'registrytest', secretAccessKey: 'not-the-secret' },
      });
      const forged = await make({ client, publicClient: wrongSecret }).signPut('x', sign);
      const valid = await s.signPut('x', sign);
      const repointed = valid.replace('/x?', '/y?');
      const tampered = valid.replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=604800');
      // Signed an hour ago for 60 s: already expired, without waiting.
      const expired = await getSignedUrl(client, new PutObjectCommand({ Bucket: bucket, Key: `${runPrefix}/${counter}/x` }), {
        expiresIn: 60,
        signingDate: new Date(Date.now() - 3_600_000),
      });
      expect(repointed).not.toBe(valid);
      expect(tampered).not.toBe(valid);
      for (const url of [forged, repointed, tampered, expired]) {
        const res = await fetch(url, { method: 'PUT', body: 'evil' });
        expect(res.status, url).toBe(403);
      }
      expect(await s.list('')).toEqual([]);
      expect((await fetch(valid, { method: 'PUT', body: 'good' })).status).toBe(200);
    });

    it('signs with the public endpoint when one is given, and those URLs work', async () => {
      const publicEndpoint = new URL(endpoint);
      publicEndpoint.hostname = publicEndpoint.hostname === 'localhost' ? '127.0.0.1' : 'localhost';
      const publicClient = createS3Client({ endpoint: publicEndpoint.origin, region, forcePathStyle: true });
      const s = make({ publicClient });
      const put = await s.signPut('pub', sign);
      expect(new URL(put).host).toBe(publicEndpoint.host);
      expect((await fetch(put, { method: 'PUT', body: 'via public host' })).status).toBe(200);
      const get = await s.signGet('pub', sign);
      expect(new URL(get).host).toBe(publicEndpoint.host);
      expect(await (await fetch(get)).text()).toBe('via public host');
    });
  });
}
