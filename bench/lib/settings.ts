/**
 * The benchmark's settings, read once from the environment (the bench harness's
 * counterpart of lib/config.ts):
 *
 * | BENCH_QUICK=1          | small sizes and few repetitions (about 3 minutes)
 * | BENCH_BIG=1            | include the 1 GB cases (add, build/add RSS)
 * | BENCH_S3_ENDPOINT      | use this S3 store instead of starting a Ceph RGW
 * | BENCH_S3_BUCKET        | its bucket (default registry-test); credentials from AWS_*
 * | BENCH_ONLY             | comma-separated sections to run (repo,commit,add,cold,rss)
 * | BENCH_COLD_BASE        | a git revision whose read functions the cold-start rows also measure, interleaved
 * | BENCH_DRIVERS          | comma-separated drivers to run (s3,file; default both)
 * | BENCH_REPO_CATALOGS    | comma-separated /repo catalogs to measure (small,real; default both)
 */
export interface BenchSettings {
  quick: boolean;
  big: boolean;
  s3?: { endpoint: string; bucket: string };
  only?: Set<string>;
  /** Git revision to compare cold starts with (built from `git archive`, measured in the same run). */
  coldBase?: string;
  drivers?: Set<string>;
  repoCatalogs?: Set<string>;
}

const list = (value: string | undefined) => (value?.trim() ? new Set(value.split(',').map((s) => s.trim())) : undefined);

export function benchSettings(env: Record<string, string | undefined> = process.env): BenchSettings {
  const endpoint = env.BENCH_S3_ENDPOINT?.trim();
  return {
    quick: env.BENCH_QUICK === '1',
    big: env.BENCH_BIG === '1',
    s3: endpoint ? { endpoint, bucket: env.BENCH_S3_BUCKET?.trim() || 'registry-test' } : undefined,
    only: list(env.BENCH_ONLY),
    drivers: list(env.BENCH_DRIVERS),
    repoCatalogs: list(env.BENCH_REPO_CATALOGS),
    coldBase: env.BENCH_COLD_BASE?.trim() || undefined,
  };
}

/** Sizes and repetitions for a run. */
export interface Scale {
  smallVersions: number;
  realVersions: number;
  repoRequests: number;
  /** Commits per writer for 1, 4 and 16 writers: in-process, and through serverless offline (slower). */
  commitsPerWriter: Record<number, number>;
  offlineAddsPerWriter: Record<number, number>;
  addBytes: number[];
  rssBytes: number;
  coldRuns: number;
}

export function scale(s: BenchSettings): Scale {
  const MB = 1000 * 1000;
  if (s.quick) {
    return {
      smallVersions: 1000,
      // Real size (issue 14): the quick run's real-entry rows are the full run's 1,000 × 37 KiB.
      realVersions: 1000,
      repoRequests: 10,
      commitsPerWriter: { 1: 10, 4: 4, 16: 2 },
      offlineAddsPerWriter: { 1: 5, 4: 2, 16: 1 },
      addBytes: [20 * MB],
      rssBytes: 50 * MB,
      coldRuns: 2,
    };
  }
  return {
    smallVersions: 10_000,
    realVersions: 1000,
    repoRequests: 30,
    commitsPerWriter: { 1: 30, 4: 10, 16: 4 },
    offlineAddsPerWriter: { 1: 10, 4: 4, 16: 2 },
    addBytes: s.big ? [100 * MB, 1000 * MB] : [100 * MB],
    rssBytes: s.big ? 1000 * MB : 200 * MB,
    coldRuns: 5,
  };
}
