/**
 * The one map from errors to HTTP answers: the status of each domain error's `type` is in
 * the registry of lib/errors.ts. Anything else, and any 5xx not marked safe to show, is a
 * 500 whose body says nothing about internals (the log has the detail).
 */
import { ERRORS, type ErrorType, INTERNAL_ERROR, isErrorType, RegistryError } from '../errors';

export interface ErrorAnswer {
  status: number;
  body: { type: ErrorType | typeof INTERNAL_ERROR.type; message: string; data?: Record<string, unknown> };
}

export function errorAnswer(error: unknown): ErrorAnswer {
  // isErrorType also guards types read back from the store (an upload's stored error).
  if (error instanceof RegistryError && isErrorType(error.type)) {
    const spec: { status: number; expose?: boolean } = ERRORS[error.type];
    if (spec.status < 500 || spec.expose) {
      return { status: spec.status, body: { type: error.type, message: error.message, ...(error.data ? { data: error.data } : {}) } };
    }
  }
  return { status: 500, body: { ...INTERNAL_ERROR } };
}

export function statusOf(type: string): number | undefined {
  return isErrorType(type) ? ERRORS[type].status : undefined;
}
