/**
 * The one map from errors to HTTP answers. Domain errors carry a Cosmos-style `type`;
 * this table decides the status. Anything unknown is a 500 whose body says nothing
 * about internals (the log has the detail).
 */
import { RegistryError } from '../errors';

const STATUS: Record<string, number> = {
  BadRequest: 400,
  InvalidJson: 400,
  InvalidManifest: 400,
  InvalidPackageName: 400,
  InvalidPackageVersion: 400,
  InvalidDigest: 400,
  InvalidUploadId: 400,
  InvalidPackage: 422,
  UnsupportedPackagingVersion: 422,
  UnsupportedMediaType: 415,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  VersionNotFound: 404,
  PackageNotFound: 404,
  UploadNotFound: 404,
  ResourceNotFound: 404,
  RouteNotFound: 404,
  NotAcceptable: 406,
  VersionAlreadyExists: 409,
  UploadStateConflict: 409,
  UploadAborted: 409,
  UploadExpired: 409,
  UploadFailed: 409,
  Conflict: 409,
  PreconditionFailed: 412,
  AlreadyExists: 409,
  PayloadTooLarge: 413,
  BlobDigestMismatch: 422,
  BlobSizeMismatch: 422,
  BlobMissing: 422,
  StoreUnavailable: 503,
};

export interface ErrorAnswer {
  status: number;
  body: { type: string; message: string; data?: Record<string, unknown> };
}

export function errorAnswer(error: unknown): ErrorAnswer {
  if (error instanceof RegistryError) {
    const status = STATUS[error.type] ?? 500;
    if (status < 500 || error.type === 'StoreUnavailable') {
      return { status, body: { type: error.type, message: error.message, ...(error.data ? { data: error.data } : {}) } };
    }
  }
  return { status: 500, body: { type: 'InternalError', message: 'Internal error; see the registry log' } };
}

export function statusOf(type: string): number | undefined {
  return STATUS[type];
}
