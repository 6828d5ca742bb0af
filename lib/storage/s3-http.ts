/**
 * The SDK-free read path of the S3 driver: GET and HEAD of one object (conditional and ranged),
 * signed with SigV4 (aws4, 9 KB bundled) and sent over node:http(s), and presigned GET URLs.
 * The read functions (health, repo, describe, resource, v2) answer through it without
 * evaluating the AWS SDK at cold start (issue 14); s3-lazy.ts loads the SDK for everything else.
 *
 * It behaves as the SDK client does for these calls:
 * - errors have the SDK's shape (name/Code from the XML error body, or from the status for HEAD,
 *   `$metadata.httpStatusCode`; socket errors keep Node's `code`; timeouts are `TimeoutError`),
 *   so s3-common.ts's translateError maps them the same way;
 * - retries as the SDK's standard mode: 3 attempts, full-jitter exponential backoff from 100 ms
 *   (lib/retry.ts), on 5xx, 429 and throttling codes, timeouts and the socket errors the SDK retries;
 * - connect bound (REGISTRY_S3_CONNECT_TIMEOUT_MS) and silence bound (REGISTRY_S3_IDLE_TIMEOUT_MS)
 *   per request, as the SDK's NodeHttpHandler options; the call deadline is the caller's abort signal;
 * - addressing: path style (forcePathStyle) or virtual-hosted style, default endpoint
 *   https://s3.<region>.amazonaws.com.
 * node:https (and node:tls under it) is loaded on the first request to an https endpoint only: a
 * store reached over plain http (an on-site Ceph or MinIO) never pays for it at cold start.
 */
import http from 'node:http';
import aws4 from 'aws4';
import { retry } from '../retry';
import type { CredentialSource } from './s3-credentials';

export interface S3HttpOptions {
  /** scheme://host[:port] of the store; default: AWS in `region`. */
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  bucket: string;
  credentials: CredentialSource;
  /** TCP connect bound (default 2000 ms). */
  connectTimeoutMs?: number;
  /** Longest silence on the connection (default 30000 ms). */
  idleTimeoutMs?: number;
}

/** An S3 error answer, in the shape of the SDK's service exceptions. */
export class S3ResponseError extends Error {
  readonly Code: string;
  readonly $metadata: { httpStatusCode: number; requestId?: string };
  constructor(status: number, code: string, message: string, requestId?: string) {
    super(message || code);
    this.name = code;
    this.Code = code;
    this.$metadata = { httpStatusCode: status, ...(requestId ? { requestId } : {}) };
  }
}

/** What the SDK names an error answer without a body (HEAD, 304). */
const CODE_OF_STATUS: Record<number, string> = {
  304: 'NotModified',
  400: 'BadRequest',
  403: 'Forbidden',
  404: 'NotFound',
  412: 'PreconditionFailed',
};

const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);
const TRANSIENT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** The SDK standard mode's retry decision (@smithy/core retry: transient, throttling, server errors). */
function retryableS3(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  if (e.name === 'AbortError') return false;
  const status = e.$metadata?.httpStatusCode ?? 0;
  return (
    status === 429 ||
    (status >= 500 && status <= 599) ||
    THROTTLING.has(e.name ?? '') ||
    TRANSIENT_NAMES.has(e.name ?? '') ||
    TRANSIENT_CODES.has(e.code ?? '')
  );
}

/** The SDK's DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_DELAY_BASE and MAXIMUM_RETRY_DELAY. */
const SDK_RETRY = { attempts: 3, backoff: { baseMs: 100, maxMs: 20_000, growth: 'exponential', jitter: 'full' } } as const;

/** S3's key encoding in paths: every byte but unreserved ones and '/' percent-encoded (the SDK's extendedEncodeURIComponent). */
const encodeKey = (key: string): string =>
  key
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');

/** A bucket name usable as a DNS label (the SDK's isDnsCompatibleBucketName; dots break TLS names). */
const dnsBucket = (bucket: string, tls: boolean): boolean =>
  /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) && !/\.\.|\.-|-\.|^\d+\.\d+\.\d+\.\d+$/.test(bucket) && !(tls && bucket.includes('.'));

function timeoutError(message: string): Error {
  const err = new Error(message);
  err.name = 'TimeoutError';
  return err;
}

export interface S3Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body, unread (empty for HEAD and 304). */
  body: http.IncomingMessage;
}

export class S3Http {
  private readonly base: URL;
  private readonly pathStyle: boolean;
  private transport: { request: typeof http.request; agent: http.Agent } | undefined;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;

