/**
 * Domain errors and the one registry of their types. Every `type` a RegistryError can carry
 * is a key of ERRORS, which decides its HTTP status (lib/http/errors.ts turns errors into
 * Cosmos-shaped bodies {type, message, data} with it), so a misspelt type is a compile error,
 * not a 500. Handlers never pick a status themselves.
 */

interface ErrorSpec {
  readonly status: number;
  /** Used when a throw site gives no message. */
  readonly message?: string;
  /** A 5xx whose message is safe to show (it names no internals); other 5xx answer InternalError. */
  readonly expose?: boolean;
}

export const ERRORS = {
  // 400: the request itself is wrong.
  BadRequest: { status: 400 },
  InvalidJson: { status: 400 },
  InvalidManifest: { status: 400 },
  InvalidPackageName: { status: 400 },
  InvalidPackageVersion: { status: 400 },
  InvalidDigest: { status: 400 },
  InvalidUploadId: { status: 400 },
  /** Multipart completion (S3's codes): a listed part is missing, out of order, or too small. */
  InvalidPart: { status: 400 },
  InvalidPartOrder: { status: 400 },
  EntityTooSmall: { status: 400 },
  /** A package directory the CLI reads (migrate, build). */
  InvalidPackageDirectory: { status: 400 },
  InvalidImageReference: { status: 400 },
  Unauthorized: { status: 401, message: 'A valid bearer token is required for this operation' },
  Forbidden: { status: 403 },
  NotFound: { status: 404, message: 'Not found' },
  VersionNotFound: { status: 404 },
  PackageNotFound: { status: 404 },
  UploadNotFound: { status: 404 },
  ResourceNotFound: { status: 404 },
  RouteNotFound: { status: 404 },
  NotAcceptable: { status: 406 },
  RequestTimeout: { status: 408, message: 'The request body did not arrive in time' },
  VersionAlreadyExists: { status: 409 },
  UploadStateConflict: { status: 409 },
  // A Failed upload repeats its stored error on every later complete: these stay 4xx.
  UploadAborted: { status: 409, message: 'The upload was aborted' },
  UploadExpired: { status: 409, message: 'Nobody completed the upload before it expired' },
  UploadFailed: { status: 409, message: 'Upload failed' },
  Conflict: { status: 409, message: 'Concurrent update' },
  AlreadyExists: { status: 409, message: 'Already exists' },
  PreconditionFailed: { status: 412, message: 'Precondition failed' },
  PayloadTooLarge: { status: 413 },
  UnsupportedMediaType: { status: 415 },
  InvalidRange: { status: 416, message: 'Range not satisfiable' },
  InvalidPackage: { status: 422 },
  UnsupportedPackagingVersion: { status: 422 },
  BlobDigestMismatch: { status: 422 },
  BlobSizeMismatch: { status: 422 },
  BlobMissing: { status: 422 },
  /** The CLI's image pull: the source registry failed (never an answer of this registry). */
  /** A body streamed to the store (REGISTRY_UPLOADS=proxy) must declare its Content-Length. */
  LengthRequired: { status: 411, message: 'The body must declare its Content-Length' },
  /** What this runtime cannot do (Lambda cannot stream upload bodies to a store through itself). */
  NotImplemented: { status: 501, expose: true },
  ImagePullFailed: { status: 502 },
  StoreUnavailable: { status: 503, expose: true },
  /** The production server's buffered-body budget is spent: retry shortly. */
  ServerBusy: { status: 503, message: 'Too many request bodies in flight; retry shortly', expose: true },
  GatewayTimeout: { status: 504, message: 'The registry did not answer in time; retry', expose: true },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorType = keyof typeof ERRORS;

/** The body type of every 5xx that is not exposed: internals stay in the log. */
export const INTERNAL_ERROR = { type: 'InternalError', message: 'Internal error; see the registry log' } as const;

export function isErrorType(type: unknown): type is ErrorType {
  return typeof type === 'string' && Object.hasOwn(ERRORS, type);
}

export class RegistryError extends Error {
  /** Cosmos-style error type, e.g. "VersionNotFound". */
  readonly type: ErrorType;
  readonly data?: Record<string, unknown>;
  constructor(type: ErrorType, message?: string, data?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message ?? (ERRORS[type] as ErrorSpec).message ?? type, options);
    this.name = new.target.name;
    this.type = type;
    this.data = data;
  }
}

