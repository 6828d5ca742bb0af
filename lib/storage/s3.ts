/**
 * S3 driver of the storage port: any S3-compatible store (AWS S3, Ceph RGW, MinIO, R2).
 *
 * Keys from lib/keys.ts are joined under `prefix` inside `bucket`. Every SDK failure goes
 * through translateError (one place, like parseError in distribution's s3-aws driver);
 * what it does not know is rethrown unchanged.
 *
 * Store quirks this file absorbs (measured; what each store enforces: docs/operations.md):
 * - If-Match on PutObject: RGW 16 matches only the unquoted ETag, R2 only the quoted one,
 *   AWS both: the form is a constructor option (the capability probe finds it).
 * - If-Match on a missing key: RGW answers 412, AWS 404; both mean "CAS lost".
 * - Stream bodies sent aws-chunked get 411 from RGW: clients must compute checksums only
 *   when required (createS3Client does that).
 * - RGW 16 ignores CopySourceIfMatch and answers an empty ETag to CompleteMultipartUpload:
 *   copy compares the source etag first, completeMultipart HEADs the result (see there).
 *
 * Timeouts (issue 10 item 7): a store that stops answering must not pin handlers or the
 * schedules. Connecting is bounded by the client (connectTimeoutMs); every call that answers
 * at once (reads of small objects, heads, puts, listings, multipart bookkeeping) has a deadline
 * for the whole call, SDK retries and body included (callTimeoutMs); calls whose answer may
 * legitimately take long (server-side copies, multipart completion) and streamed bodies are
 * bounded by silence on the connection instead (idleTimeoutMs). Past a bound the call fails
 * with StoreUnavailableError (503), and the next call starts afresh.
 */
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
  type GetObjectCommandOutput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { PreconditionFailedError } from '../errors';
import {
  type ConditionalWrites,
  type EtagForm,
  MAX_PART_NUMBER,
  type MultipartPart,
  type ObjectInfo,
  type ObjectStream,
  type PutOptions,
  type SignOptions,
  type Storage,
  type StoredObject,
} from './port';
import {
  contentDisposition,
  ignoreNotFound,
  isNotModified,
  parseContentRange,
  bounded,
  quote,
  type S3Operation,
  translateError,
  unquote,
} from './s3-common';

// Streamed PUTs and parts (REGISTRY_UPLOADS=proxy) live in this, the SDK half, too.
export { S3StreamingWrites } from './s3-writes';

/**
 * The presigner is loaded on first use, not at import: only signing paths need it, and every
 * function bundle evaluates what this file imports at cold start.
 */
let presignerModule: Promise<typeof import('@aws-sdk/s3-request-presigner')> | undefined;
const presigner = () => (presignerModule ??= import('@aws-sdk/s3-request-presigner'));

export interface S3StorageOptions {
  client: S3Client;
  bucket: string;
  /** Path inside the bucket; may be empty. Leading/trailing slashes are ignored. */
  prefix: string;
  /** Client configured with the endpoint clients reach (REGISTRY_S3_PUBLIC_ENDPOINT); signs URLs. */
  publicClient?: S3Client;
  /** ETag form the store accepts in If-Match on PutObject (default unquoted: RGW). */
  etagForm?: EtagForm;
  /** The form held by a driver over this one (s3-lazy.ts), shared so the probe's switch reaches both; overrides etagForm. */
  conditionalWrites?: ConditionalWrites;
  /**
   * Sources larger than `threshold` bytes are copied part by part (UploadPartCopy): AWS refuses
   * CopyObject above 5 GiB. Defaults: 5 GiB threshold, 512 MiB parts. Tests lower them.
   */
  multipartCopy?: { threshold: number; partSize: number };
  /** Deadline of one call that answers at once, retries and body included (default 5000 ms). */
  callTimeoutMs?: number;
}

export interface S3ClientSettings {
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  /** Default: the standard AWS credential chain. */
  credentials?: S3ClientConfig['credentials'];
  /** TCP connect bound (default 2000 ms). */
  connectTimeoutMs?: number;
  /** Longest silence on an open connection: no byte sent or received (default 30000 ms). */
  idleTimeoutMs?: number;
}

