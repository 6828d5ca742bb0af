import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportBundle } from '../../lib/airgap/export';
import { repoEntry } from '../../lib/airgap/export';
import { openBundle } from '../../lib/bundle';
import { addBundle, describePackage } from '../../lib/client';
import { startServer, type ServerProcess } from '../server/harness';
import { TEST_TOKEN } from '../support/offline';
import { fileStore, s3Store, type TestStore } from '../support/stores';
import { writeFixtureBundle } from './fixtures';

const fast = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };
let dir: string;
let stores: TestStore[] = [];
let servers: ServerProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airgap-export-'));
  stores = [await fileStore(), await s3Store()];
  servers = await Promise.all(stores.map((s) => startServer({ env: s.env })));
}, 120_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await Promise.all(stores.map((s) => s.cleanup()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('export from a production server on local storage, add on one on Ceph RGW', () => {
  it('rebuilds the bundle that was added byte for byte, and another registry accepts it with the same /repo entry', async () => {
    const [local, rgw] = servers;
    const { path: original } = await writeFixtureBundle(dir, 'hello', '1.2.3');
    await addBundle(original, { url: local!.url, token: TEST_TOKEN, retry: fast, pollIntervalMs: 20 });

    const out = await mkdtemp(join(dir, 'out-'));
    const result = await exportBundle({ url: local!.url, name: 'hello', version: '1.2.3', outputDirectory: out, retry: fast });
    expect(result.path).toBe(join(out, 'hello-1.2.3.dcos'));
    expect(result.notes).toEqual([]);
    expect(result.identical).toBe(true);
    expect((await readFile(result.path)).equals(await readFile(original))).toBe(true);
    const opened = await openBundle(result.path);
    await opened.verify();
    opened.close();

    const added = await addBundle(result.path, { url: rgw!.url, token: TEST_TOKEN, retry: fast, pollIntervalMs: 20 });
    expect(added).toMatchObject({ name: 'hello', version: '1.2.3', status: 'Added' });
    const [a, b] = await Promise.all(servers.map((s) => describePackage({ url: s.url }, 'hello', '1.2.3')));
    expect(b!.contentDigest).toBe(a!.contentDigest);
    expect(b!.resources).toEqual(a!.resources);
    expect(b!.images).toEqual(a!.images);
    // The served entries differ only in the registry's own host.
    const [ea, eb] = await Promise.all(servers.map((s) => repoEntry({ url: s.url }, 'hello', '1.2.3')));
    expect(JSON.stringify(eb).replaceAll(new URL(rgw!.url).host, 'HOST')).toBe(
      JSON.stringify(ea).replaceAll(new URL(local!.url).host, 'HOST'),
    );
  }, 120_000);

  it('refuses to overwrite an existing file and names an unknown version clearly', async () => {
    const out = await mkdtemp(join(dir, 'out-'));
    await exportBundle({ url: servers[0]!.url, name: 'hello', version: '1.2.3', outputDirectory: out, retry: fast });
    await expect(
      exportBundle({ url: servers[0]!.url, name: 'hello', version: '1.2.3', outputDirectory: out, retry: fast }),
    ).rejects.toThrow(/already exists/);
    await expect(
      exportBundle({ url: servers[0]!.url, name: 'hello', version: '9.9.9', outputDirectory: out, retry: fast }),
    ).rejects.toThrow(/9\.9\.9/);
  }, 60_000);
});
