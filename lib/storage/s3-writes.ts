/**
 * S3 writes of a streamed body (REGISTRY_UPLOADS=proxy, lib/storage/relay.ts): PutObject and
 * UploadPart with the request's body stream and its declared Content-Length, so the registry
 * holds no more than the chunks in flight whatever the part's size. No call deadline: a body
 * takes as long as its client sends it; the client's idle timeout (REGISTRY_S3_IDLE_TIMEOUT_MS)
 * bounds silence on the store connection.
 */
import { PutObjectCommand, type S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import type { StreamingWrites } from './relay';
import { translateError, unquote } from './s3-common';

export class S3StreamingWrites implements StreamingWrites {
  private readonly root: string;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    prefix: string,
  ) {
    this.root = prefix ? `${prefix}/` : '';
  }

  putStream: StreamingWrites['putStream'] = async (key, body, size, abortSignal) => {
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: this.root + key,
      Body: body,
      ContentLength: size,
      ContentType: 'application/octet-stream',
    });
    const out = await this.client.send(command, { abortSignal }).catch((error) => translateError(error, key, 'write'));
    return { etag: unquote(out.ETag) };
  };

  uploadPartStream: StreamingWrites['uploadPartStream'] = async (key, uploadId, partNumber, body, size, abortSignal) => {
    const command = new UploadPartCommand({
      Bucket: this.bucket,
      Key: this.root + key,
      UploadId: uploadId,
      PartNumber: partNumber,
      Body: body,
      ContentLength: size,
    });
    const out = await this.client.send(command, { abortSignal }).catch((error) => translateError(error, key, 'multipart'));
    return { etag: unquote(out.ETag) };
  };
}
