/**
 * The storage port: the only way the registry touches bytes at rest.
 *
 * Two drivers implement it (filesystem, S3) and both pass one conformance suite
 * (test/storage/conformance.ts). Keys are opaque strings built by lib/keys.ts only;
 * drivers apply their own root (directory or bucket/prefix) underneath.
 *
 * Errors: drivers translate their native failures in one place into the classes
 * below; anything else is rethrown unchanged (and becomes a 500 without detail).
 */
import type { Readable } from 'node:stream';

/** S3's limit on multipart uploads, kept by every driver: part numbers are 1..MAX_PART_NUMBER. */
export const MAX_PART_NUMBER = 10_000;

export interface ObjectInfo {
  key: string;
  size: number;
  /** Opaque version token, as the store gives it, without quotes. Changes on every write. */
  etag: string;
}

export interface StoredObject extends ObjectInfo {
  body: Buffer;
}

/** For a ranged read, `size` counts the bytes of this answer and `range.total` the whole object. */
export interface ObjectStream extends ObjectInfo {
  stream: Readable;
  /** Present when a range was asked for and honoured. */
  range?: { start: number; end: number; total: number };
}

export interface PutOptions {
  /** Create-only: fail with AlreadyExistsError when the key exists. */
  ifNoneMatch?: '*';
  /** Compare-and-swap: fail with PreconditionFailedError unless the current etag is this one. */
  ifMatch?: string;
  contentType?: string;
  /** Stored as the object's Content-Encoding (S3 metadata: a GET answers it), e.g. `gzip` for a gzip rendering. */
  contentEncoding?: string;
}

export interface SignOptions {
  /** Seconds the URL stays valid. */
  expiresIn: number;
  /**
   * Base URL of the registry as the client sees it (scheme://host[:port][/prefix]). URLs served by
   * the registry itself (/_store: the filesystem driver, relayed uploads) are absolute under it;
   * without it they are references relative to the registry's base (`_store/...`), which the
   * client resolves against the base URL it used (upload targets). S3's presigned URLs ignore it.
   */
  origin?: string;
  /** For downloads: file name for Content-Disposition. */
  filename?: string;
  contentType?: string;
  /**
   * For downloads of an object put with this contentEncoding: the filesystem driver's URL
   * answers it (its objects keep no metadata); S3 answers the stored one.
   */
  contentEncoding?: string;
}

export interface MultipartPart {
  partNumber: number;
  etag: string;
  size: number;
}

/** A request body the registry receives on a signed /_store URL: bytes in memory or a stream. */
export type Body = Uint8Array | AsyncIterable<Uint8Array>;

/** What a signed /_store URL grants (lib/storage/signing.ts), as the endpoint checks it. */
export interface StoreRequestGrant extends StoreUrlFields {
  kind: 'put' | 'get' | 'part';
}

/** What a signed /_store URL names besides its method (lib/storage/signing.ts signs exactly these). */
export interface StoreUrlFields {
  key: string;
  /** Unix seconds; the URL is accepted up to the end of this second. */
  expires: number;
  uploadId?: string;
  partNumber?: number;
  /** GET only: file name for Content-Disposition. */
  filename?: string;
  /** GET only: Content-Type to answer with. */
  contentType?: string;
  /** GET only: Content-Encoding to answer with (the object's bytes are in it, e.g. gzip). */
  contentEncoding?: string;
}

/**
 * The registry's side of the signed URLs it hands out itself (route /_store): checks a
 * request's signature and receives the bytes of a signed PUT into the store. `size` is the
 * body's declared Content-Length when the transport knows it (a store that needs the length
 * up front, as S3 does for a streamed body, refuses a body without one).
 */
export interface StoreEndpoint {
  verify(request: { method: string; key: string; query: Record<string, string | undefined> }): Promise<StoreRequestGrant>;
  receivePut(key: string, body: Body, limitBytes: number, size?: number): Promise<{ etag: string; size: number }>;
  receivePart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Body,
    limitBytes: number,
    size?: number,
  ): Promise<{ etag: string; size: number }>;
}

