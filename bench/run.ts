/**
 * `npm run bench`: every figure of docs/benchmarks.md with its baseline, measured side by side in
 * one run, printed as one markdown table and written to bench/results/latest.md.
 * Settings: bench/lib/settings.ts (BENCH_QUICK=1, BENCH_BIG=1, BENCH_S3_ENDPOINT, BENCH_ONLY).
 * Starts its own Ceph RGW (ports 7495/6795, 8 GiB memstore) unless given a store, and stops it.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Offline } from '../test/support/offline';
import { FIXTURE_PACKAGES_DIR, REFERENCE_DIR } from '../test/support/reference';
import { addFigures } from './add';
import { coldStartFigures } from './coldstart';
import { commitInProcess, commitOffline, putRate } from './commit';
import { repoFigures } from './repo';
import { rssFigures } from './rss';
import { serverFigures } from './server';
import { startOfflineIn } from './lib/offline';
import { startS3 } from './lib/rgw';
import { snapshotCode } from './lib/snapshot';
import { averageSize, realEntries, seed, smallEntries } from './lib/seed';
import { benchSettings, scale } from './lib/settings';
import { kib } from './lib/stats';
import { benchStore, type Driver } from './lib/stores';
import { Results } from './lib/table';

// The package the "real" entries are modelled on: BENCH_UNIVERSE_PACKAGE, else the real 5.0 package
// under UNIVERSE_REFERENCE_DIR, else the project's 5.0 fixture (test/fixtures/universe).
const UNIVERSE_PACKAGE =
  process.env.BENCH_UNIVERSE_PACKAGE ??
  (REFERENCE_DIR ? path.join(REFERENCE_DIR, 'packages/beta-kubernetes/0') : path.join(FIXTURE_PACKAGES_DIR, 'ledger/2'));

async function main(): Promise<void> {
  const settings = benchSettings();
  const sc = scale(settings);
  const on = (section: string) => !settings.only || settings.only.has(section);
  if (!existsSync(UNIVERSE_PACKAGE))
    throw new Error(`no Universe package directory at ${UNIVERSE_PACKAGE} (set BENCH_UNIVERSE_PACKAGE or UNIVERSE_REFERENCE_DIR)`);
  const started = Date.now();
  const results = new Results();
  const s3 = startS3(settings);
  const offline: Offline[] = [];
  const code = await snapshotCode();
  try {
    const drivers = (['s3', 'file'] as Driver[]).filter((d) => !settings.drivers || settings.drivers.has(d));
    const catalog = (name: string) => on('repo') && (!settings.repoCatalogs || settings.repoCatalogs.has(name));
    for (const driver of drivers) {
      const small = await benchStore(driver, s3, 'small');
      const real = await benchStore(driver, s3, 'real');
      const smalls = smallEntries(sc.smallVersions);
      const needSmall = catalog('small') || on('commit') || on('server');
      if (needSmall) {
        await seed(small.make(), smalls, 500);
        process.stderr.write(`[bench] seeded ${smalls.length} versions of ${kib(averageSize(smalls))} on ${driver}\n`);
      }
      const reals = catalog('real') ? await realEntries(sc.realVersions, UNIVERSE_PACKAGE) : [];
      if (catalog('real')) {
        await seed(real.make(), reals, 100);
        process.stderr.write(`[bench] seeded ${reals.length} versions of ${kib(averageSize(reals))} on ${driver}\n`);
      }
      const needOffline = on('repo') || on('commit') || on('server') || (driver === 's3' && (on('add') || on('rss')));
      // b and c serve the commit rows only (writers spread over three instances).
      const start = (wanted: boolean, env: Record<string, string>) => (needOffline && wanted ? startOfflineIn(code.dir, env) : undefined);
      const [a, b, c, r] = (await Promise.all([
        start(needSmall || (driver === 's3' && (on('add') || on('rss'))), small.env),
        start(on('commit'), small.env),
        start(on('commit'), small.env),
        start(catalog('real'), real.env),
      ])) as Offline[]; // undefined where not wanted (the rows that use them check)
      offline.push(...[a, b, c, r].filter(Boolean));
      const label = (n: number, size: number) => `${n.toLocaleString('en')} versions × ${kib(size)}`;
      if (on('repo')) {
        if (catalog('small'))
          await repoFigures(results, small, label(smalls.length, averageSize(smalls)), sc.repoRequests, { offline: a, server: true });
        if (catalog('real'))
          await repoFigures(results, real, label(reals.length, averageSize(reals)), sc.repoRequests, { offline: r, server: true });
      }
      if (on('commit')) {
        const base = await putRate(small, sc.repoRequests);
        for (const writers of [1, 4, 16]) await commitInProcess(results, small, writers, sc.commitsPerWriter[writers], base);
        for (const writers of [1, 4, 16]) await commitOffline(results, driver, [a, b, c], writers, sc.offlineAddsPerWriter[writers], base);
      }
      if (on('server') && a) await serverFigures(results, small.env, a, `/package/${smalls[0].name}/${smalls[0].version}`, sc.repoRequests);
      if (driver === 's3' && on('add')) for (const bytes of sc.addBytes) await addFigures(results, s3, a, bytes);
      if (driver === 's3' && on('rss')) await rssFigures(results, a, sc.rssBytes);
      await Promise.all(offline.splice(0).map((o) => o.stop()));
    }
    if (on('cold')) await coldStartFigures(results, await benchStore('s3', s3, 'cold'), sc.coldRuns, code.dir, settings.coldBase);
  } finally {
    await Promise.all(offline.map((o) => o.stop()));
    await code.remove();
    s3.stop();
  }
  const mode = settings.quick ? 'quick (BENCH_QUICK=1)' : settings.big ? 'full with 1 GB cases (BENCH_BIG=1)' : 'full';
  const header = [
    `# Benchmark results (${mode})`,
    '',
    `${new Date().toISOString()}; ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version};`,
    `S3: ${settings.s3 ? settings.s3.endpoint : 'Ceph RGW (memstore) on loopback'}; filesystem: ${os.tmpdir()}; run took ${((Date.now() - started) / 60000).toFixed(1)} min.`,
    'Ratios are value / baseline (for rates: value / baseline rate), both measured in this run.',
  ].join('\n');
  const table = results.markdown(header);
  await mkdir(path.join(__dirname, 'results'), { recursive: true });
  await writeFile(path.join(__dirname, 'results/latest.md'), table);
  process.stdout.write(table);
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error?.stack ?? error}\n`);
  process.exitCode = 1;
});
