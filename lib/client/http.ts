/**
 * The registry's HTTP API as seen by the CLI: JSON requests with the bearer token, Cosmos-shaped
 * errors {type, message, data} turned into RegistryApiError (the one place they are translated),
 * and transient failures (network, 5xx, 429) retried with backoff.
 */
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { EnvHttpProxyAgent, request, type Dispatcher } from 'undici';
import { DEFAULT_RETRY, TransientHttpError, parseRetryAfter, withRetry, type RetryPolicy } from '../net/retry';

export interface ClientOptions {
  /** Base URL of the registry, e.g. http://127.0.0.1:3000 (a path prefix such as /dev is kept). */
  url: string;
  token?: string;
  /**
   * How the token is sent: `Bearer <t>` (standalone, the default) or `token=<t>` (a DC/OS login,
   * as DC/OS CLI plugins send it through Admin Router).
   */
  authScheme?: 'Bearer' | 'token';
  /** Send the token on every call, reads included (Admin Router gates every /service/<name>/ request). */
  alwaysAuth?: boolean;
  /** What to tell a user who has no token (default: give --token or DCOS_REGISTRY_TOKEN). */
  missingTokenHint?: string;
  dispatcher?: Dispatcher;
  retry?: Partial<RetryPolicy>;
}

/** The Authorization header value for opts' token and scheme. */
export function authorizationHeader(opts: Pick<ClientOptions, 'token' | 'authScheme'>): string | undefined {
  if (!opts.token) return undefined;
  return opts.authScheme === 'token' ? `token=${opts.token}` : `Bearer ${opts.token}`;
}

/** Headers (flat array or object form) with an Authorization header added unless one is there. */
function withAuthorization(headers: Dispatcher.DispatchOptions['headers'], value: string): Dispatcher.DispatchOptions['headers'] {
  if (Array.isArray(headers)) {
    const has = headers.some((h, i) => i % 2 === 0 && String(h).toLowerCase() === 'authorization');
    return has ? headers : [...headers, 'authorization', value];
  }
  const entries: Array<[string, unknown]> =
    headers == null ? [] : Symbol.iterator in headers ? [...(headers as Iterable<[string, unknown]>)] : Object.entries(headers);
  if (entries.some(([k]) => k.toLowerCase() === 'authorization')) return headers;
  return Object.fromEntries([...entries, ['authorization', value]]) as Record<string, string>;
}

export interface ConnectionSettings {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
  /** PEM file of CA certificates trusted in addition to Node's bundled roots. */
  caFile?: string;
  /** Skip TLS certificate verification (DCOS_TLS_INSECURE=1: the cluster's `core.ssl_verify` is false). */
  insecure?: boolean;
}

/**
 * The dispatcher for every request the client sends: proxies from the settings (never from
 * process.env), extra CA certificates or no verification at all, and, when `auth` is given, the
 * Authorization header added to requests under `auth.base` that carry none (the signed upload
 * targets served by the registry itself: through Admin Router they need the DC/OS login too).
 * Requests anywhere else (an S3 endpoint's presigned URLs) never get the token.
 */
export function clientDispatcher(settings: ConnectionSettings = {}, auth?: { base: string; header: string }): Dispatcher {
  let ca: string[] | undefined;
  if (settings.caFile) {
    try {
      ca = [...rootCertificates, readFileSync(settings.caFile, 'utf8')];
    } catch (err) {
      throw new ClientConfigError(`cannot read the CA certificate file ${settings.caFile}: ${(err as Error).message}`);
    }
  }
  const tls = { ...(ca ? { ca } : {}), ...(settings.insecure ? { rejectUnauthorized: false } : {}) };
  const agent = new EnvHttpProxyAgent({
    httpProxy: settings.httpProxy ?? '',
    httpsProxy: settings.httpsProxy ?? '',
    noProxy: settings.noProxy ?? '',
    ...(Object.keys(tls).length ? { connect: tls, requestTls: tls, proxyTls: tls } : {}),
  });
  if (!auth) return agent;
  const base = new URL(endpoint(auth.base, '/'));
  const under = (origin: string, path: string) => origin === base.origin && path.startsWith(base.pathname);
  return agent.compose((dispatch) => (opts, handler) => {
    const origin = typeof opts.origin === 'string' ? new URL(opts.origin).origin : opts.origin?.origin;
    if (!origin || !under(origin, opts.path)) return dispatch(opts, handler);
    return dispatch({ ...opts, headers: withAuthorization(opts.headers, auth.header) }, handler);
  });
}

export class RegistryApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'RegistryApiError';
  }
}

export class ClientConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClientConfigError';
  }
}