/** One per process. Checksums only when an operation requires them: RGW rejects aws-chunked streams (411). */
export function createS3Client(settings: S3ClientSettings): S3Client {
  return new S3Client({
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Options of the SDK's NodeHttpHandler: connect bound, and socket inactivity bound (bodies too).
    requestHandler: { connectionTimeout: settings.connectTimeoutMs ?? 2000, socketTimeout: settings.idleTimeoutMs ?? 30_000 },
  });
}

const LIST_PAGE = 1000;
const GiB = 1024 ** 3;
const PART_COPY_WIDTH = 4;

export class S3Storage implements Storage {
  readonly kind = 's3';
  private readonly client: S3Client;
  private readonly signer: S3Client;
  private readonly bucket: string;
  private readonly root: string;
  /** The If-Match form, found and switched by the capability probe (probe.ts). */
  readonly conditionalWrites: ConditionalWrites;
  private readonly multipartCopy: { threshold: number; partSize: number };
  private readonly callTimeoutMs: number;

  constructor(options: S3StorageOptions) {
    this.callTimeoutMs = options.callTimeoutMs ?? 5000;
    this.client = options.client;
    this.signer = options.publicClient ?? options.client;
    this.bucket = options.bucket;
    const prefix = options.prefix.replace(/^\/+|\/+$/g, '');
    this.root = prefix ? `${prefix}/` : '';
    this.conditionalWrites = options.conditionalWrites ?? { etagForm: options.etagForm ?? 'unquoted' };
    this.multipartCopy = options.multipartCopy ?? { threshold: 5 * GiB, partSize: 512 * 1024 ** 2 };
  }

  private full(key: string): string {
    return this.root + key;
  }

  private relative(fullKey: string): string {
    return fullKey.slice(this.root.length);
  }

