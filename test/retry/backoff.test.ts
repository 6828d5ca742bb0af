/**
 * lib/retry.ts, the one backoff of the retry and poll loops: each caller's policy gives the
 * delays it computed by hand before (catalog races, session CAS, the gc fence, HTTP retries,
 * the CLI's complete poll), and the loop retries only what it is told to.
 */
import { describe, expect, it } from 'vitest';
import { type Backoff, backoffDelay, retry } from '../../lib/retry';

const delays = (b: Backoff, random: number, n = 9) => Array.from({ length: n }, (_, i) => backoffDelay(b, i, () => random));

describe('backoffDelay', () => {
  it('exponential with full jitter, capped before the jitter (catalog writers)', () => {
    const b: Backoff = { baseMs: 10, maxMs: 500, growth: 'exponential', jitter: 'full' };
    expect(delays(b, 1)).toEqual([10, 20, 40, 80, 160, 320, 500, 500, 500]);
    expect(delays(b, 0.5)).toEqual([5, 10, 20, 40, 80, 160, 250, 250, 250]);
    expect(backoffDelay(b, 5000, () => 1)).toBe(500);
  });

  it('exponential with a ±25 % spread, capped after it (HTTP retries)', () => {
    const b: Backoff = { baseMs: 500, maxMs: 30_000, growth: 'exponential', jitter: 'spread' };
    expect(delays(b, 0, 4)).toEqual([375, 750, 1500, 3000]);
    expect(delays(b, 1, 4)).toEqual([625, 1250, 2500, 5000]);
    expect(backoffDelay(b, 6, () => 0)).toBe(24_000);
    expect(backoffDelay(b, 6, () => 1)).toBe(30_000);
  });

  it('linear, with or without jitter (session CAS, the gc fence)', () => {
    expect(delays({ baseMs: 50, maxMs: Infinity, growth: 'linear', jitter: 'full' }, 0.5, 4)).toEqual([25, 50, 75, 100]);
    expect(delays({ baseMs: 200, maxMs: Infinity, growth: 'linear', jitter: 'none' }, 0.9, 4)).toEqual([200, 400, 600, 800]);
  });

  it('a poll doubles from 25 ms up to its interval', () => {
    expect(delays({ baseMs: 25, maxMs: 300, growth: 'exponential', jitter: 'none' }, 0.3, 6)).toEqual([25, 50, 100, 200, 300, 300]);
  });
});

describe('retry', () => {
  const instant: Backoff = { baseMs: 0, maxMs: 0, growth: 'exponential', jitter: 'none' };

  it('retries what is retryable until it succeeds, reporting each retry', async () => {
    const seen: Array<[string, number, number]> = [];
    const result = await retry(
      async (attempt) => {
        if (attempt < 3) throw new Error(`try ${attempt}`);
        return attempt;
      },
      {
        attempts: 5,
        backoff: instant,
        retryable: () => true,
        onRetry: (err, attempt, delay) => seen.push([(err as Error).message, attempt, delay]),
      },
    );
    expect(result).toBe(3);
    expect(seen).toEqual([
      ['try 1', 1, 0],
      ['try 2', 2, 0],
    ]);
  });

  it('gives up after the last attempt, and at once on what is not retryable', async () => {
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error('down');
    };
    await expect(retry(failing, { attempts: 3, backoff: instant, retryable: () => true })).rejects.toThrow('down');
    expect(calls).toBe(3);
    calls = 0;
    await expect(retry(failing, { attempts: 3, backoff: instant, retryable: () => false })).rejects.toThrow('down');
    expect(calls).toBe(1);
  });

  it('waits as long as a failure asks, within the cap', async () => {
    const asked: number[] = [];
    const b: Backoff = { baseMs: 0, maxMs: 5, growth: 'exponential', jitter: 'none' };
    await retry(
      async (attempt) => {
        if (attempt < 3) throw new Error(String(attempt === 1 ? 3 : 60_000));
      },
      {
        attempts: 3,
        backoff: b,
        retryable: () => true,
        hintMs: (err) => Number((err as Error).message),
        onRetry: (_e, _a, d) => asked.push(d),
      },
    );
    expect(asked).toEqual([3, 5]);
  });
});