export function endpoint(base: string, path: string): string {
  let u: URL;
  try {
    u = new URL(base);
  } catch {
    throw new ClientConfigError(
      `invalid registry URL ${JSON.stringify(base)}: give --url or DCOS_REGISTRY_URL, e.g. http://127.0.0.1:3000`,
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ClientConfigError(`registry URL must be http or https: ${base}`);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}${path}`;
}

export interface JsonResponse<T> {
  status: number;
  body: T;
}

/** One answer of sendJson: the status, the body as text and parsed (undefined when empty or not JSON). */
interface JsonAnswer {
  status: number;
  parsed: unknown;
  text: string;
}

/**
 * One JSON request and its retries, the loop under every JSON call the CLI makes (the registry's
 * API here, the DC/OS IAM in lib/dcos/iam.ts): the body sent as JSON, the answer read and parsed.
 * Network failures are retried with backoff, and so is every answer `failure` calls a server failure
 * (by returning the status and message to report; Retry-After is honoured); every other answer is
 * returned. When the retries run out, the last TransientHttpError is thrown.
 */
export async function sendJson(
  conn: Pick<ClientOptions, 'dispatcher' | 'retry'>,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  body: unknown,
  /** Added to (or replacing) accept, user-agent and, with a body, content-type. */
  headers: Record<string, string>,
  failure: (answer: JsonAnswer) => { status: number; message: string } | undefined,
): Promise<JsonAnswer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const sent: Record<string, string> = {
    accept: 'application/json',
    'user-agent': 'dcos-registry-cli',
    ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
    ...headers,
  };
  return withRetry({ ...DEFAULT_RETRY, ...conn.retry }, async () => {
    const res = await request(url, { method, headers: sent, body: payload, dispatcher: conn.dispatcher });
    const text = await res.body.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const answer = { status: res.statusCode, parsed, text };
    const failed = failure(answer);
    if (failed) throw new TransientHttpError(failed.status, failed.message, parseRetryAfter(res.headers['retry-after']));
    return answer;
  });
}

/** 5xx and 429: the answers worth retrying. */
export const isServerFailure = (status: number): boolean => status >= 500 || status === 429;

/** One JSON call. Resolves for 2xx; throws RegistryApiError for other answers. */
export async function callJson<T>(
  opts: ClientOptions,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
  auth = false,
  /** Extra or replaced headers (Cosmos's versioned media types in Accept and Content-Type). */
  extraHeaders: Record<string, string> = {},
): Promise<JsonResponse<T>> {
  const url = endpoint(opts.url, path);
  if (auth && !opts.token)
    throw new ClientConfigError(opts.missingTokenHint ?? 'a write token is required: give --token or DCOS_REGISTRY_TOKEN');
  const authorization = authorizationHeader(opts);
  const headers = { ...((auth || opts.alwaysAuth) && authorization ? { authorization } : {}), ...extraHeaders };
  try {
    const { status, parsed, text } = await sendJson(opts, method, url, body, headers, ({ status, parsed, text }) => {
      const lambdaError = lambdaErrorMessage(parsed);
      // A function that crashed or timed out, passed through as 200 by serverless-offline (HTTP API
      // payload 2.0 answers 200 to any result without a statusCode): a server failure, retried.
      if (lambdaError !== undefined) return { status: 502, message: `${method} ${path}: the registry function failed: ${lambdaError}` };
      return isServerFailure(status) ? { status, message: errorMessage(method, path, status, parsed, text) } : undefined;
    });
    if (status >= 200 && status < 300) return { status, body: parsed as T };
    throw toApiError(method, path, status, parsed, text);
  } catch (err) {
    if (err instanceof TransientHttpError) throw new RegistryApiError(err.status, 'ServerError', err.message);
    throw err;
  }
}

/** The message of Lambda's own error shape {errorType, errorMessage}, which no registry answer has. */
function lambdaErrorMessage(parsed: unknown): string | undefined {
  const p = parsed as { errorType?: unknown; errorMessage?: unknown } | undefined;
  return p && typeof p === 'object' && typeof p.errorType === 'string' && typeof p.errorMessage === 'string' ? p.errorMessage : undefined;
}

function errorMessage(method: string, path: string, status: number, parsed: unknown, text: string): string {
  const m = (parsed as { message?: unknown } | undefined)?.message;
  if (typeof m === 'string' && m) return m;
  return `${method} ${path} answered ${status}${text ? `: ${text.slice(0, 200).replace(/\s+/g, ' ')}` : ''}`;
}

function toApiError(method: string, path: string, status: number, parsed: unknown, text: string): RegistryApiError {
  const p = parsed as { type?: unknown; data?: unknown } | undefined;
  return new RegistryApiError(
    status,
    typeof p?.type === 'string' ? p.type : `Http${status}`,
    errorMessage(method, path, status, parsed, text),
    p?.data,
  );
}

/**
 * PUTs raw bytes to a signed URL. Content-Length is always sent (S3 refuses chunked uploads to
 * presigned URLs) and no Authorization header (the URL carries the signature).
 */
export async function putBytes(
  url: string,
  headers: Record<string, string>,
  length: number,
  body: () => Readable,
  dispatcher?: Dispatcher,
): Promise<void> {
  const stream = body();
  const res = await request(url, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', ...headers, 'content-length': String(length) },
    body: stream,
    dispatcher,
  });
  const text = await res.body.text();
  if (res.statusCode >= 200 && res.statusCode < 300) return;
  stream.destroy();
  const message = `upload PUT answered ${res.statusCode}${text ? `: ${text.slice(0, 200).replace(/\s+/g, ' ')}` : ''}`;
  if (res.statusCode >= 500 || res.statusCode === 429)
    throw new TransientHttpError(res.statusCode, message, parseRetryAfter(res.headers['retry-after']));
  throw new RegistryApiError(res.statusCode, 'UploadRejected', message);
}
