import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncRegistries } from '../../lib/airgap/sync';
import { addBundle, describePackage, listPackages } from '../../lib/client';
import { BIN, runCli } from '../cli/run-cli';
import { startServer, type ServerProcess } from '../server/harness';
import { TEST_TOKEN } from '../support/offline';
import { fileStore, s3Store, type TestStore } from '../support/stores';
import { writeFixtureBundle } from './fixtures';

const fast = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };
let dir: string;
let stores: TestStore[] = [];
let source: ServerProcess;
let target: ServerProcess;

async function seed(url: string, name: string, version: string, content = 'a', options: { sharedJar?: boolean } = {}) {
  const out = await mkdtemp(join(dir, 'seed-'));
  const { path } = await writeFixtureBundle(out, name, version, content, options);
  await addBundle(path, { url, token: TEST_TOKEN, retry: fast, pollIntervalMs: 20 });
}

const versionsOf = async (url: string, name: string) =>
  ((await listPackages({ url })).packages.find((p) => p.name === name)?.versions ?? []).map((v) => v.version).sort();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airgap-sync-'));
  stores = [await fileStore(), await s3Store()];
  [source, target] = await Promise.all(stores.map((s) => startServer({ env: s.env })));
}, 120_000);
afterAll(async () => {
  await Promise.all([source, target].map((s) => s?.stop()));
  await Promise.all(stores.map((s) => s.cleanup()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('dcos-registry sync from a registry on local storage to one on Ceph RGW', () => {
  it('killed after its first version, a re-run skips what is on the target and finishes with equal contents', async () => {
    const versions = ['1.0.0', '1.1.0', '2.0.0', '2.1.0', '3.0.0'];
    for (const v of versions) await seed(source.url, 'hello', v, v);
    const work = await mkdtemp(join(dir, 'work-'));
    const args = ['sync', '--from', source.url, '--to', target.url, '--token', TEST_TOKEN, '--package', 'hello', '--work-directory', work];

    // First run: killed (SIGKILL, no cleanup) as soon as it reports its first synced version.
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (/^Synced hello /m.test(stderr)) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.once('exit', () => reject(new Error(`sync exited before its first version: ${stderr}`)));
    });
    await new Promise((r) => child.once('close', r));
    const afterKill = await versionsOf(target.url, 'hello');
    expect(afterKill.length).toBeGreaterThanOrEqual(1);
    expect(afterKill.length).toBeLessThan(versions.length);

    const rerun = await runCli(args);
    expect(rerun.code, rerun.stderr).toBe(0);
    for (const v of afterKill) expect(rerun.stderr).toContain(`Skipped (already on target) hello ${v}`);
    for (const v of versions.filter((x) => !afterKill.includes(x))) expect(rerun.stderr).toContain(`Synced hello ${v}`);
    expect(rerun.stdout).toContain(`Sync complete: ${versions.length - afterKill.length} added, ${afterKill.length} already present`);
    expect(await versionsOf(target.url, 'hello')).toEqual(versions);
    for (const v of versions) {
      const [a, b] = await Promise.all([source, target].map((s) => describePackage({ url: s.url }, 'hello', v)));
      expect(b!.contentDigest).toBe(a!.contentDigest);
      expect(b!.images).toEqual(a!.images);
    }

    // A third run has nothing to do.
    const again = await runCli([...args, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).items.every((i: { outcome: string }) => i.outcome === 'present')).toBe(true);
  }, 300_000);

  it('reports a version with other content on the target as a conflict, never overwrites it, and --delete removes what the source lacks', async () => {
    await seed(source.url, 'world', '1.0.0', 'source');
    await seed(source.url, 'world', '1.1.0', 'source');
    await seed(target.url, 'world', '1.0.0', 'target');
    await seed(target.url, 'world', '0.9.0', 'target');
    const held = (await describePackage({ url: target.url }, 'world', '1.0.0')).contentDigest;
    const work = await mkdtemp(join(dir, 'work-'));

    const run = await runCli(
      ['sync', '--from', source.url, '--to', target.url, '--package', 'world', '--delete', '--work-directory', work],
      { DCOS_REGISTRY_TOKEN: TEST_TOKEN },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^Conflict world 1\.0\.0: source has sha256:[a-f0-9]{64}, target has sha256:[a-f0-9]{64}$/m);
    expect(run.stderr).toContain('Synced world 1.1.0');
    expect(run.stderr).toContain('Deleted world 0.9.0');
    expect(run.stderr).toMatch(/Error: sync incomplete: 1 version\(s\) not synced \(world 1\.0\.0 conflict\)/);
    expect((await describePackage({ url: target.url }, 'world', '1.0.0')).contentDigest).toBe(held);
    expect(await versionsOf(target.url, 'world')).toEqual(['1.0.0', '1.1.0']);
    // The package filter kept hello out of the deletion (the first test's versions are still there).
    expect((await versionsOf(target.url, 'hello')).length).toBeGreaterThan(0);
  }, 300_000);

  it('sends the target only the blobs it lacks: a second version sharing the jar, icon and layers sends a small part of its bundle', async () => {
    for (const v of ['1.0.0', '2.0.0']) await seed(source.url, 'shared', v, 'same', { sharedJar: true });
    const work = await mkdtemp(join(dir, 'work-'));
    const run = await syncRegistries({
      from: source.url,
      to: target.url,
      token: TEST_TOKEN,
      packages: ['shared'],
      workDirectory: work,
      retry: fast,
      pollIntervalMs: 20,
    });
    expect(run.complete).toBe(true);
    const [first, second] = run.items;
    expect(first).toMatchObject({ name: 'shared', version: '1.0.0', outcome: 'added' });
    expect(second).toMatchObject({ name: 'shared', version: '2.0.0', outcome: 'added' });
    // The first version finds nothing on the target: it sends (nearly) its whole bundle.
    expect(first!.sent!).toBeGreaterThan(first!.bundleBytes! / 2);
    // The second sends only its own layer, manifest and config: under 5% of its bundle.
    expect(second!.bundleBytes!).toBeGreaterThan(30_000);
    expect(second!.sent!).toBeGreaterThan(0);
    expect(second!.sent!).toBeLessThan(second!.bundleBytes! / 20);
    process.stderr.write(
      `sync of shared: 1.0.0 sent ${first!.sent} of ${first!.bundleBytes} bundle bytes, 2.0.0 sent ${second!.sent} of ${second!.bundleBytes}\n`,
    );
    const [a, b] = await Promise.all([source, target].map((s) => describePackage({ url: s.url }, 'shared', '2.0.0')));
    expect(b!.contentDigest).toBe(a!.contentDigest);
  }, 300_000);

  it('refuses a sync without a target token or without --to, before changing anything', async () => {
    const before = await listPackages({ url: target.url });
    const run = await runCli(['sync', '--from', source.url, '--to', target.url, '--delete']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('give --token or DCOS_REGISTRY_TOKEN');
    expect(await listPackages({ url: target.url })).toEqual(before);
    const bad = await runCli(['sync', '--from', source.url]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--to is required');
  }, 60_000);
});
