/**
 * Error translation of the S3 driver, with a mocked client: the one place mocks are allowed.
 * The real-server behaviour is covered by s3.test.ts against RGW; these tests pin down the
 * answers RGW does not give (AWS's 404 on If-Match, R2's quoted ETags, 409 conflicts).
 */
import { describe, expect, it, beforeEach } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import * as sdk from '@aws-sdk/client-s3';
import { createS3Client, S3Storage } from '../../lib/storage/s3';
import { AlreadyExistsError, ConflictError, NotFoundError, PreconditionFailedError, StoreUnavailableError } from '../../lib/errors';

function sdkError(name: string, status: number): sdk.S3ServiceException {
  return new sdk.S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message: name });
}

const client = createS3Client({ region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
const s3 = mockClient(client);
const storage = (etagForm?: 'quoted' | 'unquoted') => new S3Storage({ client, bucket: 'b', prefix: 'root/', etagForm });

beforeEach(() => s3.reset());

describe('S3 error translation', () => {
  it('NoSuchKey on get and 404 NotFound on head become NotFoundError', async () => {
    s3.on(sdk.GetObjectCommand).rejects(sdkError('NoSuchKey', 404));
    s3.on(sdk.HeadObjectCommand).rejects(sdkError('NotFound', 404));
    await expect(storage().get('k')).rejects.toBeInstanceOf(NotFoundError);
    await expect(storage().getStream('k')).rejects.toBeInstanceOf(NotFoundError);
    await expect(storage().head('k')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('keeps the SDK error as cause', async () => {
    const original = sdkError('NoSuchKey', 404);
    s3.on(sdk.GetObjectCommand).rejects(original);
    const err = await storage()
      .get('k')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).cause).toBe(original);
  });

  it('412 on a create-only put is AlreadyExistsError', async () => {
    s3.on(sdk.PutObjectCommand).rejects(sdkError('PreconditionFailed', 412));
    await expect(storage().put('k', 'x', { ifNoneMatch: '*' })).rejects.toBeInstanceOf(AlreadyExistsError);
  });

  it('412 on an If-Match put is PreconditionFailedError', async () => {
    s3.on(sdk.PutObjectCommand).rejects(sdkError('PreconditionFailed', 412));
    await expect(storage().put('k', 'x', { ifMatch: 'abc' })).rejects.toBeInstanceOf(PreconditionFailedError);
  });

  it('404 on an If-Match put (AWS, missing key) is PreconditionFailedError, not NotFound', async () => {
    s3.on(sdk.PutObjectCommand).rejects(sdkError('NoSuchKey', 404));
    await expect(storage().put('k', 'x', { ifMatch: 'abc' })).rejects.toBeInstanceOf(PreconditionFailedError);
  });

  it('409 ConditionalRequestConflict is ConflictError (retry)', async () => {
    s3.on(sdk.PutObjectCommand).rejects(sdkError('ConditionalRequestConflict', 409));
    await expect(storage().put('k', 'x', { ifNoneMatch: '*' })).rejects.toBeInstanceOf(ConflictError);
    await expect(storage().put('k', 'x', { ifMatch: 'e' })).rejects.toBeInstanceOf(ConflictError);
  });

  it('412 on copy with a source etag is PreconditionFailedError; a missing source is NotFoundError', async () => {
    s3.on(sdk.HeadObjectCommand).resolves({ ContentLength: 1, ETag: '"e"' });
    s3.on(sdk.CopyObjectCommand).rejectsOnce(sdkError('PreconditionFailed', 412)).rejectsOnce(sdkError('NoSuchKey', 404));
    await expect(storage().copy('a', 'b', { ifSourceEtag: 'e' })).rejects.toBeInstanceOf(PreconditionFailedError);
    await expect(storage().copy('a', 'b')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('copy with a stale source etag fails before anything is written (RGW ignores CopySourceIfMatch)', async () => {
    s3.on(sdk.HeadObjectCommand).resolves({ ContentLength: 1, ETag: '"current"' });
    await expect(storage().copy('a', 'b', { ifSourceEtag: 'stale' })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(s3.commandCalls(sdk.CopyObjectCommand)).toHaveLength(0);
  });

  it('NoSuchUpload: listParts fails with NotFoundError, abort ignores it', async () => {
    s3.on(sdk.ListPartsCommand).rejects(sdkError('NoSuchUpload', 404));
    s3.on(sdk.AbortMultipartUploadCommand).rejects(sdkError('NoSuchUpload', 404));
    await expect(storage().listParts('k', 'u')).rejects.toBeInstanceOf(NotFoundError);
    await expect(storage().abortMultipart('k', 'u')).resolves.toBeUndefined();
  });

  it('delete of an absent key is not an error even if the store says 404', async () => {
    s3.on(sdk.DeleteObjectCommand).rejects(sdkError('NoSuchKey', 404));
    await expect(storage().delete('k')).resolves.toBeUndefined();
  });

  it('rethrows everything else unchanged (access denied, missing bucket, server errors)', async () => {
    for (const e of [sdkError('AccessDenied', 403), sdkError('NoSuchBucket', 404), sdkError('InternalError', 500)]) {
      s3.reset();
      s3.on(sdk.GetObjectCommand).rejects(e);
      s3.on(sdk.DeleteObjectCommand).rejects(e);
      await expect(storage().get('k')).rejects.toBe(e);
      await expect(storage().delete('k')).rejects.toBe(e);
    }
    const plain = new Error('socket hang up');
    s3.on(sdk.PutObjectCommand).rejects(plain);
    await expect(storage().put('k', 'x', { ifNoneMatch: '*' })).rejects.toBe(plain);
  });

  it('no answer in time, or no connection, is StoreUnavailableError (503), with the cause kept', async () => {
    for (const e of [
      Object.assign(new Error('Request aborted'), { name: 'AbortError' }),
      Object.assign(new Error('socket timed out'), { name: 'TimeoutError' }),
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    ]) {
      s3.reset();
      s3.on(sdk.HeadObjectCommand).rejects(e);
      s3.on(sdk.PutObjectCommand).rejects(e);
      await expect(storage().head('k')).rejects.toMatchObject({ type: 'StoreUnavailable', cause: e });
      await expect(storage().put('k', 'x', { ifNoneMatch: '*' })).rejects.toBeInstanceOf(StoreUnavailableError);
    }
  });

  it('getIfChanged: 304 is null, and the etag is sent quoted', async () => {
    s3.on(sdk.GetObjectCommand).rejects(sdkError('NotModified', 304));
    await expect(storage().getIfChanged('k', 'abc')).resolves.toBeNull();
    expect(s3.commandCalls(sdk.GetObjectCommand)[0].args[0].input).toMatchObject({ Key: 'root/k', IfNoneMatch: '"abc"' });
  });
});

describe('S3 request shaping', () => {
  it('sends If-Match in the configured form', async () => {
    s3.on(sdk.PutObjectCommand).resolves({ ETag: '"new"' });
    await expect(storage('unquoted').put('k', 'x', { ifMatch: 'old' })).resolves.toEqual({ etag: 'new' });
    await storage('quoted').put('k', 'x', { ifMatch: 'old' });
    const sent = s3.commandCalls(sdk.PutObjectCommand).map((c) => c.args[0].input.IfMatch);
    expect(sent).toEqual(['old', '"old"']);
  });

  it('pages ListObjectsV2 with continuation tokens, strips the prefix and honours limit', async () => {
    s3.on(sdk.ListObjectsV2Command)
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: 't1', Contents: [{ Key: 'root/p/a', Size: 1, ETag: '"1"' }] })
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: 't2', Contents: [{ Key: 'root/p/b', Size: 2, ETag: '"2"' }] })
      .resolvesOnce({ IsTruncated: false, Contents: [{ Key: 'root/p/c', Size: 3, ETag: '"3"' }] });
    const all = await storage().list('p/', { startAfter: 'p/0' });
    expect(all).toEqual([
      { key: 'p/a', size: 1, etag: '1' },
      { key: 'p/b', size: 2, etag: '2' },
      { key: 'p/c', size: 3, etag: '3' },
    ]);
    const inputs = s3.commandCalls(sdk.ListObjectsV2Command).map((c) => c.args[0].input);
    expect(inputs[0]).toMatchObject({ Prefix: 'root/p/', StartAfter: 'root/p/0', ContinuationToken: undefined });
    expect(inputs[1]).toMatchObject({ ContinuationToken: 't1', StartAfter: undefined });
    expect(inputs[2]).toMatchObject({ ContinuationToken: 't2' });
  });

  it('stops listing once limit keys are found', async () => {
    s3.on(sdk.ListObjectsV2Command).resolves({
      IsTruncated: true,
      NextContinuationToken: 'more',
      Contents: [
        { Key: 'root/a', Size: 1, ETag: '"1"' },
        { Key: 'root/b', Size: 1, ETag: '"2"' },
      ],
    });
    await expect(storage().list('', { limit: 2 })).resolves.toHaveLength(2);
    expect(s3.commandCalls(sdk.ListObjectsV2Command)).toHaveLength(1);
    expect(s3.commandCalls(sdk.ListObjectsV2Command)[0].args[0].input.MaxKeys).toBe(2);
  });

  it('pages ListParts', async () => {
    s3.on(sdk.ListPartsCommand)
      .resolvesOnce({ IsTruncated: true, NextPartNumberMarker: '1', Parts: [{ PartNumber: 1, ETag: '"e1"', Size: 5 }] })
      .resolvesOnce({ IsTruncated: false, Parts: [{ PartNumber: 2, ETag: '"e2"', Size: 3 }] });
    await expect(storage().listParts('k', 'u')).resolves.toEqual([
      { partNumber: 1, etag: 'e1', size: 5 },
      { partNumber: 2, etag: 'e2', size: 3 },
    ]);
    expect(s3.commandCalls(sdk.ListPartsCommand)[1].args[0].input.PartNumberMarker).toBe('1');
  });

  it('completeMultipart sends quoted part etags in order and HEADs when the store returns no etag (RGW 16)', async () => {
    s3.on(sdk.CompleteMultipartUploadCommand).resolves({ ETag: '' });
    s3.on(sdk.HeadObjectCommand).resolves({ ContentLength: 8, ETag: '"whole-2"' });
    const parts = [
      { partNumber: 2, etag: 'p2', size: 3 },
      { partNumber: 1, etag: 'p1', size: 5 },
    ];
    await expect(storage().completeMultipart('k', 'u', parts)).resolves.toEqual({ etag: 'whole-2' });
    expect(s3.commandCalls(sdk.CompleteMultipartUploadCommand)[0].args[0].input.MultipartUpload?.Parts).toEqual([
      { PartNumber: 1, ETag: '"p1"' },
      { PartNumber: 2, ETag: '"p2"' },
    ]);
  });

  it('copies sources above the threshold part by part and checks the source did not change meanwhile', async () => {
    const big = new S3Storage({ client, bucket: 'b', prefix: '', multipartCopy: { threshold: 10, partSize: 8 } });
    s3.on(sdk.HeadObjectCommand).resolvesOnce({ ContentLength: 20, ETag: '"src"' }).resolvesOnce({ ContentLength: 20, ETag: '"src"' });
    s3.on(sdk.CreateMultipartUploadCommand).resolves({ UploadId: 'u1' });
    s3.on(sdk.UploadPartCopyCommand).callsFake(async (input) => ({ CopyPartResult: { ETag: `"p${input.PartNumber}"` } }));
    s3.on(sdk.CompleteMultipartUploadCommand).resolves({ ETag: '"whole-3"' });
    await expect(big.copy('src', 'dst', { ifSourceEtag: 'src' })).resolves.toEqual({ etag: 'whole-3' });
    const ranges = s3
      .commandCalls(sdk.UploadPartCopyCommand)
      .map((c) => [c.args[0].input.PartNumber, c.args[0].input.CopySourceRange, c.args[0].input.CopySourceIfMatch]);
    expect(ranges.sort()).toEqual([
      [1, 'bytes=0-7', '"src"'],
      [2, 'bytes=8-15', '"src"'],
      [3, 'bytes=16-19', '"src"'],
    ]);
    expect(s3.commandCalls(sdk.CompleteMultipartUploadCommand)[0].args[0].input.MultipartUpload?.Parts?.map((p) => p.ETag)).toEqual([
      '"p1"',
      '"p2"',
      '"p3"',
    ]);
  });

  it('a source rewritten during a part-by-part copy fails the copy and removes the target', async () => {
    const big = new S3Storage({ client, bucket: 'b', prefix: '', multipartCopy: { threshold: 10, partSize: 8 } });
    s3.on(sdk.HeadObjectCommand).resolvesOnce({ ContentLength: 20, ETag: '"src"' }).resolvesOnce({ ContentLength: 20, ETag: '"other"' });
    s3.on(sdk.CreateMultipartUploadCommand).resolves({ UploadId: 'u1' });
    s3.on(sdk.UploadPartCopyCommand).resolves({ CopyPartResult: { ETag: '"p"' } });
    s3.on(sdk.CompleteMultipartUploadCommand).resolves({ ETag: '"whole-3"' });
    s3.on(sdk.DeleteObjectCommand).resolves({});
    await expect(big.copy('src', 'dst')).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(s3.commandCalls(sdk.DeleteObjectCommand)[0].args[0].input.Key).toBe('dst');
  });

  it('an empty prefix leaves keys as they are; slashes around a prefix are ignored', async () => {
    s3.on(sdk.HeadObjectCommand).resolves({ ContentLength: 1, ETag: '"e"' });
    await new S3Storage({ client, bucket: 'b', prefix: '' }).head('x/y');
    await new S3Storage({ client, bucket: 'b', prefix: '/deep/root/' }).head('x/y');
    expect(s3.commandCalls(sdk.HeadObjectCommand).map((c) => c.args[0].input.Key)).toEqual(['x/y', 'deep/root/x/y']);
  });

  it('copy names the source URL-encoded under the bucket and sends the source etag quoted', async () => {
    s3.on(sdk.HeadObjectCommand).resolves({ ContentLength: 1, ETag: '"e"' });
    s3.on(sdk.CopyObjectCommand).resolves({ CopyObjectResult: { ETag: '"c"' } });
    await expect(storage().copy('uploads/a b/x', 'blobs/y', { ifSourceEtag: 'e' })).resolves.toEqual({ etag: 'c' });
    expect(s3.commandCalls(sdk.CopyObjectCommand)[0].args[0].input).toMatchObject({
      Bucket: 'b',
      Key: 'root/blobs/y',
      CopySource: 'b/root/uploads/a%20b/x',
      CopySourceIfMatch: '"e"',
    });
  });
});
