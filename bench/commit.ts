/**
 * Commit throughput: N concurrent writers adding distinct versions, each writer with its own
 * driver and Catalog instance (as separate processes have), and through three `serverless
 * offline` instances (HTTP adds of small bundles). Baseline: sequential create-only PUTs of
 * a small object on the same store (the one write a commit cannot do without).
 * Every run checks that no acknowledged add is missing afterwards (no lost updates).
 */
import { randomBytes } from 'node:crypto';
import { Catalog } from '../lib/catalog/catalog';
import { find } from '../lib/catalog/model';
import { addVersion } from '../lib/catalog/ops';
import { RegistryError } from '../lib/errors';
import { keys } from '../lib/keys';
import { catalogEntry } from '../test/support/fixtures';
import type { Offline } from '../test/support/offline';
import { addBundle, testBundle } from '../test/support/upload';
import { storageLayer } from '../lib/storage/layer';
import { ms, now, sample, summarize } from './lib/stats';
import type { BenchStore } from './lib/stores';
import type { Results } from './lib/table';

/** Sequential create-only PUTs per second: the baseline of a commit. */
export async function putRate(store: BenchStore, n: number): Promise<number> {
  const storage = store.make();
  const body = JSON.stringify(catalogEntry('bench-put', '1.0.0'));
  const run = randomBytes(4).toString('hex');
  let i = 0;
  const t = await sample(n, () => storage.put(keys.rendered(`bench-put-${run}`, `${i++}.json`), body, { ifNoneMatch: '*' }));
  return 1000 / summarize(t).median;
}

/**
 * Retries an operation that failed with a store or network error (not a domain answer), as
 * a client retries: the Catalog does not retry those itself. Counts the retries.
 */
async function retried<T>(op: () => Promise<T>, counter: { retries: number }): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (error) {
      if (error instanceof RegistryError || attempt >= 5) throw error;
      counter.retries++;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

export async function commitInProcess(
  results: Results,
  store: BenchStore,
  writers: number,
  perWriter: number,
  baseRate: number,
): Promise<void> {
  const run = randomBytes(3).toString('hex');
  const instances = Array.from({ length: writers }, () => {
    const c = storageLayer(store.make());
    return { c, catalog: new Catalog(c) };
  });
  await Promise.all(instances.map((i) => i.catalog.read())); // warm, as long-lived instances are
  const before = instances.reduce((n, i) => n + i.c.requests(), 0);
  const latencies: number[] = [];
  const counter = { retries: 0 };
  const t0 = now();
  await Promise.all(
    instances.map(async (inst, w) => {
      for (let k = 0; k < perWriter; k++) {
        const t = now();
        await retried(() => addVersion(inst.catalog, catalogEntry(`commit-${run}-w${w}`, `1.${k}.0`)), counter);
        latencies.push(now() - t);
      }
    }),
  );
  const seconds = (now() - t0) / 1000;
  const commits = writers * perWriter;
  const requests = (instances.reduce((n, i) => n + i.c.requests(), 0) - before) / commits;
  const { state } = await new Catalog(store.make()).read();
  const lost = instances
    .flatMap((_, w) => Array.from({ length: perWriter }, (_, k) => [w, k]))
    .filter(([w, k]) => !find(state, `commit-${run}-w${w}`, `1.${k}.0`)).length;
  if (lost) throw new Error(`${lost} acknowledged commits are missing`);
  const rate = commits / seconds;
  results.add({
    figure: `commits/s, ${writers} writer(s), in-process (${store.driver})`,
    value: `${rate.toFixed(1)}/s; ${requests.toFixed(1)} store requests per commit; latency median ${ms(summarize(latencies).median)}; 0 lost${counter.retries ? `; ${counter.retries} client retries after store errors` : ''}`,
    baseline: `create-only PUT: ${baseRate.toFixed(0)}/s`,
    ratio: rate / baseRate,
    ...(writers === 1 ? { target: 'bounded requests (5 without contention)', met: requests <= 6 } : {}),
  });
}

export async function commitOffline(
  results: Results,
  driver: string,
  instances: Offline[],
  writers: number,
  perWriter: number,
  baseRate: number,
): Promise<void> {
  const run = randomBytes(3).toString('hex');
  const counter = { retries: 0 };
  const t0 = now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const url = instances[w % instances.length].url;
      for (let k = 0; k < perWriter; k++) {
        const bundle = testBundle(`http-${run}-w${w}`, `1.${k}.0`, { 'a.txt': Buffer.from(`${run}/${w}/${k}`) });
        const r = await retried(async () => {
          const r = await addBundle(url, bundle);
          // 5xx, or serverless-offline's own error body (its esbuild watch rebuilding after an edit).
          if (r.status >= 500 || r.json?.errorMessage) throw new Error(`add answered ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
          return r;
        }, counter);
        if (r.status !== 200 || r.json?.status !== 'Added') throw new Error(`add through offline: ${r.status} ${JSON.stringify(r.json)}`);
      }
    }),
  );
  const seconds = (now() - t0) / 1000;
  // No lost updates: every instance lists every acknowledged add.
  for (const inst of instances) {
    const list = (await (await fetch(`${inst.url}/package`)).json()) as { packages: Array<{ name: string; versions: unknown[] }> };
    const mine = list.packages.filter((p) => p.name.startsWith(`http-${run}-`)).reduce((n, p) => n + p.versions.length, 0);
    if (mine !== writers * perWriter) throw new Error(`${inst.url} lists ${mine} of ${writers * perWriter} acknowledged adds`);
  }
  const rate = (writers * perWriter) / seconds;
  results.add({
    figure: `adds/s (whole upload protocol), ${writers} writer(s) over ${instances.length} serverless offline instances (${driver})`,
    value: `${rate.toFixed(1)}/s; 0 lost${counter.retries ? `; ${counter.retries} client retries` : ''}`,
    baseline: `create-only PUT: ${baseRate.toFixed(0)}/s`,
    ratio: rate / baseRate,
  });
}