  constructor(private readonly options: S3HttpOptions) {
    this.base = new URL(options.endpoint || `https://s3.${options.region}.amazonaws.com`);
    this.pathStyle = options.forcePathStyle || !dnsBucket(options.bucket, this.base.protocol === 'https:');
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  }

  /** node:http or node:https, with one keep-alive agent, as the SDK's handler: the next call of a warm instance reuses the connection. */
  private async connection(): Promise<{ request: typeof http.request; agent: http.Agent }> {
    if (!this.transport) {
      const m = this.base.protocol === 'https:' ? await import('node:https') : http;
      this.transport ??= { request: m.request, agent: new m.Agent({ keepAlive: true }) };
    }
    return this.transport;
  }

  /** Host and path of an object, and the query string if any. */
  private target(fullKey: string, query = ''): { host: string; path: string } {
    const host = this.pathStyle ? this.base.host : `${this.options.bucket}.${this.base.host}`;
    const basePath = this.base.pathname.replace(/\/+$/, '');
    const objectPath = this.pathStyle ? `${basePath}/${this.options.bucket}/${encodeKey(fullKey)}` : `${basePath}/${encodeKey(fullKey)}`;
    return { host, path: query ? `${objectPath}?${query}` : objectPath };
  }

  /**
   * GET or HEAD of `fullKey` with the given request headers (Range, If-None-Match): the 2xx answer
   * with its body unread, after the SDK's retries. Other answers and failures throw (S3ResponseError,
   * socket errors, TimeoutError, AbortError).
   */
  async send(method: 'GET' | 'HEAD', fullKey: string, headers: Record<string, string>, signal: AbortSignal): Promise<S3Answer> {
    return retry(() => this.once(method, fullKey, headers, signal), { ...SDK_RETRY, retryable: retryableS3 });
  }

  private async once(method: 'GET' | 'HEAD', fullKey: string, headers: Record<string, string>, signal: AbortSignal): Promise<S3Answer> {
    signal.throwIfAborted();
    const credentials = await this.options.credentials();
    const { host, path } = this.target(fullKey);
    const signed = aws4.sign(
      { method, host, path, service: 's3', region: this.options.region, headers: { ...headers, Host: host } },
      credentials,
    );
    const { request: send, agent } = await this.connection();
    const answer = await new Promise<S3Answer>((resolve, reject) => {
      const request = send({
        protocol: this.base.protocol,
        hostname: host.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''),
        port: this.base.port || undefined,
        method,
        path: signed.path,
        headers: signed.headers,
        agent,
        signal,
      });
      request.setTimeout(this.idleTimeoutMs, () => request.destroy(timeoutError(`no data from the store for ${this.idleTimeoutMs} ms`)));
      request.on('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(
          () => request.destroy(timeoutError(`no connection to the store in ${this.connectTimeoutMs} ms`)),
          this.connectTimeoutMs,
        );
        socket.once('connect', () => clearTimeout(timer));
        socket.once('close', () => clearTimeout(timer));
      });
      request.on('response', (body) => resolve({ status: body.statusCode ?? 0, headers: body.headers, body }));
      request.on('error', reject);
      request.end();
    });
    if (answer.status >= 200 && answer.status < 300) return answer;
    throw await this.errorOf(method, answer);
  }

  /** The SDK's error for a non-2xx answer: Code and Message from the XML body, else from the status. */
  private async errorOf(method: string, answer: S3Answer): Promise<S3ResponseError> {
    const requestId = [answer.headers['x-amz-request-id']].flat()[0];
    let text = '';
    if (method !== 'HEAD') {
      for await (const chunk of answer.body) {
        if (text.length < 65_536) text += chunk;
      }
    } else {
      answer.body.resume();
    }
    const tag = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(text)?.[1];
    const code = tag('Code') ?? CODE_OF_STATUS[answer.status] ?? (answer.status >= 500 ? 'InternalError' : `Http${answer.status}`);
    return new S3ResponseError(answer.status, code, tag('Message') ?? '', requestId);
  }

  /** A presigned GET URL of `fullKey` (query parameters such as response-content-disposition are signed too). */
  async presignGet(fullKey: string, expiresIn: number, query: Record<string, string>): Promise<string> {
    const credentials = await this.options.credentials();
    const { host, path } = this.target(fullKey);
    const params = new URLSearchParams({ ...query, 'X-Amz-Expires': String(expiresIn) });
    const signed = aws4.sign(
      { method: 'GET', host, path: `${path}?${params.toString()}`, service: 's3', region: this.options.region, signQuery: true },
      credentials,
    );
    return `${this.base.protocol}//${host}${signed.path}`;
  }

  /** Close idle keep-alive sockets. */
  destroy(): void {
    this.transport?.agent.destroy();
  }
}
