/**
 * /repo figures for one seeded catalog: warm answers in-process (repoAnswer, plus the GET
 * of the pre-rendered object when it redirects) and through `serverless offline` (fetch, as
 * a client: gzip, redirects followed), each against a plain GET of one object of the same
 * size from the same store; conditional revalidation (304) and store requests per answer.
 */
import { gunzipSync } from 'node:zlib';
import { keys } from '../lib/keys';
import { repoAnswer, type RepoRequest } from '../lib/repo';
import type { Storage } from '../lib/storage/port';
import type { Offline } from '../test/support/offline';
import { storageLayer } from '../lib/storage/layer';
import { ms, mib, sample, summarize } from './lib/stats';
import { registryOver, type BenchStore } from './lib/stores';
import type { Results } from './lib/table';

export const COSMOS_HEADERS = {
  accept:
    'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5,application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4,application/vnd.dcos.universe.repo+json;charset=utf-8;version=v3',
  'accept-encoding': 'gzip',
  'user-agent': 'cosmos/0.6.0 dcos/2.2.0',
};
const ORIGIN = 'http://bench.local';
const TARGET = 1.5;

function request(ifNoneMatch?: string): RepoRequest {
  return { accept: COSMOS_HEADERS.accept, acceptEncoding: 'gzip', userAgent: COSMOS_HEADERS['user-agent'], origin: ORIGIN, ifNoneMatch };
}

/** What a client ends up with for one in-process answer: the document bytes (gzipped or not). */
async function clientGet(storage: Storage, res: Awaited<ReturnType<typeof repoAnswer>>): Promise<Buffer> {
  if (res.statusCode === 200) return Buffer.from(res.body ?? '', res.isBase64Encoded ? 'base64' : 'utf8');
  if (res.statusCode !== 307) throw new Error(`/repo answered ${res.statusCode}`);
  const location = String(res.headers!.location);
  // The filesystem driver's signed URLs name the registry's own /_store route: read the key.
  if (location.startsWith(`${ORIGIN}/_store/`))
    return (await storage.get(decodeURIComponent(new URL(location).pathname.slice('/_store/'.length)))).body;
  const r = await fetch(location);
  if (!r.ok) throw new Error(`GET of the pre-rendered /repo answered ${r.status}`);
  return Buffer.from(await r.arrayBuffer());
}

function median(samples: number[]): string {
  const s = summarize(samples);
  return `median ${ms(s.median)}, p95 ${ms(s.p95)}`;
}

