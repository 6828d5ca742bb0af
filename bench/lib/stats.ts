/** Timing helpers: wall-clock samples in milliseconds, and their median and 95th percentile. */
export function now(): number {
  return performance.now();
}

export interface Summary {
  median: number;
  p95: number;
  n: number;
}

export function summarize(samples: number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  return { median: at(0.5), p95: at(0.95), n: s.length };
}

/** Runs fn n times one after the other and returns each run's wall time. */
export async function sample(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = now();
    await fn();
    out.push(now() - t);
  }
  return out;
}

export const ms = (v: number) => (v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`);
export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
export const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

/**
 * Runs each fn once per round, n rounds, in turn (a, b, c, a, b, c, ...) and returns each fn's
 * wall times: a figure and its baseline see the same load, as a shared machine's load drifts
 * over a run (measured one after the other, a drift between them is counted as a ratio).
 */
export async function interleaved(n: number, fns: Array<() => Promise<unknown>>): Promise<number[][]> {
  const out = fns.map(() => [] as number[]);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < fns.length; k++) {
      const t = now();
      await fns[k]();
      out[k].push(now() - t);
    }
  }
  return out;
}
