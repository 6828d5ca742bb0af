/**
 * Retries with exponential backoff for the failures a registry or the network recovers from:
 * connection resets and timeouts, 5xx, 429 (honouring Retry-After). Everything else — 4xx,
 * digest mismatches, bad manifests — fails at once. The loop and its backoff are lib/retry.ts.
 */
import { retry } from '../retry';

export interface RetryPolicy {
  /** Total attempts, first one included. */
  readonly attempts: number;
  /** Delay before the second attempt; doubles each time, with ±25 % jitter. */
  readonly baseDelayMs: number;
  /** Upper bound for one delay, Retry-After included. */
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ attempts: 5, baseDelayMs: 500, maxDelayMs: 30_000 });

/** An HTTP answer worth retrying (5xx, 429). */
export class TransientHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'TransientHttpError';
  }
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

function isTransient(err: unknown): boolean {
  if (err instanceof TransientHttpError) return true;
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  }
  return false;
}

/** Retry-After as delta-seconds or an HTTP date → milliseconds. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v === '') return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export async function withRetry<T>(
  policy: RetryPolicy,
  fn: (attempt: number) => Promise<T>,
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void,
): Promise<T> {
  return retry(fn, {
    attempts: policy.attempts,
    backoff: { baseMs: policy.baseDelayMs, maxMs: policy.maxDelayMs, growth: 'exponential', jitter: 'spread' },
    retryable: isTransient,
    hintMs: (err) => (err instanceof TransientHttpError ? err.retryAfterMs : undefined),
    onRetry,
  });
}
