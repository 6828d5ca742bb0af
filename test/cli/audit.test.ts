/**
 * The audit log read back (issue 13 item 2): `GET /audit` is for writers only and pages through
 * the records; `dcos-registry audit` prints them as who/what/when/instance lines. Against the
 * production server (its esbuild bundle under node) over the filesystem driver; the writes are a
 * real upload (start, complete, with the operations handing name/version/upload id to the audit
 * middleware) and garbage collections by a second token.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServerProcess, startServer } from '../server/harness';
import { TEST_TOKEN } from '../support/offline';
import { fileStore, type TestStore } from '../support/stores';
import { addBundle, testBundle } from '../support/upload';
import { onlyJson, runCli } from './run-cli';

const SIGNING_KEY = Buffer.alloc(32, 7).toString('hex'); // the key test/support/stores.ts fileStore() uses
const SECOND_TOKEN = 'second-writer-token-0123';
const GCS = 5;

let store: TestStore;
let srv: ServerProcess;
beforeAll(async () => {
  store = await fileStore();
  srv = await startServer({
    env: { ...store.env, REGISTRY_SIGNING_KEY: SIGNING_KEY, REGISTRY_WRITE_TOKENS: `${TEST_TOKEN},${SECOND_TOKEN}` },
  });
  const added = await addBundle(srv.url, testBundle('audited', '1.0.0', { 'a.bin': randomBytes(3000) }));
  expect(added.json).toMatchObject({ name: 'audited', version: '1.0.0', status: 'Added' });
  for (let i = 0; i < GCS; i++) {
    const gc = await fetch(`${srv.url}/gc`, { method: 'POST', headers: { authorization: `Bearer ${SECOND_TOKEN}` } });
    expect(gc.status).toBe(200);
  }
}, 120_000);
afterAll(async () => {
  await srv?.stop();
  await store?.cleanup();
});

const get = async (path: string, token?: string) => {
  const res = await fetch(`${srv.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, json: (await res.json()) as any };
};

describe('GET /audit', () => {
  it('refuses anonymous readers (401) and bad pages (400)', async () => {
    expect(await get('/audit')).toMatchObject({ status: 401, json: { type: 'Unauthorized' } });
    expect((await get('/audit', 'not-a-writer-token')).status).toBe(401);
    for (const q of ['limit=0', 'limit=1001', 'limit=2.5', 'limit=-1', 'after=../catalog/log/x', 'after=audit/x']) {
      expect(await get(`/audit?${q}`, TEST_TOKEN), q).toMatchObject({ status: 400, json: { type: 'BadRequest' } });
    }
  });

  it('a writer pages through every record, oldest first, with what the operations handed the middleware', async () => {
    const seen: any[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await get(`/audit?limit=2${after ? `&after=${encodeURIComponent(after)}` : ''}`, TEST_TOKEN);
      expect(page.status).toBe(200);
      expect(page.json.entries.length).toBeLessThanOrEqual(2);
      seen.push(...page.json.entries);
      after = page.json.next;
      pages++;
    } while (after !== undefined);
    // start + complete (its Processing polls are not writes) + the collections.
    expect(seen).toHaveLength(2 + GCS);
    expect(pages).toBe(Math.ceil((2 + GCS) / 2));
    expect(seen.map((e) => e.key)).toEqual([...seen.map((e) => e.key)].sort());
    expect(seen.map((e) => e.action)).toEqual(['startUpload', 'completeUpload', ...Array(GCS).fill('collectGarbage')]);
    const [start, complete] = seen;
    expect(start).toMatchObject({ subject: 'token#1', name: 'audited', version: '1.0.0', outcome: 'ok' });
    expect(start.uploadId).toMatch(/^[0-9a-z]{26}$/);
    expect(complete).toMatchObject({ subject: 'token#1', name: 'audited', version: '1.0.0', uploadId: start.uploadId, outcome: 'ok' });
    for (const gc of seen.slice(2)) {
      expect(gc).toMatchObject({ subject: 'token#2', outcome: 'ok' });
      expect(gc.name).toBeUndefined();
    }
    for (const e of seen) expect(e.instance).toMatch(/^.+\/\d+\/[a-f0-9]{8}$/);
    // One page holds at most `limit`; the default page holds them all here.
    expect((await get('/audit', TEST_TOKEN)).json.entries).toHaveLength(2 + GCS);
  });
});

describe('dcos-registry audit', () => {
  const env = () => ({ DCOS_REGISTRY_URL: srv.url, DCOS_REGISTRY_TOKEN: TEST_TOKEN });

  it('prints one who/what/when/instance line per record, and says how to read on', async () => {
    const all = (await get('/audit', TEST_TOKEN)).json.entries as any[];
    const first = await runCli(['audit', '--limit', '3'], env());
    expect(first.code).toBe(0);
    const lines = first.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const e = all[0];
    expect(lines[0]).toBe(`${e.at} token#1 startUpload audited 1.0.0 upload=${e.uploadId} instance=${e.instance}`);
    expect(lines[2]).toBe(`${all[2].at} token#2 collectGarbage instance=${all[2].instance}`);
    expect(first.stderr).toBe(`More records: run again with --after=${all[2].key}\n`);

    const rest = await runCli(['registry', 'audit', `--after=${all[2].key}`], env());
    expect(rest).toMatchObject({ code: 0, stderr: '' });
    expect(rest.stdout.trimEnd().split('\n')).toHaveLength(all.length - 3);

    const json = await runCli(['audit', '--json', '--limit=1'], env());
    expect(onlyJson(json.stdout)).toEqual({ entries: [all[0]], next: all[0].key });
  });

  it('needs a write token, refuses a bad --limit, and shows the registry’s refusal', async () => {
    const noToken = await runCli(['audit'], { DCOS_REGISTRY_URL: srv.url });
    expect(noToken).toMatchObject({ code: 1, stdout: '' });
    expect(noToken.stderr).toMatch(/^Error: a write token is required/);
    expect(await runCli(['audit', '--limit=0'], env())).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Error: audit: --limit must be an integer from 1 to 1000\n',
    });
    const refused = await runCli(['audit'], { DCOS_REGISTRY_URL: srv.url, DCOS_REGISTRY_TOKEN: 'not-a-writer-token' });
    expect(refused).toEqual({ code: 1, stdout: '', stderr: 'Error: A valid bearer token is required for this operation\n' });
  });
});