export async function repoFigures(results: Results, store: BenchStore, label: string, n: number, offline?: Offline): Promise<void> {
  const tag = `${store.driver}, ${label}`;
  const c = storageLayer(store.make());
  const registry = registryOver(c);

  // Cold answer first (reads snapshot and chunks, renders, maybe writes the variant).
  const first = await repoAnswer(registry, request());
  const firstBody = await clientGet(c, first);
  const doc = first.statusCode === 200 && first.headers?.['content-encoding'] === 'gzip' ? gunzipSync(firstBody) : firstBody;
  const how =
    first.statusCode === 307
      ? 'redirect + GET'
      : first.headers?.['content-encoding'] === 'gzip'
        ? `inline gzip ${mib(firstBody.length)}`
        : 'inline';

  // Baseline object: the same bytes as the document, stored under the same store.
  const baseKey = keys.rendered('bench-baseline', `${label.replace(/[^A-Za-z0-9_.-]/g, '-')}.json`);
  const base = store.make();
  await base.put(baseKey, doc, { contentType: 'application/json' });
  await base.get(baseKey);

  const warm = await sample(n, async () => clientGet(c, await repoAnswer(registry, request())));
  const baseline = await sample(n, () => base.get(baseKey));
  const ratio = summarize(warm).median / summarize(baseline).median;
  results.add({
    figure: `/repo warm in-process (${tag}: ${mib(doc.length)} document, ${how})`,
    value: median(warm),
    baseline: `GET same size: ${median(baseline)}`,
    ratio,
    target: `≤ ${TARGET}×`,
    met: ratio <= TARGET,
  });

  // The function's requests only: a redirected client's GET of the object is not the function's
  // (and the filesystem case reads it through the same counting storage).
  const before = c.requests();
  const again = await repoAnswer(registry, request());
  const perRepo = c.requests() - before;
  await clientGet(c, again);
  results.add({ figure: `store requests per warm /repo (${tag})`, value: String(perRepo), target: 'O(1): 1', met: perRepo === 1 });

  const etag = String(again.headers!.etag);
  const r0 = c.requests();
  const revalidate = await sample(n, async () => {
    const res = await repoAnswer(registry, request(etag));
    if (res.statusCode !== 304) throw new Error(`conditional /repo answered ${res.statusCode}`);
  });
  const per304 = (c.requests() - r0) / n;
  results.add({
    figure: `/repo 304 revalidation in-process (${tag})`,
    value: `${median(revalidate)}; ${per304} store request(s)`,
    target: '≤ 1 store request',
    met: per304 <= 1,
  });

  if (!offline) return;
  const repoUrl = `${offline.url}/repo`;
  let failures = 0;
  // One retry of a failed request (a reset connection on a loaded machine), counted in the row.
  const get = async (): Promise<Buffer> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await fetch(repoUrl, { headers: COSMOS_HEADERS });
        if (!r.ok) throw new Error(`/repo through offline answered ${r.status}`);
        return Buffer.from(await r.arrayBuffer());
      } catch (error) {
        if (attempt >= 2) throw error;
        failures++;
        process.stderr.write(
          `[bench] /repo fetch failed, retrying: ${(error as Error).message} ${String((error as { cause?: unknown }).cause ?? '')}\n`,
        );
      }
    }
  };
  const got = await get(); // warms the function's worker
  // Same catalog (resource URLs differ: they name the origin the client used).
  const count = (b: Buffer) => {
    const parsed = JSON.parse(b.toString('utf8')) as { packages?: unknown[] };
    if (!Array.isArray(parsed.packages)) throw new Error(`not a repository index (${b.length} bytes): ${b.toString('utf8').slice(0, 300)}`);
    return parsed.packages.length;
  };
  if (count(got) !== count(doc)) throw new Error(`offline /repo lists ${count(got)} versions, in-process ${count(doc)}`);
  const signed = await base.signGet(baseKey, { expiresIn: 3600, origin: offline.url });
  const plain = async () => {
    const r = await fetch(signed);
    if (!r.ok) throw new Error(`baseline GET answered ${r.status}`);
    await r.arrayBuffer();
  };
  await plain();
  const warmHttp = await sample(n, get);
  const baseHttp = await sample(n, plain);
  const ratioHttp = summarize(warmHttp).median / summarize(baseHttp).median;
  results.add({
    figure: `/repo warm through serverless offline (${tag}, client fetch${first.statusCode === 307 ? ', redirect followed' : ''})`,
    value: `${median(warmHttp)}${failures ? `; ${failures} failed request(s) retried` : ''}`,
    baseline: `GET same size${store.driver === 'file' ? ' via /_store' : ''}: ${median(baseHttp)}`,
    ratio: ratioHttp,
    target: `≤ ${TARGET}×`,
    met: ratioHttp <= TARGET,
  });
  const head = await fetch(repoUrl, { headers: COSMOS_HEADERS, redirect: 'manual' });
  await head.arrayBuffer();
  const httpEtag = head.headers.get('etag')!;
  const revalHttp = await sample(n, async () => {
    const r = await fetch(repoUrl, { headers: { ...COSMOS_HEADERS, 'if-none-match': httpEtag }, redirect: 'manual' });
    await r.arrayBuffer();
    if (r.status !== 304) throw new Error(`conditional /repo through offline answered ${r.status}`);
  });
  results.add({ figure: `/repo 304 revalidation through serverless offline (${tag})`, value: median(revalHttp) });
}
