/**
 * `mirror` on real parts: a Universe repository index generated from the project's package
 * fixtures (test/fixtures/universe, each made buildable offline by test/e2e/universe.ts) and
 * served over HTTP (and read from a local file), assets from a local HTTP server, images from a
 * real docker-registry (Debian's distribution, filled by skopeo), and the mirrored bundles added
 * to a production server on local storage. The real Universe packages run through the same path
 * when UNIVERSE_REFERENCE_DIR is set.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recoverPackage, repoEntry } from '../../lib/airgap/export';
import { COSMOS_REPO_ACCEPT } from '../../lib/airgap/http';
import { mirrorRepository, type MirrorItem, type MirrorOptions } from '../../lib/airgap/mirror';
import { openBundle } from '../../lib/bundle';
import { buildBundle, migrateToFile } from '../../lib/builder';
import { addBundle, describePackage } from '../../lib/client';
import { canonicalJson, contentDigest } from '../../lib/uploads/manifest';
import { assemblePackageDirectory, migratePackageDirectory } from '../../lib/universe/package-dir';
import { makeOciImage, pushWithSkopeo, type TestImageLayout } from '../docker/make-image';
import { startRegistry, type RegistryProcess } from '../docker/registry-process';
import { onlyJson, runCli } from '../cli/run-cli';
import { mapLimit } from '../e2e/run';
import { startAssetServer, type AssetServer } from '../e2e/servers';
import { preparePackage, type PreparedPackage } from '../e2e/universe';
import { startServer, type ServerProcess } from '../server/harness';
import { TEST_TOKEN } from '../support/offline';
import { packageDirectories, REFERENCE_DIR, REFERENCE_TITLE, referencePackageDirectories, referenceSkipped } from '../support/reference';
import { fileStore, type TestStore } from '../support/stores';

referenceSkipped('test/airgap/mirror.test.ts (mirror of an index of the real packages)');

const fast = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };
let work: string;
let assets: AssetServer;
let docker: RegistryProcess;
let image: TestImageLayout;
let store: TestStore;
let server: ServerProcess;
let fixtures: PreparedPackage[];
const pushed = new Set<string>();

interface IndexServer {
  url: string;
  accepts: string[];
  close(): Promise<void>;
}

/** Serves one repository index document as a Universe server does, recording each request's Accept header. */
async function serveIndex(body: unknown): Promise<IndexServer> {
  const accepts: string[] = [];
  const server: Server = createServer((req, res) => {
    accepts.push(String(req.headers.accept));
    if (req.url !== '/repo') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/repo`,
    accepts,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

async function pushImages(prepared: PreparedPackage[]) {
  await mapLimit(
    prepared.flatMap((p) => Object.values(p.images)),
    4,
    async (i) => {
      const key = `${i.repository}:${i.tag}`;
      if (pushed.has(key)) return;
      pushed.add(key);
      await pushWithSkopeo(image, `${docker.host}/${key}`);
    },
  );
}

/** The index entries of prepared package directories, as a Universe repository lists them. */
async function indexEntries(prepared: PreparedPackage[]) {
  return Promise.all(prepared.map(async (p, i) => ({ ...(await assemblePackageDirectory(p.dir)), releaseVersion: i })));
}

const byCoordinates = (items: MirrorItem[]) => Object.fromEntries(items.map((i) => [`${i.name}@${i.version}`, i]));

let index: IndexServer;
let entries: Array<Record<string, unknown>>;
const hostile = [
  {
    packagingVersion: '4.0',
    name: 'sneaky',
    version: '1.0.0',
    maintainer: 'x@example.com',
    description: 'reads a local file',
    tags: [],
    releaseVersion: 90,
    resource: { assets: { uris: { passwd: 'file:///etc/passwd' } } },
  },
  {
    packagingVersion: '4.0',
    name: '../../evil',
    version: '1.0.0',
    maintainer: 'x@example.com',
    description: 'escapes',
    tags: [],
    releaseVersion: 91,
  },
];

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'airgap-mirror-'));
  [assets, docker] = await Promise.all([startAssetServer(), startRegistry()]);
  image = makeOciImage(path.join(work, 'image'), { tag: 'v1', layerSizes: [1500, 20_000] });
  fixtures = await Promise.all(
    packageDirectories().map((p) => preparePackage(p.dir, path.join(work, 'universe', `${p.name}-${p.revision}`), assets, docker.host)),
  );
  await pushImages(fixtures);
  entries = [...(await indexEntries(fixtures)), ...hostile];
  index = await serveIndex({ packages: entries });
  store = await fileStore();
  server = await startServer({ env: store.env });
}, 240_000);

afterAll(async () => {
  await server?.stop();
  await store?.cleanup();
  await index?.close();
  await assets?.close();
  await docker?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const fixture = (name: string, version: string) => fixtures.find((p) => p.name === name && p.version === version)!;

describe('dcos-registry mirror of a Universe repository index', () => {
  let out: string;
  let first: Awaited<ReturnType<typeof mirrorRepository>>;
  const options = (): MirrorOptions => ({ repoUrl: index.url, outputDirectory: out, retry: fast });

  it('over HTTP: every package at its newest version becomes a definition and a bundle; bad entries are reported while the rest mirror', async () => {
    out = path.join(work, 'out-http');
    first = await mirrorRepository(options());
    expect(index.accepts).toEqual([COSMOS_REPO_ACCEPT]);
    const items = byCoordinates(first.items);
    expect(Object.keys(items)).toEqual([
      '../../evil@1.0.0',
      'clockwork@0.3-rc1',
      'greeter@2.1.0-0.4.1',
      'ledger@3.0.0-beta.1',
      'notebook@1.2.0',
      'pinger@1.0.0',
      'sneaky@1.0.0',
    ]);
    for (const ok of ['greeter@2.1.0-0.4.1', 'ledger@3.0.0-beta.1', 'pinger@1.0.0']) expect(items[ok]!.outcome, ok).toBe('written');
    expect(items['clockwork@0.3-rc1']).toMatchObject({
      outcome: 'failed',
      detail: expect.stringMatching(/packagingVersion 2\.0 is not supported.*--upgrade/),
    });
    expect(items['notebook@1.2.0']).toMatchObject({ outcome: 'failed', detail: expect.stringMatching(/local file .*refused/) });
    expect(items['sneaky@1.0.0']).toMatchObject({
      outcome: 'failed',
      detail: expect.stringContaining('"file:///etc/passwd" is a local file'),
    });
    expect(items['../../evil@1.0.0']).toMatchObject({ outcome: 'failed', detail: expect.stringMatching(/Invalid package name/) });
    expect(first.complete).toBe(false);
    // Only the mirrored versions are on disk: no definition or bundle of a refused entry, no staging left.
    expect((await readdir(out)).sort()).toEqual(
      ['greeter-2.1.0-0.4.1', 'ledger-3.0.0-beta.1', 'pinger-1.0.0'].flatMap((b) => [`${b}.dcos`, `${b}.json`]).sort(),
    );
    expect((await readdir(work)).filter((f) => f.includes('evil'))).toEqual([]);
  }, 240_000);

  it('the mirrored bundles add into a registry and its /repo serves the index entries (URLs rewritten, undone here: equal)', async () => {
    for (const item of first.items.filter((i) => i.outcome === 'written')) {
      await addBundle(item.path!, { url: server.url, token: TEST_TOKEN, retry: fast, pollIntervalMs: 20 });
      const served = await repoEntry({ url: server.url }, item.name, item.version);
      const described = (await describePackage({ url: server.url }, item.name, item.version)) as never;
      const { pkg } = recoverPackage(served, described);
      const { releaseVersion: _r, ...original } = entries.find((e) => e.name === item.name && e.version === item.version)!;
      expect(canonicalJson(pkg), item.name).toBe(canonicalJson(original));
      // And the bundle is the one migrate + build make from the package directory.
      const p = fixture(item.name, item.version);
      const ref = path.join(work, 'ref', item.name);
      await mkdir(ref, { recursive: true });
      const { path: definitionFile } = await migrateToFile({ packageDirectory: p.dir, outputDirectory: ref });
      const built = await buildBundle({ definitionFile, outputDirectory: ref, retry: fast });
      const mirrored = await openBundle(item.path!);
      expect(contentDigest(mirrored.manifest), item.name).toBe(contentDigest(built.manifest));
      mirrored.close();
    }
  }, 240_000);

  it('a second run skips the complete bundles and builds only what is missing', async () => {
    const before = new Map<string, number>();
    for (const f of await readdir(out)) before.set(f, (await stat(path.join(out, f))).mtimeMs);
    await rm(path.join(out, 'pinger-1.0.0.dcos'));
    const again = await mirrorRepository(options());
    const items = byCoordinates(again.items);
    expect(items['greeter@2.1.0-0.4.1']!.outcome).toBe('present');
    expect(items['ledger@3.0.0-beta.1']!.outcome).toBe('present');
    expect(items['pinger@1.0.0']!.outcome).toBe('written');
    expect(again.items.filter((i) => i.outcome === 'failed').map((i) => i.name)).toEqual(['../../evil', 'clockwork', 'notebook', 'sneaky']);
    for (const f of ['greeter-2.1.0-0.4.1.dcos', 'ledger-3.0.0-beta.1.dcos'])
      expect((await stat(path.join(out, f))).mtimeMs).toBe(before.get(f));
  }, 240_000);

  it('a bundle on disk with other content is never overwritten: reported, the rest mirror', async () => {
    const dir = path.join(work, 'out-conflict');
    await mkdir(dir);
    const { path: impostor } = await (async () => {
      const other = path.join(work, 'other');
      await mkdir(other, { recursive: true });
      const def = path.join(other, 'pinger-1.0.0.json');
      await writeFile(
        def,
        JSON.stringify({ ...hostile[0], name: 'pinger', version: '1.0.0', resource: undefined, releaseVersion: undefined }),
      );
      return buildBundle({ definitionFile: def, outputDirectory: dir });
    })();
    const held = await stat(impostor);
    const run = await mirrorRepository({ ...options(), outputDirectory: dir, packages: ['pinger', 'ledger'] });
    expect(byCoordinates(run.items)['pinger@1.0.0']).toMatchObject({
      outcome: 'failed',
      detail: expect.stringMatching(/exists with another package definition/),
    });
    expect(byCoordinates(run.items)['ledger@3.0.0-beta.1']!.outcome).toBe('written');
    expect((await stat(impostor)).mtimeMs).toBe(held.mtimeMs);
  }, 240_000);

  it('from a local file: a named version, a name at --all-versions, --upgrade for 2.0/3.0, an unknown name reported', async () => {
    const file = path.join(work, 'index.json');
    await writeFile(file, JSON.stringify({ packages: entries }));
    const dir = path.join(work, 'out-file');
    const run = await mirrorRepository({
      repoUrl: file,
      outputDirectory: dir,
      retry: fast,
      upgrade: true,
      allVersions: true,
      packages: ['greeter', 'clockwork@0.3-rc1', 'nosuch'],
    });
    const items = byCoordinates(run.items);
    expect(Object.keys(items)).toEqual(['clockwork@0.3-rc1', 'greeter@0.9.0', 'greeter@2.1.0-0.4.1', 'nosuch@']);
    expect(items['clockwork@0.3-rc1']).toMatchObject({
      outcome: 'written',
      detail: expect.stringContaining('packagingVersion: "2.0" → "4.0"'),
    });
    expect(items['greeter@0.9.0']).toMatchObject({ outcome: 'written', detail: expect.stringContaining('removed "command"') });
    expect(items['greeter@2.1.0-0.4.1']!.outcome).toBe('written');
    expect(items['nosuch@']).toMatchObject({ outcome: 'failed', detail: 'no such package in the repository index' });
    const upgraded = await openBundle(items['greeter@0.9.0']!.path!);
    expect(upgraded.manifest.package).toMatchObject({ packagingVersion: '4.0', name: 'greeter', version: '0.9.0' });
    expect(upgraded.manifest.package).not.toHaveProperty('command');
    upgraded.close();
  }, 240_000);

  it('refuses an index that is not one, and a --repo-url scheme it does not read, before writing anything', async () => {
    const dir = path.join(work, 'out-bad');
    const notIndex = await serveIndex({ hello: 'world' });
    try {
      await expect(mirrorRepository({ repoUrl: notIndex.url, outputDirectory: dir, retry: fast })).rejects.toThrow(/no "packages" array/);
    } finally {
      await notIndex.close();
    }
    await expect(mirrorRepository({ repoUrl: 'ftp://example.com/repo', outputDirectory: dir })).rejects.toThrow(/unsupported scheme ftp/);
    await expect(stat(dir)).rejects.toThrow(/ENOENT/);
  }, 60_000);
});

describe('dcos-registry mirror (the executable)', () => {
  it("prints build's lines and one Failed line per entry that could not be bundled, exits 1; then --json, exit 0, skipping what is on disk", async () => {
    const dir = path.join(work, 'out-cli');
    const bad = await runCli(['mirror', `--repo-url=${index.url}`, '--package=pinger', '--package=clockwork', `--output-directory=${dir}`]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^Failed clockwork 0\.3-rc1: packagingVersion 2\.0 is not supported/m);
    expect(bad.stderr).toContain(`Created DC/OS Universe Package ${path.join(dir, 'pinger-1.0.0.dcos')}`);
    expect(bad.stderr).toMatch(/^Error: mirror incomplete: 1 of 2 package version\(s\) not mirrored \(1 written or already present\)$/m);

    const ok = await runCli([
      'mirror',
      `--repo-url=${index.url}`,
      '--package=pinger',
      '--package=ledger',
      `--output-directory=${dir}`,
      '--json',
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/^Pulled 127\.0\.0\.1:\d+\/example\/ledger:3\.0\.0-beta\.1 \(sha256:[a-f0-9]{64}\)$/m);
    expect(ok.stderr).toContain(`Skipped (already on disk) ${path.join(dir, 'pinger-1.0.0.dcos')}`);
    const body = onlyJson(ok.stdout) as { complete: boolean; items: MirrorItem[] };
    expect(body.complete).toBe(true);
    expect(body.items.map((i) => [i.name, i.outcome, i.path])).toEqual([
      ['ledger', 'written', path.join(dir, 'ledger-3.0.0-beta.1.dcos')],
      ['pinger', 'present', path.join(dir, 'pinger-1.0.0.dcos')],
    ]);
  }, 240_000);

  it('--repo-url and --output-directory are required', async () => {
    const run = await runCli(['mirror', '--output-directory=x']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('mirror: --repo-url is required');
  }, 60_000);
});

describe.skipIf(!REFERENCE_DIR)(`${REFERENCE_TITLE}: mirror of an index of the real Universe packages`, () => {
  it('every real package, every version, mirrors (2.0/3.0 with --upgrade) to the bundle migrate + build make', async () => {
    const real = await mapLimit(referencePackageDirectories(), 4, (p) =>
      preparePackage(p.dir, path.join(work, 'reference', `${p.name}-${p.revision}`), assets, docker.host),
    );
    await pushImages(real);
    const realIndex = await serveIndex({ packages: await indexEntries(real) });
    try {
      const dir = path.join(work, 'out-reference');
      const run = await mirrorRepository({ repoUrl: realIndex.url, outputDirectory: dir, retry: fast, upgrade: true, allVersions: true });
      expect(run.items.filter((i) => i.outcome !== 'written')).toEqual([]);
      expect(run.items).toHaveLength(real.length);
      for (const item of run.items) {
        const p = real.find((r) => r.name === item.name && r.version === item.version)!;
        const { definition } = await migratePackageDirectory(p.dir, { upgrade: true });
        const bundle = await openBundle(item.path!);
        expect(canonicalJson(bundle.manifest.package), item.name).toBe(canonicalJson(definition));
        bundle.close();
      }
    } finally {
      await realIndex.close();
    }
  }, 600_000);
});