  async get(key: string): Promise<StoredObject> {
    return bounded(this.callTimeoutMs, async (abortSignal, allow) => {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) }), { abortSignal });
      allow(out.ContentLength ?? 0);
      return this.stored(key, out);
    }).catch((err) => translateError(err, key, 'read'));
  }

  async getIfChanged(key: string, etag: string | undefined): Promise<StoredObject | null> {
    if (etag === undefined) return this.get(key);
    try {
      return await bounded(this.callTimeoutMs, async (abortSignal, allow) => {
        const command = new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key), IfNoneMatch: quote(etag) });
        const out = await this.client.send(command, { abortSignal });
        allow(out.ContentLength ?? 0);
        return this.stored(key, out);
      });
    } catch (err) {
      if (isNotModified(err)) return null;
      return translateError(err, key, 'read');
    }
  }

  private async stored(key: string, out: GetObjectCommandOutput): Promise<StoredObject> {
    const body = Buffer.from(out.Body ? await out.Body.transformToByteArray() : new Uint8Array());
    return { key, size: body.length, etag: unquote(out.ETag), body };
  }

  async getStream(key: string, range?: { start: number; end?: number }): Promise<ObjectStream> {
    const Range = range ? `bytes=${range.start}-${range.end ?? ''}` : undefined;
    // The deadline covers the answer's headers; the body may stream for long (bounded by silence).
    const out = await bounded(this.callTimeoutMs, (abortSignal) =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key), Range }), { abortSignal }),
    ).catch((err) => translateError(err, key, 'read'));
    const body = out.Body;
    // In Node the SDK body is an http.IncomingMessage; the fallbacks cover other runtimes.
    const stream =
      body instanceof Readable
        ? body
        : body
          ? Readable.fromWeb(body.transformToWebStream() as Parameters<typeof Readable.fromWeb>[0])
          : Readable.from([]);
    const got = Range ? parseContentRange(out.ContentRange) : undefined;
    return {
      key,
      size: out.ContentLength ?? 0,
      etag: unquote(out.ETag),
      stream,
      ...(got ? { range: got } : {}),
    };
  }

  async head(key: string): Promise<ObjectInfo> {
    const out = await bounded(this.callTimeoutMs, (abortSignal) =>
      this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.full(key) }), { abortSignal }),
    ).catch((err) => translateError(err, key, 'read'));
    return { key, size: out.ContentLength ?? 0, etag: unquote(out.ETag) };
  }

  async put(key: string, body: Buffer | string, options: PutOptions = {}): Promise<{ etag: string }> {
    if (options.ifNoneMatch && options.ifMatch !== undefined) {
      throw new TypeError('put: ifNoneMatch and ifMatch are mutually exclusive');
    }
    const op: S3Operation = options.ifNoneMatch ? 'create' : options.ifMatch !== undefined ? 'swap' : 'write';
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: this.full(key),
      Body: body,
      ContentType: options.contentType,
      ContentEncoding: options.contentEncoding,
      IfNoneMatch: options.ifNoneMatch,
      IfMatch: options.ifMatch === undefined ? undefined : this.ifMatchForm(options.ifMatch),
    });
    // One atomic object write: cut off by the deadline, it landed whole or not at all.
    const out = await bounded(this.callTimeoutMs, (abortSignal, allow) => {
      allow(Buffer.byteLength(body));
      return this.client.send(command, { abortSignal });
    }).catch((err) => translateError(err, key, op));
    return { etag: unquote(out.ETag) };
  }

  private ifMatchForm(etag: string): string {
    return this.conditionalWrites.etagForm === 'quoted' ? quote(etag) : unquote(etag);
  }

  async list(prefix: string, options: { startAfter?: string; limit?: number } = {}): Promise<ObjectInfo[]> {
    const found: ObjectInfo[] = [];
    const limit = options.limit ?? Infinity;
    let token: string | undefined;
    do {
      const command = new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: this.full(prefix),
        // S3 ignores StartAfter once a continuation token is given.
        StartAfter: token === undefined && options.startAfter !== undefined ? this.full(options.startAfter) : undefined,
        ContinuationToken: token,
        MaxKeys: Math.min(LIST_PAGE, limit - found.length),
      });
      const out = await bounded(this.callTimeoutMs, (abortSignal) => this.client.send(command, { abortSignal })).catch((err) =>
        translateError(err, prefix, 'read'),
      );
      for (const o of out.Contents ?? []) {
        if (found.length >= limit) break;
        found.push({ key: this.relative(o.Key ?? ''), size: o.Size ?? 0, etag: unquote(o.ETag) });
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token !== undefined && found.length < limit);
    return found;
  }

  async delete(key: string): Promise<void> {
    // S3 answers 204 for absent keys; a store answering 404 means the same thing.
    await bounded(this.callTimeoutMs, (abortSignal) =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(key) }), { abortSignal }),
    ).catch((err) => ignoreNotFound(() => translateError(err, key, 'write')));
  }

  async copy(source: string, target: string, options: { ifSourceEtag?: string } = {}): Promise<{ etag: string }> {
    // RGW 16 ignores CopySourceIfMatch (measured: a stale etag still copies), so compare first:
    // a stale etag then writes nothing anywhere. The condition is still sent, which makes the
    // copy atomic on stores that honour it (AWS, MinIO); on RGW a source rewritten between
    // this HEAD and the copy is not caught here. The HEAD also gives the size.
    const current = await this.head(source);
    const expected = options.ifSourceEtag === undefined ? undefined : unquote(options.ifSourceEtag);
    if (expected !== undefined && current.etag !== expected) throw new PreconditionFailedError(source);
    if (current.size > this.multipartCopy.threshold) return this.copyInParts(source, target, current);
    const out = await this.client
      .send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.full(target),
          CopySource: this.copySource(source),
          CopySourceIfMatch: expected === undefined ? undefined : quote(expected),
        }),
      )
      .catch((err) => translateError(err, source, 'copy'));
    return { etag: unquote(out.CopyObjectResult?.ETag) };
  }

  private copySource(key: string): string {
    return `${this.bucket}/${this.full(key).split('/').map(encodeURIComponent).join('/')}`;
  }

  /** Server-side copy of a big object in ranges; every part carries the source etag condition. */
  private async copyInParts(source: string, target: string, info: ObjectInfo): Promise<{ etag: string }> {
    const partSize = Math.max(this.multipartCopy.partSize, Math.ceil(info.size / MAX_PART_NUMBER));
    const count = Math.ceil(info.size / partSize);
    const uploadId = await this.createMultipart(target);
    try {
      const parts: MultipartPart[] = new Array(count);
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < count; i = next++) {
          const start = i * partSize;
          const end = Math.min(info.size, start + partSize) - 1;
          const out = await this.client
            .send(
              new UploadPartCopyCommand({
                Bucket: this.bucket,
                Key: this.full(target),
                UploadId: uploadId,
                PartNumber: i + 1,
                CopySource: this.copySource(source),
                CopySourceRange: `bytes=${start}-${end}`,
                CopySourceIfMatch: quote(info.etag),
              }),
            )
            .catch((err) => translateError(err, source, 'copy'));
          parts[i] = { partNumber: i + 1, etag: unquote(out.CopyPartResult?.ETag), size: end - start + 1 };
        }
      };
      await Promise.all(Array.from({ length: Math.min(PART_COPY_WIDTH, count) }, worker));
      const done = await this.completeMultipart(target, uploadId, parts);
      // Parts taken from two versions of a source rewritten mid-copy (possible where the store
      // ignores the condition) would make a target that never existed: refuse it.
      const after = await this.head(source).catch(() => undefined);
      if (after?.etag !== info.etag) {
        await this.delete(target);
        throw new PreconditionFailedError(source);
      }
      return done;
    } catch (err) {
      await this.abortMultipart(target, uploadId).catch(() => undefined);
      throw err;
    }
  }

  async signPut(key: string, options: SignOptions): Promise<string> {
    const command = new PutObjectCommand({ Bucket: this.bucket, Key: this.full(key), ContentType: options.contentType });
    return (await presigner()).getSignedUrl(this.signer, command, { expiresIn: options.expiresIn });
  }

  async signGet(key: string, options: SignOptions): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: this.full(key),
      ResponseContentDisposition: options.filename ? contentDisposition(options.filename) : undefined,
      ResponseContentType: options.contentType,
    });
    return (await presigner()).getSignedUrl(this.signer, command, { expiresIn: options.expiresIn });
  }

  async createMultipart(key: string): Promise<string> {
    const out = await bounded(this.callTimeoutMs, (abortSignal) =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.full(key) }), { abortSignal }),
    ).catch((err) => translateError(err, key, 'multipart'));
    if (!out.UploadId) throw new Error(`CreateMultipartUpload for ${key} returned no upload id`);
    return out.UploadId;
  }

  async signPart(key: string, uploadId: string, partNumber: number, options: SignOptions): Promise<string> {
    const command = new UploadPartCommand({ Bucket: this.bucket, Key: this.full(key), UploadId: uploadId, PartNumber: partNumber });
    return (await presigner()).getSignedUrl(this.signer, command, { expiresIn: options.expiresIn });
  }

  async listParts(key: string, uploadId: string): Promise<MultipartPart[]> {
    const parts: MultipartPart[] = [];
    let marker: string | undefined;
    do {
      const command = new ListPartsCommand({ Bucket: this.bucket, Key: this.full(key), UploadId: uploadId, PartNumberMarker: marker });
      const out = await bounded(this.callTimeoutMs, (abortSignal) => this.client.send(command, { abortSignal })).catch((err) =>
        translateError(err, key, 'multipart'),
      );
      for (const p of out.Parts ?? []) {
        parts.push({ partNumber: p.PartNumber ?? 0, etag: unquote(p.ETag), size: p.Size ?? 0 });
      }
      marker = out.IsTruncated ? out.NextPartNumberMarker : undefined;
    } while (marker !== undefined);
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async completeMultipart(key: string, uploadId: string, parts: MultipartPart[]): Promise<{ etag: string }> {
    const out = await this.client
      .send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.full(key),
          UploadId: uploadId,
          MultipartUpload: {
            Parts: [...parts].sort((a, b) => a.partNumber - b.partNumber).map((p) => ({ PartNumber: p.partNumber, ETag: quote(p.etag) })),
          },
        }),
      )
      .catch((err) => translateError(err, key, 'multipart'));
    // RGW 16 answers <ETag></ETag> here; the object's own etag is then one HEAD away.
    return { etag: out.ETag ? unquote(out.ETag) : (await this.head(key)).etag };
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    // Unknown or already finished uploads are not an error (NoSuchUpload).
    await bounded(this.callTimeoutMs, (abortSignal) =>
      this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.full(key), UploadId: uploadId }), { abortSignal }),
    ).catch((err) => ignoreNotFound(() => translateError(err, key, 'multipart')));
  }
}
