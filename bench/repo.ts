/**
 * /repo figures for one seeded catalog, as Cosmos asks (Accept v5/v4/v3, Accept-Encoding gzip),
 * warm, each against a raw GET of the same bytes from the same store in the same run:
 *  - in-process: repoAnswer as the Lambda adapter answers it (lambdaResponse), plus the GET
 *    of the stored rendering when that is a redirect; baseline: the store driver's GET;
 *  - through `serverless offline` and through the production server (the esbuild bundle under
 *    node), with a node:http client that reads the wire bytes and follows redirects;
 *    baseline: a GET of the signed URL (S3, or /_store of the same process for files);
 *  - each also with the client held to 1 Gbit/s and decoding what it receives; there the
 *    baseline is the faster of a plain and a gzip GET of the same document.
 * Plus store requests per warm /repo and per 304, and the 304's latency. Every registry has a
 * configured public URL (REGISTRY_PUBLIC_URL), so a redirect row measures a redirect.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { isBytes } from '../lib/http/handler';
import { keys } from '../lib/keys';
import { repoAnswer, type RepoRequest } from '../lib/repo';
import { asLambda } from '../test/repo/lambda-view';
import { startServer } from '../test/server/harness';
import { freePort, type Offline } from '../test/support/offline';
import { type ClientOptions, consume, consumeStream, GBIT, type Got, getRaw } from './lib/client';
import { interleaved, mib, ms, sample, summarize } from './lib/stats';
import { type BenchStore, registryOf } from './lib/stores';
import type { Results } from './lib/table';

export const COSMOS_HEADERS = {
  accept:
    'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5,application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4,application/vnd.dcos.universe.repo+json;charset=utf-8;version=v3',
  'accept-encoding': 'gzip',
  'user-agent': 'cosmos/0.6.0 dcos/2.2.0',
};
/** The public URL of the in-process registry (the filesystem driver's redirects name its /_store). */
const BENCH_ORIGIN = 'http://bench.local';
/** docs/benchmarks.md: in-process and through the production server; through serverless offline. */
const TARGET = { inProcess: 1.2, server: 1.2, offline: 1.5 };
const HELD = { bps: GBIT };

function request(ifNoneMatch?: string): RepoRequest {
  return {
    accept: COSMOS_HEADERS.accept,
    acceptEncoding: 'gzip',
    userAgent: COSMOS_HEADERS['user-agent'],
    origin: BENCH_ORIGIN,
    ifNoneMatch,
  };
}

const stat = (samples: number[]) => {
  const s = summarize(samples);
  return `median ${ms(s.median)}, p95 ${ms(s.p95)}`;
};

export interface RepoTargets {
  offline?: Offline;
  /** Start the production server over the store for the server rows. */
  server?: boolean;
}

