/**
 * Errors of the Docker Registry HTTP API v2 (/v2/...). Docker clients read these, not Cosmos's
 * {type, message, data}: the body is {"errors":[{"code","message","detail"}]}. This table is the
 * one place that decides their statuses (as distribution's errcode/register.go does).
 */
import { RegistryError } from '../errors';
import type { Response } from '../http/handler';
import { describeError, log } from '../log';

export const V2_HEADERS = { 'docker-distribution-api-version': 'registry/2.0' } as const;

const CODES = {
  BLOB_UNKNOWN: [404, 'blob unknown to registry'],
  DIGEST_INVALID: [400, 'provided digest did not match uploaded content'],
  MANIFEST_UNKNOWN: [404, 'manifest unknown'],
  NAME_INVALID: [400, 'invalid repository name'],
  NAME_UNKNOWN: [404, 'repository name not known to registry'],
  UNSUPPORTED: [405, 'The operation is unsupported.'],
  PAGINATION_NUMBER_INVALID: [400, 'invalid number of results requested'],
  NOT_FOUND: [404, 'no such route'],
  UNAVAILABLE: [503, 'service unavailable'],
  UNKNOWN: [500, 'unknown error'],
} as const satisfies Record<string, readonly [number, string]>;

export type V2Code = keyof typeof CODES;

export class V2Error extends Error {
  constructor(
    readonly code: V2Code,
    message?: string,
    readonly detail?: unknown,
  ) {
    super(message ?? CODES[code][1]);
    this.name = 'V2Error';
  }
}

function v2Error(code: V2Code, message?: string, detail?: unknown, headers: Record<string, string> = {}): Response {
  const body = { errors: [{ code, message: message ?? CODES[code][1], ...(detail !== undefined ? { detail } : {}) }] };
  return {
    statusCode: CODES[code][0],
    headers: { ...V2_HEADERS, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/** Any error thrown while answering /v2 → a spec error answer; internals stay in the log. */
export function v2ErrorAnswer(error: unknown, context: Record<string, unknown>): Response {
  if (error instanceof V2Error) return v2Error(error.code, error.message, error.detail);
  if (error instanceof RegistryError && error.type === 'StoreUnavailable') return v2Error('UNAVAILABLE', error.message);
  log.error('v2 request failed', { ...context, ...describeError(error) });
  return v2Error('UNKNOWN');
}
