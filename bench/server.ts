/**
 * Warm /repo and describe latency through the production server against serverless
 * offline, both over one store (a small catalog seeded through the commit path), measured
 * in the same run. The production server runs the same handlers; the difference is the
 * HTTP layer (serverless offline: hapi, worker threads, base64 bodies).
 */
import type { Offline } from '../test/support/offline';
import { startServer } from '../test/server/harness';
import { sample, summarize, ms } from './lib/stats';
import type { Results } from './lib/table';

const ACCEPT = 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5';

export async function serverFigures(
  results: Results,
  env: Record<string, string>,
  offline: Offline,
  describePath: string,
  n: number,
): Promise<void> {
  const server = await startServer({ env, flags: ['--schedules', 'off'] });
  try {
    const get =
      (base: string, p: string, headers: Record<string, string> = {}) =>
      async () => {
        const res = await fetch(`${base}${p}`, { headers });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${p}: ${res.status}`);
      };
    for (const [what, p, headers] of [
      ['/repo', '/repo', { accept: ACCEPT, 'accept-encoding': 'gzip' }],
      ['describe', describePath, {}],
    ] as const) {
      // Warm both first (caches, connections, worker threads).
      await sample(10, get(server.url, p, headers));
      await sample(10, get(offline.url, p, headers));
      const viaServer = summarize(await sample(n, get(server.url, p, headers)));
      const viaOffline = summarize(await sample(n, get(offline.url, p, headers)));
      results.add({
        figure: `${what} warm through the production server (vs serverless offline, same store)`,
        value: `median ${ms(viaServer.median)}, p95 ${ms(viaServer.p95)}`,
        baseline: `offline: median ${ms(viaOffline.median)}, p95 ${ms(viaOffline.p95)}`,
        ratio: viaServer.median / viaOffline.median,
      });
    }
  } finally {
    await server.stop();
  }
}
