/**
 * The one map from errors to HTTP answers: the status of each domain error's `type` is in
 * the registry of lib/errors.ts. Anything else, and any 5xx not marked safe to show, is a
 * 500 whose body says nothing about internals (the log has the detail).
 */
import { ERRORS, type ErrorType, INTERNAL_ERROR, isErrorType, RegistryError, StorageKeyError, type StorageKeyErrorType } from '../errors';
import { describeKey } from '../keys';

const STORAGE_MESSAGES: Record<StorageKeyErrorType, string> = {
  NotFound: 'was not found',
  AlreadyExists: 'already exists',
  PreconditionFailed: 'changed meanwhile; retry',
  Conflict: 'is being changed by another request; retry',
};

/** The message a client gets: never a storage key (issue 10 item 8), the thing the key holds instead. */
function clientMessage(error: RegistryError): string {
  if (!(error instanceof StorageKeyError)) return error.message;
  return `${describeKey(error.key)} ${STORAGE_MESSAGES[error.type]}`;
}

export interface ErrorAnswer {
  status: number;
  body: { type: ErrorType | typeof INTERNAL_ERROR.type; message: string; data?: Record<string, unknown> };
}

export function errorAnswer(error: unknown): ErrorAnswer {
  // isErrorType also guards types read back from the store (an upload's stored error).
  if (error instanceof RegistryError && isErrorType(error.type)) {
    const spec: { status: number; expose?: boolean } = ERRORS[error.type];
    if (spec.status < 500 || spec.expose) {
      return {
        status: spec.status,
        body: { type: error.type, message: clientMessage(error), ...(error.data ? { data: error.data } : {}) },
      };
    }
  }
  return { status: 500, body: { ...INTERNAL_ERROR } };
}

export function statusOf(type: string): number | undefined {
  return isErrorType(type) ? ERRORS[type].status : undefined;
}
