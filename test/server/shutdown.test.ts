/**
 * SIGTERM and restarts: requests in flight when the signal arrives finish (nothing the
 * server acknowledged is lost), new connections are refused at once, the process exits 0,
 * and a client that retries does not notice an instance being replaced mid-load.
 */
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { keys } from '../../lib/keys';
import type { FileStorage } from '../../lib/storage/fs';
import { freePort } from '../support/offline';
import { fileStore, s3Store, type TestStore } from '../support/stores';
import { addBundle, api, auth, testBundle } from '../support/upload';
import { startServer, type ServerProcess } from './harness';
import { addWithRetries, type RetryStats } from './retrying';
import { exchange, head } from './wire';

const MiB = 1024 * 1024;
const started: ServerProcess[] = [];
const stores: TestStore[] = [];
async function server(env: Record<string, string>, port?: number): Promise<ServerProcess> {
  const s = await startServer({ env, port, flags: ['--shutdown-grace', '20s'] });
  started.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.cleanup()));
});

async function refusesConnections(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/health`, { headers: { connection: 'close' } });
    return false;
  } catch {
    return true;
  }
}

function unique(p: string): string {
  return `${p}-${randomBytes(3).toString('hex')}`;
}

describe('SIGTERM', () => {
  it('lets a streamed upload that is in flight finish, refuses new connections, exits 0 (filesystem)', async () => {
    const store = await fileStore();
    stores.push(store);
    const key = Buffer.alloc(32, 7);
    const srv = await server({ ...store.env, REGISTRY_SIGNING_KEY: key.toString('hex') });
    const files = store.another() as FileStorage;
    const root = store.env.REGISTRY_STORAGE.slice('file:'.length);
    const staged = keys.uploadBlob('t'.repeat(26), 'f'.repeat(64)); // signed PUTs name staging keys only
    const target = new URL(await files.signPut(staged, { expiresIn: 300, origin: srv.url }));
    const half = randomBytes(4 * MiB);
    let exitCode: Promise<number | null> | undefined;
    const put = exchange(srv.port, [
      head('PUT', `${target.pathname}${target.search}`, { 'content-length': 2 * half.length, connection: 'keep-alive' }),
      half,
      // The server is writing our bytes to a temp file: now stop it.
      { until: async () => (await readdir(path.join(root, '.tmp')).catch(() => [])).length > 0 },
      { until: async () => ((exitCode ??= srv.signal('SIGTERM')), refusesConnections(srv.url)) },
      half,
    ]);
    const answer = await put;
    expect(answer.status).toBe(200);
    expect(answer.response).toMatch(/connection: close/i);
    expect(await exitCode).toBe(0);
    expect((await files.head(staged)).size).toBe(2 * half.length);
    const shutdown = srv.logs().find((l) => l.msg === 'shutting down')!;
    expect(shutdown.inFlight).toBe(1);
    expect(srv.logs().find((l) => l.msg === 'stopped')).toMatchObject({ drained: true, cutOff: 0 });
  });

  it('loses no acknowledged add when stopped under load, and finishes the requests in flight (S3)', async () => {
    const store = await s3Store();
    const srv = await server(store.env);
    // One request certainly in flight: a start whose body is only half sent at the signal.
    const slow = testBundle(unique('slow'), '1.0.0', { 'a.bin': randomBytes(100) });
    const slowBody = Buffer.from(JSON.stringify({ manifest: slow.manifest }));
    let signalled: Promise<number | null> | undefined;
    const slowStart = exchange(srv.port, [
      head('POST', '/uploads', { ...auth, 'content-type': 'application/json', 'content-length': slowBody.length }),
      slowBody.subarray(0, 10),
      { until: async () => signalled !== undefined && (await refusesConnections(srv.url)) },
      slowBody.subarray(10),
    ]);

    // Load: workers add packages back to back until the server goes away.
    const outcomes: Array<{ name: string; status?: number; added: boolean; error?: string }> = [];
    let stop = false;
    const workers = Array.from({ length: 6 }, async () => {
      while (!stop) {
        const name = unique('load');
        try {
          const r = await addBundle(srv.url, testBundle(name, '1.0.0', { 'x.bin': randomBytes(2000) }));
          outcomes.push({ name, status: r.status, added: r.status === 200 && r.json?.status === 'Added' });
        } catch (error) {
          outcomes.push({ name, added: false, error: String(error) });
          stop = true;
        }
      }
    });
    while (outcomes.filter((o) => o.added).length < 3) await new Promise((r) => setTimeout(r, 20));
    signalled = srv.signal('SIGTERM');
    stop = true;
    await Promise.all(workers);
    const slowAnswer = await slowStart;
    expect(await signalled).toBe(0);

    expect(slowAnswer.status).toBe(201);
    // Every answer the server gave was a real one: in-flight requests were not cut to 5xx.
    expect(outcomes.filter((o) => o.status !== undefined && o.status >= 500)).toEqual([]);
    expect(srv.logs().find((l) => l.msg === 'shutting down')!.inFlight).toBeGreaterThanOrEqual(1);
    expect(srv.logs().find((l) => l.msg === 'stopped')).toMatchObject({ drained: true, cutOff: 0 });

    // A new instance over the same prefix has every acknowledged add.
    const next = await server(store.env);
    const listed = await api(next.url, 'GET', '/package');
    const names = new Set(listed.json.packages.map((p: any) => p.name));
    const acknowledged = outcomes.filter((o) => o.added);
    expect(acknowledged.length).toBeGreaterThanOrEqual(3);
    for (const o of acknowledged) {
      expect(names.has(o.name)).toBe(true);
      expect((await api(next.url, 'GET', `/package/${o.name}/1.0.0`)).json.status).toBe('Added');
    }
  });
});

describe('restart mid-load', () => {
  it('is invisible to clients that retry: every add ends Added and the new instance lists them all (S3)', async () => {
    const store = await s3Store();
    const port = await freePort();
    let srv = await server(store.env, port);
    const url = srv.url;
    const stats: RetryStats = { retries: 0 };
    const results: Array<{ name: string; status: number; json: any; afterRestart: boolean }> = [];
    let restarted = false;
    let stop = false;
    // Load: workers add back to back, through the stop, the downtime and the new instance.
    const workers = Array.from({ length: 5 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const name = unique(`restart${w}-${i}`);
        const r = await addWithRetries(url, testBundle(name, '1.0.0', { 'x.bin': randomBytes(3000) }), stats);
        results.push({ name, ...r, afterRestart: restarted });
      }
    });
    while (results.length < 5) await new Promise((r) => setTimeout(r, 20));
    expect(await srv.signal('SIGTERM')).toBe(0);
    await new Promise((r) => setTimeout(r, 300)); // downtime: the load keeps coming
    srv = await server(store.env, port);
    restarted = true;
    while (results.filter((r) => r.afterRestart).length < 5) await new Promise((r) => setTimeout(r, 20));
    stop = true;
    await Promise.all(workers);

    expect(results.filter((r) => r.status !== 200 || r.json?.status !== 'Added')).toEqual([]);
    // Clients did meet the restart (refused connections), and retrying was all they needed.
    expect(stats.retries).toBeGreaterThan(0);
    const listed = await api(srv.url, 'GET', '/package');
    const names = new Set(listed.json.packages.map((p: any) => p.name));
    for (const r of results) expect(names.has(r.name)).toBe(true);
  });
});