/* ---- storage-level (drivers throw these; the domain catches them) ---- */
/**
 * An error about one storage key. Its message names the key, for the log; clients are told
 * what the key holds instead (lib/http/errors.ts, with describeKey of lib/keys.ts).
 */
export type StorageKeyErrorType = 'NotFound' | 'AlreadyExists' | 'PreconditionFailed' | 'Conflict';
export abstract class StorageKeyError extends RegistryError {
  declare readonly type: StorageKeyErrorType;
  constructor(
    type: StorageKeyErrorType,
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(type, `${ERRORS[type].message}: ${key}`, undefined, options);
  }
}
export class NotFoundError extends StorageKeyError {
  constructor(key: string, options?: { cause?: unknown }) {
    super('NotFound', key, options);
  }
}
/** Create-only write lost: the key exists. */
export class AlreadyExistsError extends StorageKeyError {
  constructor(key: string, options?: { cause?: unknown }) {
    super('AlreadyExists', key, options);
  }
}
/** Compare-and-swap lost: the object changed. */
export class PreconditionFailedError extends StorageKeyError {
  constructor(key: string, options?: { cause?: unknown }) {
    super('PreconditionFailed', key, options);
  }
}
/** A concurrent request on the same key (S3 409 ConditionalRequestConflict): retry. */
export class ConflictError extends StorageKeyError {
  constructor(key: string, options?: { cause?: unknown }) {
    super('Conflict', key, options);
  }
}

/* ---- domain / request errors ---- */
export class BadRequestError extends RegistryError {
  constructor(message: string, data?: Record<string, unknown>, type: ErrorType = 'BadRequest') {
    super(type, message, data);
  }
}
export class UnauthorizedError extends RegistryError {
  constructor(message?: string) {
    super('Unauthorized', message);
  }
}
export class VersionNotFoundError extends RegistryError {
  constructor(name: string, version: string) {
    super('VersionNotFound', `Version [${version}] of package [${name}] not found`, { packageName: name, packageVersion: version });
  }
}
export class UploadNotFoundError extends RegistryError {
  constructor(id: string) {
    super('UploadNotFound', `Upload [${id}] not found`, { uploadId: id });
  }
}
/** A different package is already committed under this name and version. */
export class VersionExistsError extends RegistryError {
  constructor(name: string, version: string) {
    super('VersionAlreadyExists', `Version [${version}] of package [${name}] already exists with different content`, {
      packageName: name,
      packageVersion: version,
    });
  }
}
export class UploadStateError extends RegistryError {
  constructor(message: string, data?: Record<string, unknown>) {
    super('UploadStateConflict', message, data);
  }
}
export class NotAcceptableError extends RegistryError {
  constructor(message: string, data?: Record<string, unknown>) {
    super('NotAcceptable', message, data);
  }
}
export class PayloadTooLargeError extends RegistryError {
  constructor(message: string) {
    super('PayloadTooLarge', message);
  }
}
/** The store cannot be trusted with writes (probe failed) or cannot be reached. */
export class StoreUnavailableError extends RegistryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('StoreUnavailable', message, undefined, options);
  }
}
/**
 * A commit whose entry may sit in a truncated stretch of the log (its writer stalled for
 * longer than the log's grace period): it may or may not be in the catalog. Retry.
 */
export class CommitUncertainError extends StoreUnavailableError {
  constructor(seq: number) {
    super(`The outcome of commit ${seq} is unknown (the writer stalled past the log's truncation grace period); retry the request`);
  }
}
export class ResourceNotFoundError extends RegistryError {
  constructor(path: string) {
    super('ResourceNotFound', `Resource [${path}] not found`);
  }
}
