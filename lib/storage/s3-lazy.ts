/**
 * The S3 driver as the registry's processes use it (issue 14): reads (get, getIfChanged,
 * getStream, head) and presigned GET URLs go over node:http with an SigV4 signer (s3-http.ts);
 * everything else (puts, listings, copies, multipart, presigned PUTs) goes to the SDK driver
 * (s3.ts), loaded with `await import()` on first use. A read function's cold start thus never
 * evaluates the AWS SDK: esbuild keeps a dynamically imported module lazy inside the bundle.
 *
 * Both halves share the error translation (s3-common.ts), the call deadline (`callTimeoutMs`,
 * body allowance included) and the connect/idle bounds, so callers see one driver.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { StreamingWrites } from './relay';
import type {
  ConditionalWrites,
  EtagForm,
  MultipartPart,
  ObjectInfo,
  ObjectStream,
  PutOptions,
  SignOptions,
  Storage,
  StoredObject,
} from './port';
import type { S3ClientSettings, S3Storage } from './s3';
import { bounded, contentDisposition, isNotModified, parseContentRange, quote, translateError, unquote } from './s3-common';
import { type CredentialSource, credentialSource, type S3Credentials } from './s3-credentials';
import { S3Http } from './s3-http';

export interface LazyS3StorageOptions {
  /** Endpoint, region, addressing and connect/idle bounds, for both halves. */
  settings: Omit<S3ClientSettings, 'credentials'>;
  /** Endpoint named in signed URLs (REGISTRY_S3_PUBLIC_ENDPOINT); default: settings.endpoint. */
  publicEndpoint?: string;
  bucket: string;
  prefix: string;
  etagForm?: EtagForm;
  /** Deadline of one call that answers at once, retries and body included (default 5000 ms). */
  callTimeoutMs?: number;
  /** Where credentials are looked up (default process.env); tests pass their own. */
  env?: NodeJS.ProcessEnv;
  /** Source of credentials (default: s3-credentials.ts's chain over `env`, then the SDK's provider). */
  credentials?: CredentialSource;
}

export class LazyS3Storage implements Storage {
  readonly kind = 's3';
  private readonly reader: S3Http;
  private readonly publicReader: S3Http;
  private readonly root: string;
  private readonly callTimeoutMs: number;
  private sdkDriver: Promise<{ storage: S3Storage; client: S3Client; writes: StreamingWrites }> | undefined;
  /** The If-Match form writes use: the probe (probe.ts) switches it, and the SDK half shares it. */
  readonly conditionalWrites: ConditionalWrites;

  constructor(private readonly options: LazyS3StorageOptions) {
    const prefix = options.prefix.replace(/^\/+|\/+$/g, '');
    this.root = prefix ? `${prefix}/` : '';
    this.callTimeoutMs = options.callTimeoutMs ?? 5000;
    this.conditionalWrites = { etagForm: options.etagForm ?? 'unquoted' };
    const credentials =
      options.credentials ??
      credentialSource(options.env ?? process.env, async () => {
        // The SDK's default chain (SSO, assume-role, process, web identity, ECS, IMDS), cached by the client.
        const { client } = await this.sdk();
        return (await client.config.credentials()) as S3Credentials;
      });
    const s = options.settings;
    const common = { region: s.region, forcePathStyle: s.forcePathStyle, bucket: options.bucket, credentials };
    this.reader = new S3Http({ ...common, endpoint: s.endpoint, connectTimeoutMs: s.connectTimeoutMs, idleTimeoutMs: s.idleTimeoutMs });
    this.publicReader = options.publicEndpoint ? new S3Http({ ...common, endpoint: options.publicEndpoint }) : this.reader;
  }

  /** The SDK driver, built on first use (the only place this module loads the SDK). */
  private sdk(): Promise<{ storage: S3Storage; client: S3Client; writes: StreamingWrites }> {
    this.sdkDriver ??= import('./s3').then((m) => {
      const o = this.options;
      const client = m.createS3Client(o.settings);
      const publicClient = o.publicEndpoint ? m.createS3Client({ ...o.settings, endpoint: o.publicEndpoint }) : undefined;
      const storage = new m.S3Storage({
        client,
        publicClient,
        bucket: o.bucket,
        prefix: o.prefix,
        conditionalWrites: this.conditionalWrites,
        callTimeoutMs: o.callTimeoutMs,
      });
      const writes = new m.S3StreamingWrites(client, o.bucket, this.root.replace(/\/$/, ''));
      return { storage, client, writes };
    });
    return this.sdkDriver;
  }

