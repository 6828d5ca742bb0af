/**
 * Issue 13 item 4, end to end: the real `dcos-registry add` process against the production server,
 * killed (SIGKILL) mid-upload of a bundle with a large asset; `describe` then says Uploading, from
 * the instance that ran the upload and from a second server process on the same store; running
 * `add` again resumes the same upload, sends fewer bytes, and `describe` ends at Added. On both
 * drivers (S3 = the shared Ceph RGW).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statePath } from '../../lib/client';
import { writeSample } from '../bundle/helpers';
import { type ServerProcess, startServer } from '../server/harness';
import { TEST_TOKEN } from '../support/offline';
import { drivers, type TestStore } from '../support/stores';
import { testBundle } from '../support/upload';
import { cliOk, onlyJson, spawnCli, uploadIdOf } from './run';
import { startRecordingProxy } from './servers';

const SIGNING_KEY = Buffer.alloc(32, 7).toString('hex'); // the key test/support/stores.ts fileStore() uses
const MiB = 1024 * 1024;

/** "14.7 MB" (add's progress line, lib formatBytes) → bytes, roughly. */
function bytesOf(text: string): number {
  const m = /^([\d.]+) (B|kB|KB|MB|GB)$/.exec(text);
  if (!m) throw new Error(`not a size: ${text}`);
  return Number(m[1]) * { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9 }[m[2] as 'B'];
}

describe.each(drivers)('add killed mid-upload, against two production servers on $name storage', ({ name: driver, make }) => {
  let store: TestStore;
  let a: ServerProcess;
  let b: ServerProcess;
  let work: string;
  beforeAll(async () => {
    store = await make();
    const env = { ...store.env, REGISTRY_SIGNING_KEY: SIGNING_KEY };
    [a, b] = await Promise.all([startServer({ env, flags: ['--schedules', 'off'] }), startServer({ env, flags: ['--schedules', 'off'] })]);
    work = await mkdtemp(path.join(tmpdir(), 'kill-resume-'));
  }, 120_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await store?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const describeOn = async (srv: ServerProcess, name: string) =>
    onlyJson(
      (await cliOk(['describe', `--package-name=${name}`, '--package-version=1.0.0', '--json'], { DCOS_REGISTRY_URL: srv.url })).stdout,
    );

  it('describe says Uploading on both instances after the kill; add again resumes with fewer bytes; describe ends Added', async () => {
    const name = `killed-${driver}`;
    const bundle = path.join(work, `${name}-1.0.0.dcos`);
    const content = testBundle(name, '1.0.0', { 'big.bin': randomBytes(30 * MiB), 'small.bin': randomBytes(1000) });
    await writeSample(bundle, { manifest: content.manifest, blobs: [...content.blobs.values()].map((x) => Buffer.from(x)) });
    const env = { DCOS_REGISTRY_URL: a.url, DCOS_REGISTRY_TOKEN: TEST_TOKEN };

    // Every request goes through a proxy that forwards the first two PUTs (add sends the largest blob
    // first, one part at a time: two 8 MiB parts), then holds the third open: the process is killed mid-upload.
    const proxy = await startRecordingProxy();
    let first: ReturnType<typeof uploadIdOf>;
    try {
      let puts = 0;
      proxy.policy = (r) => (r.method === 'PUT' && ++puts === 3 ? 'stall' : 'forward');
      const run = spawnCli(['add', `--dcos-file=${bundle}`, '--concurrency=1'], { ...env, HTTP_PROXY: proxy.url });
      await proxy.stalled();
      run.child.kill('SIGKILL');
      const killed = await run.done;
      expect(killed.signal).toBe('SIGKILL');
      expect(killed.stdout).toBe('');
      first = uploadIdOf(killed.stderr);
      expect(first).toMatchObject({ resumed: false, toSend: 2, blobs: 2 });
      expect(proxy.requests.filter((r) => r.method === 'PUT').map((r) => r.status ?? r.error)).toEqual([200, 200, undefined]);
    } finally {
      await proxy.close();
    }
    expect(JSON.parse(await readFile(statePath(bundle), 'utf8')).uploadId).toBe(first.id);

    // Both instances see the upload in flight, by name and version.
    for (const srv of [a, b])
      expect(await describeOn(srv, name)).toMatchObject({ name, version: '1.0.0', status: 'Uploading', uploadId: first.id });

    const again = await cliOk(['add', `--dcos-file=${bundle}`], env);
    expect(again.stdout).toBe(`Added packages:\n${name} 1.0.0\n`);
    const second = uploadIdOf(again.stderr);
    expect(second).toMatchObject({ id: first.id, resumed: true });
    expect(bytesOf(second.bytes)).toBeLessThan(bytesOf(first.bytes));
    // Two 8 MiB parts arrived before the kill: the rest of the big blob and the small one are left.
    expect(second.bytes).toBe(`${((30 * MiB - 16 * MiB + 1000) / 1e6).toFixed(1)} MB`);
    expect(existsSync(statePath(bundle))).toBe(false);

    for (const srv of [b, a])
      expect(await describeOn(srv, name)).toMatchObject({ name, version: '1.0.0', status: 'Added', uploadId: first.id });
  }, 240_000);
});
