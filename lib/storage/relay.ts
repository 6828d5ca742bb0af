/**
 * Uploads through the registry to any store (REGISTRY_UPLOADS=proxy): for clients that can
 * reach the registry (e.g. through Admin Router at <DCOS_URL>/service/<name>/) but not the
 * store. Upload targets (single PUTs and multipart parts) become the registry's own signed
 * /_store URLs under its public origin (lib/storage/signing.ts: the same HMAC grant as the
 * filesystem driver's, scoped by lib/keys.ts's signedScope), and the registry's /_store
 * route streams each body to the store through `StreamingWrites` (S3: PutObject / UploadPart
 * with the streamed body and its declared Content-Length), never holding more than a chunk.
 *
 * Everything else (reads, downloads' signed GETs, multipart bookkeeping) is the driver's.
 * The HMAC key is REGISTRY_SIGNING_KEY, or one kept in the store (keys.signingKey(), created
 * once, create-only), so every instance over the store agrees on it.
 */
import { randomBytes } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { AlreadyExistsError, NotFoundError, PayloadTooLargeError, RegistryError } from '../errors';
import { keys } from '../keys';
import type {
  Body,
  ConditionalWrites,
  MultipartPart,
  ObjectInfo,
  ObjectStream,
  PutOptions,
  SignedUrls,
  SignOptions,
  Storage,
  StoredObject,
} from './port';
import { checkSigningKey, parseSigningKeyText, signStoreUrl, verifyStoreRequest } from './signing';

/** A store's writes of a streamed body whose length is known up front. */
export interface StreamingWrites {
  putStream(key: string, body: Readable, size: number, abortSignal: AbortSignal): Promise<{ etag: string }>;
  uploadPartStream(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    size: number,
    abortSignal: AbortSignal,
  ): Promise<{ etag: string }>;
}

/** The HMAC key of the registry's signed URLs, kept in the store: the first instance to write it wins. */
async function storeSigningKey(storage: Storage): Promise<Buffer> {
  const key = keys.signingKey();
  try {
    await storage.put(key, `${randomBytes(32).toString('hex')}\n`, { ifNoneMatch: '*', contentType: 'text/plain' });
  } catch (error) {
    if (!(error instanceof AlreadyExistsError)) throw error;
  }
  return parseSigningKeyText((await storage.get(key)).body.toString('utf8'), `the store (${key})`);
}

/**
 * The body as a stream of exactly `size` bytes: more is PayloadTooLargeError, fewer an error
 * at its end (the store call then fails instead of storing a short object).
 */
function exactly(body: Body, size: number): Readable {
  let seen = 0;
  const source = body instanceof Uint8Array ? Readable.from([body]) : Readable.from(body);
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > size) done(new PayloadTooLargeError(`The body is longer than its Content-Length (${size} bytes)`));
      else done(null, chunk);
    },
    flush(done) {
      done(seen === size ? null : new RegistryError('BadRequest', `The body ended after ${seen} of its ${size} bytes`));
    },
  });
  source.on('error', (error) => check.destroy(error));
  return source.pipe(check);
}

/**
 * Runs a store write of the body, checked to be exactly `size` bytes: a body that breaks (too
 * long, too short, its client gone) aborts the store call and fails with the body's error.
 */
async function relayBody(
  body: Body,
  size: number,
  write: (stream: Readable, abortSignal: AbortSignal) => Promise<{ etag: string }>,
): Promise<{ etag: string }> {
  const stream = exactly(body, size);
  const abort = new AbortController();
  const broken = new Promise<never>((_, reject) =>
    stream.once('error', (error) => {
      abort.abort(error);
      reject(error);
    }),
  );
  broken.catch(() => undefined);
  return Promise.race([write(stream, abort.signal), broken]);
}

function declared(size: number | undefined, limitBytes: number): number {
  if (size === undefined) throw new RegistryError('LengthRequired', 'Uploads through the registry must declare their Content-Length');
  if (size > limitBytes) throw new PayloadTooLargeError(`The body declares ${size} bytes; this server accepts at most ${limitBytes}`);
  return size;
}