  /** Streamed single PUTs and parts (REGISTRY_UPLOADS=proxy, lib/storage/relay.ts), over the SDK half loaded on first use. */
  streamingWrites(): StreamingWrites {
    return {
      putStream: async (...args) => (await this.sdk()).writes.putStream(...args),
      uploadPartStream: async (...args) => (await this.sdk()).writes.uploadPartStream(...args),
    };
  }

  private full(key: string): string {
    return this.root + key;
  }

  private async whole(key: string, headers: Record<string, string>): Promise<StoredObject> {
    return bounded(this.callTimeoutMs, async (signal, allow) => {
      const answer = await this.reader.send('GET', this.full(key), headers, signal);
      allow(Number(answer.headers['content-length'] ?? 0));
      const chunks: Buffer[] = [];
      for await (const chunk of answer.body) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      return { key, size: body.length, etag: unquote(answer.headers.etag), body };
    });
  }

  async get(key: string): Promise<StoredObject> {
    return this.whole(key, {}).catch((err) => translateError(err, key, 'read'));
  }

  async getIfChanged(key: string, etag: string | undefined): Promise<StoredObject | null> {
    if (etag === undefined) return this.get(key);
    try {
      return await this.whole(key, { 'If-None-Match': quote(etag) });
    } catch (err) {
      if (isNotModified(err)) return null;
      return translateError(err, key, 'read');
    }
  }

  async getStream(key: string, range?: { start: number; end?: number }): Promise<ObjectStream> {
    const headers: Record<string, string> = range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {};
    // The deadline covers the answer's headers; the body may stream for long (bounded by silence).
    // The stream outlives the deadline's signal: abort is only wired while the headers are awaited.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.callTimeoutMs);
    const answer = await this.reader
      .send('GET', this.full(key), headers, abort.signal)
      .catch((err) => translateError(err, key, 'read'))
      .finally(() => clearTimeout(timer));
    const got = range ? parseContentRange([answer.headers['content-range']].flat()[0]) : undefined;
    return {
      key,
      size: Number(answer.headers['content-length'] ?? 0),
      etag: unquote(answer.headers.etag),
      stream: answer.body,
      ...(got ? { range: got } : {}),
    };
  }

  async head(key: string): Promise<ObjectInfo> {
    const answer = await bounded(this.callTimeoutMs, (signal) => this.reader.send('HEAD', this.full(key), {}, signal)).catch((err) =>
      translateError(err, key, 'read'),
    );
    return { key, size: Number(answer.headers['content-length'] ?? 0), etag: unquote(answer.headers.etag) };
  }

  async signGet(key: string, options: SignOptions): Promise<string> {
    const query: Record<string, string> = {};
    if (options.filename) query['response-content-disposition'] = contentDisposition(options.filename);
    if (options.contentType) query['response-content-type'] = options.contentType;
    return this.publicReader.presignGet(this.full(key), options.expiresIn, query);
  }

  // Everything below goes to the SDK driver.

  async put(key: string, body: Buffer | string, options?: PutOptions): Promise<{ etag: string }> {
    return (await this.sdk()).storage.put(key, body, options);
  }

  async list(prefix: string, options?: { startAfter?: string; limit?: number }): Promise<ObjectInfo[]> {
    return (await this.sdk()).storage.list(prefix, options);
  }

  async delete(key: string): Promise<void> {
    return (await this.sdk()).storage.delete(key);
  }

  async copy(source: string, target: string, options?: { ifSourceEtag?: string }): Promise<{ etag: string }> {
    return (await this.sdk()).storage.copy(source, target, options);
  }

  async signPut(key: string, options: SignOptions): Promise<string> {
    return (await this.sdk()).storage.signPut(key, options);
  }

  async createMultipart(key: string): Promise<string> {
    return (await this.sdk()).storage.createMultipart(key);
  }

  async signPart(key: string, uploadId: string, partNumber: number, options: SignOptions): Promise<string> {
    return (await this.sdk()).storage.signPart(key, uploadId, partNumber, options);
  }

  async listParts(key: string, uploadId: string): Promise<MultipartPart[]> {
    return (await this.sdk()).storage.listParts(key, uploadId);
  }

  async completeMultipart(key: string, uploadId: string, parts: MultipartPart[]): Promise<{ etag: string }> {
    return (await this.sdk()).storage.completeMultipart(key, uploadId, parts);
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    return (await this.sdk()).storage.abortMultipart(key, uploadId);
  }
}