export async function repoFigures(results: Results, store: BenchStore, label: string, n: number, via: RepoTargets = {}): Promise<void> {
  const tag = `${store.driver}, ${label}`;
  // The registry a function process builds (on S3: the SDK-free reads of s3-lazy.ts, as deployed).
  const registry = registryOf(store, BENCH_ORIGIN);
  const c = registry.storage;

  /** One in-process answer as a Lambda gives it, consumed as a client on the given link would. */
  const lambdaGet = async (opts: ClientOptions = {}): Promise<{ got: Got; how: string }> => {
    const answer = await repoAnswer(registry, request());
    const res = await asLambda(answer);
    if (res.statusCode === 200 && isBytes(answer)) {
      return { got: await consume(answer.bytes, answer.headers['content-encoding'], opts), how: 'inline' };
    }
    if (res.statusCode !== 307) throw new Error(`/repo answered ${res.statusCode}`);
    const location = new URL(String(res.headers!.location));
    if (location.origin === BENCH_ORIGIN) {
      // The filesystem driver's target is the registry's own /_store route, which streams the key.
      const key = decodeURIComponent(location.pathname.slice('/_store/'.length));
      const { stream } = await c.getStream(key);
      return {
        got: { ...(await consumeStream(stream, location.searchParams.get('contentEncoding') ?? undefined, opts)), hops: 2 },
        how: 'redirect + GET',
      };
    }
    return { got: await getRaw(location.href, { 'accept-encoding': 'gzip' }, opts), how: 'redirect + GET' };
  };

  // Cold answer first (reads snapshot and chunks, renders, maybe writes the stored rendering).
  const first = await repoAnswer(registry, request());
  if (!isBytes(first)) throw new Error(`/repo answered ${first.statusCode}`);
  const wire = first.bytes;
  const gzip = first.headers['content-encoding'] === 'gzip';
  const { how } = await lambdaGet();
  const plainDoc = (await repoAnswer(registry, { ...request(), acceptEncoding: 'identity' })) as { bytes: Buffer };
  const doc = plainDoc.bytes;
  const docLabel = `${mib(doc.length)} document, ${gzip ? `gzip ${mib(wire.length)}` : 'plain'}`;

  // Baselines: the same bytes the client receives, and (for held clients) the plain and the gzip
  // renderings of the same document, stored under the same store.
  const safe = label.replace(/[^A-Za-z0-9_.-]/g, '-');
  const base = store.make();
  const contentType = 'application/json';
  const same = keys.rendered('bench-baseline', `${safe}.same`);
  const plainKey = keys.rendered('bench-baseline', `${safe}.json`);
  const gzipKey = keys.rendered('bench-baseline', `${safe}.json.gz`);
  await base.put(same, wire, { contentType, contentEncoding: gzip ? 'gzip' : undefined });
  await base.put(plainKey, doc, { contentType });
  await base.put(gzipKey, gzipSync(doc, { level: 6 }), { contentType, contentEncoding: 'gzip' });
  await base.get(same);

  // Baselines read as a redirected client does: S3 over HTTP (a signed URL), files streamed from the driver (as /_store sends them).
  const rawGet = async (key: string, encoding: string | undefined, opts: ClientOptions = {}) => {
    if (store.driver === 'file') return consumeStream((await base.getStream(key)).stream, encoding, opts);
    return getRaw(await base.signGet(key, { expiresIn: 600, origin: BENCH_ORIGIN, contentType, contentEncoding: encoding }), {}, opts);
  };
  const heldGet = (key: string, encoding?: string) => rawGet(key, encoding, HELD);

  // In-process, each figure's samples interleaved with its baseline's (the same load for both).
  const [warm, baseline] = await interleaved(n, [() => lambdaGet(), () => rawGet(same, gzip ? 'gzip' : undefined)]);
  const ratio = summarize(warm).median / summarize(baseline).median;
  results.add({
    figure: `/repo warm in-process (${tag}: ${docLabel}, ${how})`,
    value: stat(warm),
    baseline: `GET same bytes${store.driver === 's3' ? ' (signed URL)' : ''}: ${stat(baseline)}`,
    ratio,
    target: `≤ ${TARGET.inProcess}×`,
    met: ratio <= TARGET.inProcess,
  });

  const [warmHeld, plainHeld, gzipHeld] = await interleaved(n, [
    () => lambdaGet(HELD),
    () => heldGet(plainKey),
    () => heldGet(gzipKey, 'gzip'),
  ]);
  const bestHeld = summarize(plainHeld).median <= summarize(gzipHeld).median ? ['plain', plainHeld] : ['gzip', gzipHeld];
  const ratioHeld = summarize(warmHeld).median / summarize(bestHeld[1] as number[]).median;
  results.add({
    figure: `/repo warm in-process, client at 1 Gbit/s (${tag}, ${how}, decoded)`,
    value: stat(warmHeld),
    baseline: `faster of plain/gzip GET at 1 Gbit/s (${bestHeld[0]}): ${stat(bestHeld[1] as number[])}; other: ${stat(bestHeld[0] === 'plain' ? gzipHeld : plainHeld)}`,
    ratio: ratioHeld,
    target: `≤ ${TARGET.inProcess}×`,
    met: ratioHeld <= TARGET.inProcess,
  });

  // Store requests: the function's only (a redirected client's GET of the object is not the function's).
  const before = c.requests();
  await repoAnswer(registry, request());
  const perRepo = c.requests() - before;
  results.add({ figure: `store requests per warm /repo (${tag})`, value: String(perRepo), target: 'O(1): 1', met: perRepo === 1 });
  const etag = String(first.headers.etag);
  const r0 = c.requests();
  const revalidate = await sample(n, async () => {
    const res = await repoAnswer(registry, request(etag));
    if (res.statusCode !== 304) throw new Error(`conditional /repo answered ${res.statusCode}`);
  });
  const per304 = (c.requests() - r0) / n;
  results.add({
    figure: `/repo 304 revalidation in-process (${tag})`,
    value: `${stat(revalidate)}; ${per304} store request(s)`,
    target: '≤ 1 store request',
    met: per304 <= 1,
  });

  /** The HTTP rows of one runtime at `url` (its own /_store serves the filesystem baselines). */
  const overHttp = async (where: string, url: string, target: number) => {
    const repoUrl = `${url}/repo`;
    // This runtime's answer names its own base in resource URLs: its baselines are its own bytes.
    // The first answer renders (and on Lambda stores) the catalog: on a loaded machine a big one
    // can pass the function's 29 s timeout, so the warm-up is retried until it is the document.
    let body: Buffer = Buffer.alloc(0);
    let httpGzip = false;
    let httpDoc: Buffer = body;
    for (let attempt = 1; ; attempt++) {
      const answered = await getRaw(repoUrl, COSMOS_HEADERS, { keep: true }).catch((e: Error) => ({ error: e.message }));
      if ('body' in answered && answered.body) {
        body = answered.body;
        httpGzip = answered.encoding === 'gzip';
        httpDoc = httpGzip ? gunzipSync(body) : body;
        if (httpDoc.length > doc.length * 0.9 && httpDoc.length < doc.length * 1.1) break;
      }
      const what = 'error' in answered ? answered.error : `a ${httpDoc.length}-byte document: ${httpDoc.subarray(0, 200).toString('utf8')}`;
      if (attempt >= 3) throw new Error(`/repo ${where} answered ${what} (in-process: ${doc.length} bytes)`);
      process.stderr.write(`[bench] /repo ${where} warm-up answered ${what}; again\n`);
    }
    const keyOf = (ext: string) => keys.rendered('bench-baseline', `${safe}-${where.replace(/[^a-z]/g, '')}.${ext}`);
    await base.put(keyOf('same'), body, { contentType, contentEncoding: httpGzip ? 'gzip' : undefined });
    await base.put(keyOf('json'), httpDoc, { contentType });
    await base.put(keyOf('json.gz'), gzipSync(httpDoc, { level: 6 }), { contentType, contentEncoding: 'gzip' });
    const signed = (key: string, contentEncoding?: string) =>
      base.signGet(key, { expiresIn: 3600, origin: url, contentType, contentEncoding });
    const sameUrl = await signed(keyOf('same'), httpGzip ? 'gzip' : undefined);
    const plainUrl = await signed(keyOf('json'));
    const gzipUrl = await signed(keyOf('json.gz'), 'gzip');
    const head = await fetch(repoUrl, { headers: COSMOS_HEADERS, redirect: 'manual' });
    await head.arrayBuffer();
    const httpEtag = head.headers.get('etag')!;
    let failures = 0;
    // One retry of a failed request (a reset connection on a loaded machine), counted in the row.
    const get = async (opts: ClientOptions = {}): Promise<Got> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await getRaw(repoUrl, COSMOS_HEADERS, opts);
        } catch (error) {
          if (attempt >= 2) throw error;
          failures++;
          process.stderr.write(`[bench] /repo ${where} failed, retrying: ${(error as Error).message}\n`);
        }
      }
    };
    const got = await get();
    const hops = got.hops > 1 ? 'redirect followed' : 'no redirect';
    await getRaw(sameUrl);
    const [warmHttp, baseHttp] = await interleaved(n, [() => get(), () => getRaw(sameUrl)]);
    const r = summarize(warmHttp).median / summarize(baseHttp).median;
    results.add({
      figure: `/repo warm ${where} (${tag}: ${mib(httpDoc.length)} document, ${httpGzip ? `gzip ${mib(body.length)}` : 'plain'}, ${hops})`,
      value: `${stat(warmHttp)}${failures ? `; ${failures} failed request(s) retried` : ''}`,
      baseline: `GET same bytes${store.driver === 'file' ? ' via /_store' : ''}: ${stat(baseHttp)}`,
      ratio: r,
      target: `≤ ${target}×`,
      met: r <= target,
    });
    const [warmHeldHttp, plainHttp, gzipHttp] = await interleaved(n, [
      () => get(HELD),
      () => getRaw(plainUrl, {}, HELD),
      () => getRaw(gzipUrl, {}, HELD),
    ]);
    const best = summarize(plainHttp).median <= summarize(gzipHttp).median ? ['plain', plainHttp] : ['gzip', gzipHttp];
    const rh = summarize(warmHeldHttp).median / summarize(best[1] as number[]).median;
    results.add({
      figure: `/repo warm ${where}, client at 1 Gbit/s (${tag}, ${hops}, decoded)`,
      value: stat(warmHeldHttp),
      baseline: `faster of plain/gzip GET at 1 Gbit/s (${best[0]}): ${stat(best[1] as number[])}; other: ${stat(best[0] === 'plain' ? gzipHttp : plainHttp)}`,
      ratio: rh,
      target: `≤ ${target}×`,
      met: rh <= target,
    });
    const revalHttp = await sample(n, async () => {
      const res = await fetch(repoUrl, { headers: { ...COSMOS_HEADERS, 'if-none-match': httpEtag }, redirect: 'manual' });
      await res.arrayBuffer();
      if (res.status !== 304) throw new Error(`conditional /repo ${where} answered ${res.status}`);
    });
    results.add({ figure: `/repo 304 revalidation ${where} (${tag})`, value: stat(revalHttp) });
  };

  /** A runtime that fails is a row saying so, not the end of the run. */
  const guarded = async (where: string, run: () => Promise<void>) =>
    run().catch((error: Error) => results.add({ figure: `/repo warm ${where} (${tag})`, value: `failed: ${error.message.slice(0, 300)}` }));
  if (via.offline)
    await guarded('through serverless offline', () => overHttp('through serverless offline', via.offline!.url, TARGET.offline));
  if (via.server) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = await startServer({ env: { ...store.env, REGISTRY_PUBLIC_URL: url }, flags: ['--schedules', 'off'], port });
    try {
      await guarded('through the production server', () => overHttp('through the production server', url, TARGET.server));
    } finally {
      await server.stop();
    }
  }
}
