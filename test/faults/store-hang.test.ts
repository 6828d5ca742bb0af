/**
 * A store that stops answering (issue 10, item 7): a Ceph RGW of this test's own, whose radosgw
 * is frozen with SIGSTOP and thawed with SIGCONT, so its sockets accept and then say nothing,
 * as a hung store does (the shared test RGW is untouched). Reads and writes fail cleanly within
 * the configured timeouts, nothing is half-written, and everything works again once the store
 * answers, the production server and the schedules included.
 *
 * Its RGW: HANG_RGW_DIR (default .test-services/rgw-hang), HANG_RGW_PORT (7590) and
 * HANG_RGW_MON_PORT (6890), started and stopped through scripts/rgw.sh. Deadlines below are
 * multiples of the configured timeouts, never absolute speeds.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, StoreUnavailableError } from '../../lib/errors';
import { createS3Client, S3Storage } from '../../lib/storage/s3';
import type { ScheduledFunction } from '../../server/schedules';
import { startSchedules } from '../../server/schedules';
import { startServer, type ServerProcess } from '../server/harness';
import { TEST_TOKEN } from '../support/offline';
import { randomPrefix } from '../support/stores';

const ROOT = path.resolve(__dirname, '../..');
const RGW = {
  RGW_DIR: process.env.HANG_RGW_DIR ?? path.join(ROOT, '.test-services/rgw-hang'),
  RGW_PORT: process.env.HANG_RGW_PORT ?? '7590',
  RGW_MON_PORT: process.env.HANG_RGW_MON_PORT ?? '6890',
};
const ENDPOINT = `http://127.0.0.1:${RGW.RGW_PORT}`;
const CREDENTIALS = { accessKeyId: 'registrytest', secretAccessKey: 'registrytestsecret' }; // scripts/rgw.sh's test user
const BUCKET = 'registry-test';
/** The timeouts under test: small, so the suite stays short. */
const CALL_MS = 1500;
const IDLE_MS = 2000;
/** Wide margin: anything slower than this is a hang, not a slow answer. */
const DEADLINE_MS = 4 * Math.max(CALL_MS, IDLE_MS);

