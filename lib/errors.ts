/**
 * Domain errors. One map (lib/http/errors.ts) turns them into HTTP statuses and
 * Cosmos-shaped bodies {type, message, data}; handlers never pick a status themselves.
 */
export class RegistryError extends Error {
  /** Cosmos-style error type, e.g. "VersionNotFound". */
  readonly type: string;
  readonly data?: Record<string, unknown>;
  constructor(type: string, message: string, data?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.type = type;
    this.data = data;
  }
}

/* ---- storage-level (drivers throw these; the domain catches them) ---- */
export class NotFoundError extends RegistryError {
  constructor(key: string, options?: { cause?: unknown }) {
    super('NotFound', `Not found: ${key}`, undefined, options);
  }
}
/** Create-only write lost: the key exists. */
export class AlreadyExistsError extends RegistryError {
  constructor(key: string, options?: { cause?: unknown }) {
    super('AlreadyExists', `Already exists: ${key}`, undefined, options);
  }
}
/** Compare-and-swap lost: the object changed. */
export class PreconditionFailedError extends RegistryError {
  constructor(key: string, options?: { cause?: unknown }) {
    super('PreconditionFailed', `Precondition failed: ${key}`, undefined, options);
  }
}
/** A concurrent request on the same key (S3 409 ConditionalRequestConflict): retry. */
export class ConflictError extends RegistryError {
  constructor(key: string, options?: { cause?: unknown }) {
    super('Conflict', `Concurrent update: ${key}`, undefined, options);
  }
}

/* ---- domain / request errors ---- */
export class BadRequestError extends RegistryError {
  constructor(message: string, data?: Record<string, unknown>, type = 'BadRequest') {
    super(type, message, data);
  }
}
export class UnauthorizedError extends RegistryError {
  constructor(message = 'A valid bearer token is required for this operation') {
    super('Unauthorized', message);
  }
}
export class VersionNotFoundError extends RegistryError {
  constructor(name: string, version: string) {
    super('VersionNotFound', `Version [${version}] of package [${name}] not found`, { packageName: name, packageVersion: version });
  }
}
export class PackageNotFoundError extends RegistryError {
  constructor(name: string) {
    super('PackageNotFound', `Package [${name}] not found`, { packageName: name });
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
