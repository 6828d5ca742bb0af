/**
 * The one backoff of every retry and poll loop: how long to wait before attempt n+1, and a
 * loop that retries what a predicate calls retryable. The policies differ per caller (racing
 * writers on the store want full jitter, HTTP retries a ±25 % spread, polls none); the
 * arithmetic lives here once.
 */
import { setTimeout as sleepMs } from 'node:timers/promises';

export interface Backoff {
  /** The delay after the first failure (attempt 0), before jitter. */
  readonly baseMs: number;
  /** Upper bound of one delay. */
  readonly maxMs: number;
  /** exponential: base·2ⁿ; linear: base·(n+1). */
  readonly growth: 'exponential' | 'linear';
  /**
   * full: uniform in [0, delay] (spreads writers racing for one key); spread: ±25 % around the
   * delay (spreads clients without shortening their wait); none: exactly the delay (polls).
   */
  readonly jitter: 'full' | 'spread' | 'none';
}

/** The wait after failed attempt `n` (0 for the first). */
export function backoffDelay(b: Backoff, n: number, random: () => number = Math.random): number {
  const raw = b.growth === 'exponential' ? b.baseMs * 2 ** n : b.baseMs * (n + 1);
  switch (b.jitter) {
    case 'full':
      return random() * Math.min(b.maxMs, raw);
    case 'spread':
      return Math.min(b.maxMs, raw * (0.75 + random() * 0.5));
    case 'none':
      return Math.min(b.maxMs, raw);
  }
}

export function sleep(ms: number): Promise<void> {
  return sleepMs(ms);
}

export interface RetryOptions {
  /** Total attempts, the first one included. */
  readonly attempts: number;
  readonly backoff: Backoff;
  readonly retryable: (err: unknown) => boolean;
  /** A wait the failure itself asks for (HTTP Retry-After); the longer of it and the backoff wins, within maxMs. */
  readonly hintMs?: (err: unknown) => number | undefined;
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Runs fn (attempts numbered from 1) until it succeeds, fails with what is not retryable, or runs out of attempts. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= o.attempts || !o.retryable(err)) throw err;
      const delay = Math.min(o.backoff.maxMs, Math.max(backoffDelay(o.backoff, attempt - 1), o.hintMs?.(err) ?? 0));
      o.onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
}