/**
 * Who answers the signed URLs a storage hands out: the store itself (S3 presigned URLs,
 * the client talks to the store), or the registry's own /_store route through `endpoint`
 * (the filesystem driver; any store whose clients cannot reach it, REGISTRY_UPLOADS=proxy).
 * Handlers ask this instead of testing for a driver class.
 */
export type SignedUrls = { readonly servedBy: 'store' } | { readonly servedBy: 'registry'; readonly endpoint: StoreEndpoint };

/** How a store matches the etag of an If-Match: RGW the unquoted form, R2 the quoted one. */
export type EtagForm = 'unquoted' | 'quoted';

/**
 * The conditional writes of a store that accepts an If-Match etag in one form only, which the
 * capability probe (probe.ts) finds and sets here; every write of the driver then uses it. One
 * mutable object, shared by the driver and every layer over it (they hand over the driver's).
 */
export interface ConditionalWrites {
  etagForm: EtagForm;
}

export interface Storage {
  /** Short name for logs and health ("file", "s3"). */
  readonly kind: string;
  /** Who serves this storage's signed URLs; absent means the store itself. */
  readonly urls?: SignedUrls;
  /** The If-Match form the probe switches (S3-compatible stores); absent: the store has one form. */
  readonly conditionalWrites?: ConditionalWrites;
  /** Whole object in memory. NotFoundError when absent. Use only for small objects. */
  get(key: string): Promise<StoredObject>;
  /** Whole object, unless its etag equals `etag`: then null (no body transferred). */
  getIfChanged(key: string, etag: string | undefined): Promise<StoredObject | null>;
  /** Stream of the object (optionally a byte range, inclusive). NotFoundError when absent. */
  getStream(key: string, range?: { start: number; end?: number }): Promise<ObjectStream>;
  /** Size and etag. NotFoundError when absent. */
  head(key: string): Promise<ObjectInfo>;
  /** Write a small object. AlreadyExistsError (ifNoneMatch), PreconditionFailedError (ifMatch), ConflictError (retry). */
  put(key: string, body: Buffer | string, options?: PutOptions): Promise<{ etag: string }>;
  /** Keys under prefix, in ascending byte order, after startAfter, at most limit (default: all). */
  list(prefix: string, options?: { startAfter?: string; limit?: number }): Promise<ObjectInfo[]>;
  /** Remove a key; absent keys are not an error. */
  delete(key: string): Promise<void>;
  /**
   * Server-side copy. With ifSourceEtag, copies only if the source still has that etag
   * (PreconditionFailedError otherwise), so what was verified is what lands.
   */
  copy(source: string, target: string, options?: { ifSourceEtag?: string }): Promise<{ etag: string }>;
  /** A URL the client may PUT the whole object to until it expires. */
  signPut(key: string, options: SignOptions): Promise<string>;
  /** A URL the client may GET the object from until it expires. */
  signGet(key: string, options: SignOptions): Promise<string>;
  /** Start a multipart upload of key; returns its upload id. */
  createMultipart(key: string): Promise<string>;
  /** A URL the client may PUT one part to. Part numbers 1..MAX_PART_NUMBER. */
  signPart(key: string, uploadId: string, partNumber: number, options: SignOptions): Promise<string>;
  /** Parts received so far, ascending. NotFoundError when the upload is unknown. */
  listParts(key: string, uploadId: string): Promise<MultipartPart[]>;
  /** Assemble the parts into key. Unconditional (stores ignore conditions here). */
  completeMultipart(key: string, uploadId: string, parts: MultipartPart[]): Promise<{ etag: string }>;
  /** Drop an unfinished multipart upload; unknown ids are not an error. */
  abortMultipart(key: string, uploadId: string): Promise<void>;
}