function rgw(command: 'start' | 'stop'): void {
  const r = spawnSync('bash', ['scripts/rgw.sh', command], { cwd: ROOT, env: { ...process.env, ...RGW }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/rgw.sh ${command} failed (${r.status}): ${r.stderr.slice(-2000)}`);
}

let frozen = false;
function freeze(): void {
  process.kill(Number(readFileSync(path.join(RGW.RGW_DIR, 'run/radosgw.pid'), 'utf8')), 'SIGSTOP');
  frozen = true;
}
function thaw(): void {
  if (!frozen) return;
  process.kill(Number(readFileSync(path.join(RGW.RGW_DIR, 'run/radosgw.pid'), 'utf8')), 'SIGCONT');
  frozen = false;
}

/** Settles with the promise, or fails once `ms` have passed: a call that never ends fails the test instead of hanging it. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

function storage(prefix: string): S3Storage {
  const client = createS3Client({
    endpoint: ENDPOINT,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: CREDENTIALS,
    connectTimeoutMs: 1000,
    idleTimeoutMs: IDLE_MS,
  });
  return new S3Storage({ client, bucket: BUCKET, prefix, etagForm: 'unquoted', callTimeoutMs: CALL_MS });
}

beforeAll(() => rgw('start'), 180_000);
afterAll(() => {
  thaw();
  rgw('stop');
}, 120_000);

describe('S3 driver while the store is frozen', () => {
  it('every call that answers at once fails with StoreUnavailable; writes land whole or not at all; the same instance works after', async () => {
    const s = storage(randomPrefix('hang'));
    await s.put('existing', 'v1');
    const { etag } = await s.head('existing');
    const uploadId = await s.createMultipart('multi');
    freeze();
    try {
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['get', () => s.get('existing')],
        ['getIfChanged', () => s.getIfChanged('existing', 'stale')],
        ['head', () => s.head('existing')],
        ['getStream', () => s.getStream('existing')],
        ['list', () => s.list('')],
        ['put', () => s.put('fresh', 'whole body')],
        ['put create-only', () => s.put('created', 'created body', { ifNoneMatch: '*' })],
        ['put swap', () => s.put('existing', 'v2', { ifMatch: etag })],
        ['delete', () => s.delete('doomed')],
        ['createMultipart', () => s.createMultipart('other')],
        ['listParts', () => s.listParts('multi', uploadId)],
      ];
      const outcomes = await within(
        DEADLINE_MS * 2,
        'the calls',
        Promise.all(
          calls.map(([name, call]) =>
            call().then(
              () => `${name}: answered`,
              (e: unknown) => [name, e] as const,
            ),
          ),
        ),
      );
      for (const outcome of outcomes) {
        expect(typeof outcome === 'string' ? outcome : outcome[1]).toBeInstanceOf(StoreUnavailableError);
        expect(((outcome as readonly [string, Error])[1] as Error).message).toMatch(/The store did not answer in time/);
      }
    } finally {
      thaw();
    }
    // The frozen store may still carry out what it had received: each write is whole or absent.
    await expect(within(DEADLINE_MS, 'get after thaw', s.get('existing'))).resolves.toSatisfy((o: { body: Buffer }) =>
      ['v1', 'v2'].includes(o.body.toString()),
    );
    for (const [key, body] of [
      ['fresh', 'whole body'],
      ['created', 'created body'],
    ]) {
      const got = await s.get(key).then(
        (o) => o.body.toString(),
        (e: unknown) => (e instanceof NotFoundError ? 'absent' : Promise.reject(e)),
      );
      expect(['absent', body]).toContain(got);
    }
    await s.put('after', 'works');
    expect((await s.get('after')).body.toString()).toBe('works');
  }, 60_000);

  it('a streamed body that stops flowing fails within the idle timeout instead of hanging', async () => {
    const s = storage(randomPrefix('hang-stream'));
    const bytes = randomBytes(32 * 1024 * 1024);
    await s.put('big', bytes);
    const { stream } = await s.getStream('big');
    let received = 0;
    const drained = (async () => {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        received += chunk.length;
        if (!frozen && received > 0) freeze();
        await new Promise((r) => setTimeout(r, 1)); // a slow reader, so the rest is still in the store
      }
    })();
    try {
      await expect(within(DEADLINE_MS * 2, 'the stalled stream', drained)).rejects.toThrow(/timed out|aborted|socket/i);
    } finally {
      thaw();
    }
    expect(received).toBeLessThan(bytes.length);
    expect((await s.head('big')).size).toBe(bytes.length);
  }, 60_000);
});

describe('production server while its store is frozen for 10 s', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({
      env: {
        REGISTRY_STORAGE: `s3://${BUCKET}/${randomPrefix('hang-server')}`,
        REGISTRY_S3_ENDPOINT: ENDPOINT,
        REGISTRY_S3_FORCE_PATH_STYLE: 'true',
        REGISTRY_S3_TIMEOUT_MS: String(CALL_MS),
        REGISTRY_S3_IDLE_TIMEOUT_MS: String(IDLE_MS),
        AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      },
      flags: ['--schedules', 'off'],
    });
  }, 120_000);
  afterAll(async () => {
    thaw();
    await server?.stop();
  });

  const get = async (p: string) => {
    const res = await fetch(`${server.url}${p}`, {
      headers: { accept: 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4' },
    });
    return { status: res.status, text: await res.text() };
  };

  it('/health and /repo answer 503 while the store is still frozen, writes are refused cleanly, and all answer 200 once it is back', async () => {
    expect((await get('/health')).status).toBe(200);
    expect((await get('/repo')).status).toBe(200);
    freeze();
    const answeredWhileFrozen: string[] = [];
    let results: Array<{ status: number; text: string }>;
    try {
      const asks = ['/health', '/repo'].map((p) =>
        get(p).then((r) => {
          if (frozen) answeredWhileFrozen.push(p);
          return r;
        }),
      );
      const write = fetch(`${server.url}/gc`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKEN}` } }).then(async (r) => {
        if (frozen) answeredWhileFrozen.push('/gc');
        return { status: r.status, text: await r.text() };
      });
      // The store stays frozen for 10 s (the scenario), far past the configured timeouts.
      const tenSeconds = new Promise((r) => setTimeout(r, 10_000));
      results = await Promise.all([...asks, write]);
      await tenSeconds;
    } finally {
      thaw();
    }
    expect(answeredWhileFrozen.sort()).toEqual(['/gc', '/health', '/repo']);
    expect(results[0].status).toBe(503);
    expect(results[0].text).toMatch(/Unhealthy/);
    expect(results[1].status).toBe(503);
    expect(JSON.parse(results[1].text)).toMatchObject({ type: 'StoreUnavailable' });
    expect(results[2].status).toBe(503);
    // Back by itself: no restart, no stuck connection.
    expect((await within(DEADLINE_MS, '/health after thaw', get('/health'))).status).toBe(200);
    expect((await within(DEADLINE_MS, '/repo after thaw', get('/repo'))).status).toBe(200);
  }, 90_000);
});

describe('schedules', () => {
  it('a run that never ends does not stop the next ones', async () => {
    let calls = 0;
    let release!: () => void;
    const hung = new Promise<void>((r) => (release = r));
    const fn: ScheduledFunction = {
      schedule: 'rate(1 minute)',
      handler: async () => {
        calls++;
        if (calls === 1) await hung; // as a run stuck on a store that never answers
        return { ok: true };
      },
    };
    const scheduler = startSchedules(
      true,
      { hangsFirst: fn },
      () => 0,
      () => 50,
    );
    try {
      for (let i = 0; i < 400 && calls < 3; i++) await new Promise((r) => setTimeout(r, 25));
      expect(calls).toBeGreaterThanOrEqual(3);
    } finally {
      release();
      await scheduler.stop();
    }
  });
});