export class UploadRelay implements Storage {
  readonly kind: string;
  readonly urls: SignedUrls;
  readonly conditionalWrites?: ConditionalWrites;
  private key?: Promise<Buffer>;

  constructor(
    private readonly driver: Storage,
    private readonly writes: StreamingWrites,
    private readonly options: { signingKey?: Buffer; now?: () => number } = {},
  ) {
    this.kind = driver.kind;
    // Writes go to the driver: the probe must switch the driver's own If-Match form.
    this.conditionalWrites = driver.conditionalWrites;
    this.urls = {
      servedBy: 'registry',
      endpoint: {
        verify: async (request) => verifyStoreRequest({ ...request, secret: await this.signingKey(), now: this.now() }),
        receivePut: async (key, body, limitBytes, size) => {
          const length = declared(size, limitBytes);
          const { etag } = await relayBody(body, length, (stream, signal) => this.writes.putStream(key, stream, length, signal));
          return { etag, size: length };
        },
        receivePart: async (key, uploadId, partNumber, body, limitBytes, size) => {
          const length = declared(size, limitBytes);
          const { etag } = await relayBody(body, length, (stream, signal) =>
            this.writes.uploadPartStream(key, uploadId, partNumber, stream, length, signal),
          );
          return { etag, size: length };
        },
      },
    };
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private signingKey(): Promise<Buffer> {
    const given = this.options.signingKey;
    this.key ??= (given ? Promise.resolve(checkSigningKey(given, 'the configuration')) : storeSigningKey(this.driver)).catch((error) => {
      this.key = undefined;
      throw error;
    });
    return this.key;
  }

  private async expiry(options: SignOptions): Promise<number> {
    if (!Number.isFinite(options.expiresIn) || options.expiresIn <= 0) throw new RangeError('expiresIn must be positive');
    return Math.floor(this.now() / 1000) + Math.ceil(options.expiresIn);
  }

  async signPut(key: string, options: SignOptions): Promise<string> {
    return signStoreUrl(options.origin, { method: 'PUT', key, expires: await this.expiry(options) }, await this.signingKey());
  }

  async signPart(key: string, uploadId: string, partNumber: number, options: SignOptions): Promise<string> {
    if (!uploadId) throw new NotFoundError(`upload ${uploadId}`);
    const params = { method: 'PUT' as const, key, expires: await this.expiry(options), uploadId, partNumber };
    return signStoreUrl(options.origin, params, await this.signingKey());
  }

  signGet(key: string, options: SignOptions): Promise<string> {
    return this.driver.signGet(key, options);
  }

  get(key: string): Promise<StoredObject> {
    return this.driver.get(key);
  }
  getIfChanged(key: string, etag: string | undefined): Promise<StoredObject | null> {
    return this.driver.getIfChanged(key, etag);
  }
  getStream(key: string, range?: { start: number; end?: number }): Promise<ObjectStream> {
    return this.driver.getStream(key, range);
  }
  head(key: string): Promise<ObjectInfo> {
    return this.driver.head(key);
  }
  put(key: string, body: Buffer | string, options?: PutOptions): Promise<{ etag: string }> {
    return this.driver.put(key, body, options);
  }
  list(prefix: string, options?: { startAfter?: string; limit?: number }): Promise<ObjectInfo[]> {
    return this.driver.list(prefix, options);
  }
  delete(key: string): Promise<void> {
    return this.driver.delete(key);
  }
  copy(source: string, target: string, options?: { ifSourceEtag?: string }): Promise<{ etag: string }> {
    return this.driver.copy(source, target, options);
  }
  createMultipart(key: string): Promise<string> {
    return this.driver.createMultipart(key);
  }
  listParts(key: string, uploadId: string): Promise<MultipartPart[]> {
    return this.driver.listParts(key, uploadId);
  }
  completeMultipart(key: string, uploadId: string, parts: MultipartPart[]): Promise<{ etag: string }> {
    return this.driver.completeMultipart(key, uploadId, parts);
  }
  abortMultipart(key: string, uploadId: string): Promise<void> {
    return this.driver.abortMultipart(key, uploadId);
  }
}
