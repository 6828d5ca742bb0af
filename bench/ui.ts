/**
 * The web catalog on a 10,000-version catalog (1,000 packages of 10 versions, bench/lib/seed.ts's
 * small entries), through the production server (its esbuild bundle, test/server/harness.ts) over
 * a file store: the list's first byte against /repo's (warm, median of interleaved samples;
 * target ≤ 1.2×), and in Debian's Chromium the list's load and the time a search takes to answer
 * (typing in the search box until the filtered cards show; target < 1 s).
 * `npx tsx bench/ui.ts` (BENCH_UI_VERSIONS to change the size). A bench script, not a test.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startServer } from '../test/server/harness';
import { fileStore } from '../test/support/stores';
import { launchChromium } from '../test/ui/browser';
import { COSMOS_HEADERS } from './repo';
import { seed, smallEntries } from './lib/seed';
import { ms, now, summarize } from './lib/stats';

const VERSIONS = Number(process.env.BENCH_UI_VERSIONS ?? 10_000);
const SAMPLES = 30;

/** Time until the answer's headers arrive (the server writes headers and body together: its first byte). */
async function firstByte(url: string, headers: Record<string, string>): Promise<number> {
  const t = now();
  const res = await fetch(url, { headers });
  const elapsed = now() - t;
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  await res.arrayBuffer();
  return elapsed;
}

async function main() {
  const store = await fileStore();
  await seed(store.storage, smallEntries(VERSIONS), 500);
  const server = await startServer({ env: store.env });
  const browser = await launchChromium();
  const rows: string[][] = [];
  try {
    const list = `${server.url}/ui/`;
    const repo = `${server.url}/repo`;
    const html = { accept: 'text/html', 'accept-encoding': 'gzip' };
    // Warm both (first rendering of this catalog state), then interleave.
    await firstByte(list, html);
    await firstByte(repo, COSMOS_HEADERS);
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      a.push(await firstByte(list, html));
      b.push(await firstByte(repo, COSMOS_HEADERS));
    }
    const la = summarize(a);
    const lb = summarize(b);
    rows.push(['GET /ui/ first byte (warm)', ms(la.median), ms(la.p95), `${SAMPLES}`]);
    rows.push(['GET /repo first byte (warm, Cosmos headers)', ms(lb.median), ms(lb.p95), `${SAMPLES}`]);
    rows.push(['ratio /ui/ ÷ /repo (median; target ≤ 1.2×)', `${(la.median / lb.median).toFixed(2)}×`, '', '']);
    const htmlBytes = (await (await fetch(list)).arrayBuffer()).byteLength;
    rows.push(['GET /ui/ page size (first page of 100 packages)', `${(htmlBytes / 1024).toFixed(0)} KiB`, '', '']);

    const page = await browser.newPage();
    const loads: number[] = [];
    const searches: number[] = [];
    for (let i = 0; i < 5; i++) {
      let t = now();
      await page.goto(list, { waitUntil: 'load' });
      loads.push(now() - t);
      // Typing a query until the cards of the server's filtered page are in (the script fetches it; no navigation).
      t = now();
      await page.fill('#q', `bench-pkg-${40 + i}`);
      await page.waitForFunction(
        (q) =>
          (globalThis as any).document.getElementById('count').textContent.includes(' of ') &&
          (globalThis as any).location.search.includes(q),
        `bench-pkg-${40 + i}`,
      );
      const shown = await page.locator('.card').count();
      searches.push(now() - t);
      if (shown < 1) throw new Error('the search found nothing');
    }
    const lp = summarize(loads);
    const sp = summarize(searches);
    rows.push(['list page load in Chromium (load event)', ms(lp.median), ms(lp.p95), `${loads.length}`]);
    rows.push([
      'search answers in Chromium (typing → filtered cards shown, incl. 120 ms debounce; target < 1 s)',
      ms(sp.median),
      ms(sp.p95),
      `${searches.length}`,
    ]);
  } finally {
    await browser.close();
    await server.stop();
    await store.cleanup();
  }
  const table = [
    `Web catalog, ${VERSIONS} versions (${VERSIONS / 10} packages), production server, file store (${new Date().toISOString()})`,
    '',
    '| figure | median | p95 | n |',
    '| --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
  ].join('\n');
  console.log(table);
  await writeFile(path.join(__dirname, 'results', 'ui.md'), table);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
