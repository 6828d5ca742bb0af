/**
 * End to end: the real `dcos-registry` executable against the real registry (`serverless offline`)
 * on both storage drivers (S3 = Ceph RGW), with assets from a local HTTP server and Docker images
 * from a private docker-registry. Covers migrate → build → add → describe → /repo → resource
 * downloads → remove, the Universe package fixtures (and the real packages when
 * UNIVERSE_REFERENCE_DIR names them), re-adds and resumed adds, and hostile bundles
 * refused by the CLI (before any request) and by the registry.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statePath } from '../../lib/client';
import { makeOciImage, pushWithSkopeo, type TestImageLayout } from '../docker/make-image';
import { startRegistry, type RegistryProcess } from '../docker/registry-process';
import { startServer } from '../server/harness';
import { startOffline, TEST_TOKEN } from '../support/offline';
import { packageDirectories, REFERENCE_DIR, REFERENCE_TITLE, referencePackageDirectories, referenceSkipped } from '../support/reference';
import { drivers, type TestStore } from '../support/stores';
import { api } from '../support/upload';
import { hostileBundleCases, registryHostileCases } from './hostile';
import { cli, cliOk, mapLimit, onlyJson, spawnCli, uploadIdOf } from './run';
import { startAssetServer, startRecordingProxy, type AssetServer } from './servers';
import { assetLocations, originalBytes, preparePackage, servedUrls, type PreparedPackage } from './universe';

referenceSkipped('test/e2e/cli.test.ts (the CLI on every real package directory)');

const COSMOS_ACCEPT = [
  'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5',
  'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4',
  'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v3',
].join(',');

const MANIFEST_ACCEPT = 'application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let assets: AssetServer;
let docker: RegistryProcess;
let work: string;
let image: TestImageLayout;
/** Manifest digest the private docker-registry serves for each "repository:tag" we pushed. */
const pushed = new Map<string, string>();
let universe: PreparedPackage[];
/** The real packages (UNIVERSE_REFERENCE_DIR), prepared the same way; empty when it is unset. */
let reference: PreparedPackage[] = [];

async function pushImage(repository: string, tag: string): Promise<void> {
  const key = `${repository}:${tag}`;
  if (pushed.has(key)) return;
  pushed.set(key, '');
  await pushWithSkopeo(image, `${docker.host}/${key}`);
  const res = await fetch(`http://${docker.host}/v2/${repository}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: MANIFEST_ACCEPT },
  });
  pushed.set(key, res.headers.get('docker-content-digest') ?? '');
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'e2e-cli-'));
  [assets, docker] = await Promise.all([startAssetServer(), startRegistry()]);
  image = makeOciImage(path.join(work, 'image'), { tag: 'v1', layerSizes: [1500, 20_000] });
  await pushImage('e2e/app', 'v1');
  // Universe packages: 4.0/5.0 as they are, 2.0/3.0 through migrate --upgrade.
  universe = await mapLimit(packageDirectories(), 4, (p) =>
    preparePackage(p.dir, path.join(work, 'universe', `${p.name}-${p.revision}`), assets, docker.host),
  );
  if (REFERENCE_DIR) {
    reference = await mapLimit(referencePackageDirectories(), 4, (p) =>
      preparePackage(p.dir, path.join(work, 'reference', `${p.name}-${p.revision}`), assets, docker.host),
    );
  }
  await mapLimit(
    [...universe, ...reference].flatMap((p) => Object.values(p.images)),
    4,
    (i) => pushImage(i.repository, i.tag),
  );
}, 240_000);

afterAll(async () => {
  await assets?.close();
  await docker?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

// Every driver through serverless offline, and the production server on S3 (its on-prem mode).
const setups = [
  ...drivers.map((d) => ({
    ...d,
    host: 'serverless offline',
    dir: d.name,
    start: (e: Record<string, string>) => startOffline(e, 180_000),
  })),
  ...drivers
    .filter((d) => d.name === 's3')
    .map((d) => ({
      ...d,
      host: 'the production server',
      dir: `${d.name}-server`,
      start: (e: Record<string, string>) => startServer({ env: e, flags: ['--schedules', 'off'] }),
    })),
];

describe.each(setups)('dcos-registry CLI against $host on $name storage', ({ name: driver, make, start, dir }) => {
  let store: TestStore;
  let reg: { url: string; stop(): Promise<void> };
  let out: string;
  /** The CLI's registry settings, from the environment (flags are tested once below). */
  let env: Record<string, string>;

  beforeAll(async () => {
    store = await make();
    reg = await start(store.env);
    env = { DCOS_REGISTRY_URL: reg.url, DCOS_REGISTRY_TOKEN: TEST_TOKEN };
    out = path.join(work, dir);
    await mkdir(out, { recursive: true });
  }, 240_000);
  afterAll(async () => {
    await reg?.stop();
    await store?.cleanup();
  });

  async function repoIndex(): Promise<any> {
    const res = await fetch(`${reg.url}/repo`, { headers: { accept: COSMOS_ACCEPT, 'user-agent': 'cosmos/0.6.0 dcos/2.2.0' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/vnd\.dcos\.universe\.repo\+json;charset=utf-8;version=v[345]$/);
    return res.json();
  }

  /** Every served URL points at /resource/ of this registry and gives back exactly the original bytes. */
  async function checkResources(resource: any, originals: (url: string) => Buffer, originalResource: any): Promise<number> {
    const served = servedUrls(resource);
    const before = new Map(assetLocations(originalResource));
    expect(served.map(([p]) => p).sort()).toEqual([...before.keys()].sort());
    for (const [at, url] of served) {
      expect(url, at).toMatch(new RegExp(`^${reg.url}/resource/[a-f0-9]{64}/[^/]+$`));
      const res = await fetch(url); // follows the redirect to the signed store URL
      expect(res.status, at).toBe(200);
      expect(Number(res.headers.get('content-length')), at).toBeGreaterThan(0);
      const bytes = Buffer.from(await res.arrayBuffer());
      const original = originals(before.get(at)!);
      expect(bytes.length, at).toBe(original.length);
      expect(Number(res.headers.get('content-length')), at).toBe(original.length);
      expect(sha256(bytes), at).toBe(sha256(original));
      expect(url.split('/')[4], at).toBe(sha256(original));
    }
    return served.length;
  }

  /**
   * Every served image reference is <registry host>/<repository>@<digest of what the source registry
   * serves>, and the registry's own /v2 gives back that manifest and every blob it names, byte for byte.
   */
  async function checkImages(resource: any, images: PreparedPackage['images']): Promise<void> {
    const dockerHost = new URL(reg.url).host;
    const served = resource?.assets?.container?.docker ?? {};
    expect(Object.keys(served).sort()).toEqual(Object.keys(images).sort());
    for (const [key, img] of Object.entries(images)) {
      const digest = pushed.get(`${img.repository}:${img.tag}`)!;
      expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
      expect(served[key], key).toBe(`${dockerHost}/${img.repository}@${digest}`);
      const manifest = await fetch(`${reg.url}/v2/${img.repository}/manifests/${digest}`, { headers: { accept: MANIFEST_ACCEPT } });
      expect(manifest.status, key).toBe(200);
      const bytes = Buffer.from(await manifest.arrayBuffer());
      expect(`sha256:${sha256(bytes)}`, key).toBe(digest);
      const parsed = JSON.parse(bytes.toString('utf8'));
      for (const blob of [parsed.config, ...parsed.layers]) {
        const res = await fetch(`${reg.url}/v2/${img.repository}/blobs/${blob.digest}`);
        expect(res.status, `${key} ${blob.digest}`).toBe(200);
        const got = Buffer.from(await res.arrayBuffer());
        expect(got.length).toBe(blob.size);
        expect(`sha256:${sha256(got)}`).toBe(blob.digest);
      }
    }
  }

  it('migrate → build → add → describe → /repo → resources → remove, with --json', async () => {
    const name = `e2e-${driver}-app`;
    const dir = path.join(out, 'app-pkg');
    await mkdir(dir);
    const uris = { tarball: `${assets.url}/gen/app/app-1.0.tgz`, config: `${assets.url}/gen/app/conf/settings.json` };
    const resource = {
      assets: { uris, container: { docker: { app: `${docker.host}/e2e/app:v1` } } },
      images: { 'icon-small': `${assets.url}/gen/app/icon-small.png`, screenshots: [`${assets.url}/gen/app/shot.png`] },
      cli: {
        binaries: {
          linux: {
            'x86-64': {
              kind: 'executable',
              url: `${assets.url}/gen/app/cli-linux`,
              contentHash: [{ algo: 'sha256', value: sha256(assets.bytesOf(`${assets.url}/gen/app/cli-linux`)) }],
            },
          },
        },
      },
    };
    const pkg = {
      packagingVersion: '4.0',
      name,
      version: '1.2.3',
      maintainer: 'e2e@example.com',
      description: 'e2e app',
      tags: ['e2e'],
      selected: true,
    };
    await writeFile(path.join(dir, 'package.json'), JSON.stringify(pkg));
    await writeFile(
      path.join(dir, 'marathon.json.mustache'),
      '{"id":"{{service.name}}","fetch":[{"uri":"{{resource.assets.uris.tarball}}"}]}',
    );
    await writeFile(
      path.join(dir, 'config.json'),
      JSON.stringify({
        type: 'object',
        properties: { service: { type: 'object', properties: { name: { type: 'string', default: name } } } },
      }),
    );
    await writeFile(path.join(dir, 'resource.json'), JSON.stringify(resource));

    const migrated = onlyJson(
      (await cliOk(['registry', 'migrate', `--package-directory=${dir}`, `--output-directory=${out}`, '--json'])).stdout,
    );
    expect(migrated).toEqual({ name: path.join(out, `${name}-1.2.3.json`) });
    const definition = JSON.parse(await readFile(migrated.name as string, 'utf8'));
    expect(definition.selected).toBeUndefined();

    const built = await cliOk(['build', `--build-definition-file=${migrated.name}`, `--output-directory=${out}`, '--json']);
    const bundle = onlyJson(built.stdout).name as string;
    expect(bundle).toBe(path.join(out, `${name}-1.2.3.dcos`));
    expect(built.stderr).toContain(`Pulled ${docker.host}/e2e/app:v1 (${pushed.get('e2e/app:v1')})`);

    // --url/--token flags instead of the environment.
    const added = await cliOk(['add', `--dcos-file=${bundle}`, `--url=${reg.url}`, `--token=${TEST_TOKEN}`, '--json']);
    expect(onlyJson(added.stdout)).toEqual({ packages: [{ name, version: '1.2.3', status: 'Added' }] });
    expect(existsSync(statePath(bundle))).toBe(false);

    const described = onlyJson(
      (await cliOk(['describe', `--package-name=${name}`, '--package-version=1.2.3', '--json'], env)).stdout,
    ) as any;
    expect(described).toMatchObject({ name, version: '1.2.3', status: 'Added', releaseVersion: 0 });
    expect(described.resources).toHaveLength(5);
    expect(described.images).toEqual([
      expect.objectContaining({ reference: `${docker.host}/e2e/app:v1`, repository: 'e2e/app', manifestDigest: pushed.get('e2e/app:v1') }),
    ]);

    const listed = onlyJson((await cliOk(['list', '--json'], env)).stdout) as any;
    expect(listed.packages).toContainEqual({ name, versions: [{ version: '1.2.3', status: 'Added', releaseVersion: 0 }] });
    const listedText = await cliOk(['list'], env);
    expect(listedText.stdout.split('\n')).toContain(`${name} 1.2.3 Added 0`);

    const entry = (await repoIndex()).packages.find((p: any) => p.name === name);
    expect(entry).toMatchObject({ name, version: '1.2.3', releaseVersion: 0, selected: false, packagingVersion: '4.0' });
    expect(entry.marathon).toEqual(definition.marathon);
    expect(entry.config).toEqual(definition.config);
    expect(await checkResources(entry.resource, (u) => assets.bytesOf(u), resource)).toBe(5);
    await checkImages(entry.resource, { app: { reference: resource.assets.container.docker.app, repository: 'e2e/app', tag: 'v1' } });
    // The served CLI binary keeps its (correct) contentHash.
    expect(entry.resource.cli.binaries.linux['x86-64'].contentHash).toEqual(resource.cli.binaries.linux['x86-64'].contentHash);

    const removed = await cliOk(['remove', `--package-name=${name}`, '--package-version=1.2.3', '--json'], env);
    expect(onlyJson(removed.stdout)).toEqual({ name, version: '1.2.3', status: 'Removed' });
    expect(removed.stderr).toMatch(/^Warning: services already deployed from .* may break/);

    const gone = await cli(['describe', `--package-name=${name}`, '--package-version=1.2.3', '--json'], env);
    expect(gone).toMatchObject({ code: 1, stdout: '', stderr: `Error: Version [1.2.3] of package [${name}] not found\n` });
    expect((await repoIndex()).packages.find((p: any) => p.name === name)).toBeUndefined();
    expect(onlyJson((await cliOk(['list', '--json'], env)).stdout).packages).not.toContainEqual(expect.objectContaining({ name }));
    expect(
      (await fetch(`${reg.url}/v2/e2e/app/manifests/${pushed.get('e2e/app:v1')}`, { headers: { accept: MANIFEST_ACCEPT } })).status,
    ).toBe(404);

    // Garbage collection on demand takes the removed version's blobs: 5 assets, and the image's
    // manifest, config and 2 layers (nothing else in this store needs them yet).
    const collected = onlyJson((await cliOk(['gc', '--json'], env)).stdout);
    expect(collected).toMatchObject({ blobsDeleted: 9 });
    expect(collected.bytesFreed).toBe(described.size);
  }, 180_000);

  /**
   * migrate (--upgrade for 2.0/3.0; the definition written beside the package files, so that relative
   * asset paths resolve) → build → add in text mode; /repo then serves every one of them, their
   * bytes and their images. Returns the served index.
   */
  async function addEveryPackage(packages: PreparedPackage[], sub: string): Promise<any> {
    expect(packages.map((p) => p.packagingVersion).sort()).toEqual(expect.arrayContaining(['2.0', '3.0', '4.0', '5.0']));
    const dir = path.join(out, sub);
    await mkdir(dir);
    const results = await mapLimit(packages, 3, async (p) => {
      const old = p.packagingVersion === '2.0' || p.packagingVersion === '3.0';
      const migrated = await cliOk([
        'migrate',
        `--package-directory=${p.dir}`,
        `--output-directory=${p.dir}`,
        ...(old ? ['--upgrade'] : []),
      ]);
      const definitionPath = path.join(p.dir, `${p.name}-${p.version}.json`);
      expect(migrated.stdout).toBe(`Created DC/OS Build Definition ${definitionPath}\n`);
      if (old) expect(migrated.stderr).toContain(`Upgraded: packagingVersion: "${p.packagingVersion}" → "4.0"`);
      const built = await cliOk(['build', `--build-definition-file=${definitionPath}`, `--output-directory=${dir}`]);
      const bundle = path.join(dir, `${p.name}-${p.version}.dcos`);
      expect(built.stdout).toBe(`Created DC/OS Universe Package ${bundle}\n`);
      const added = await cliOk(['add', `--dcos-file=${bundle}`], env);
      expect(added.stdout).toBe(`Added packages:\n${p.name} ${p.version}\n`);
      return { p, definition: JSON.parse(await readFile(definitionPath, 'utf8')) };
    });

    const index = await repoIndex();
    let urls = 0;
    for (const { p, definition } of results) {
      const entry = index.packages.find((e: any) => e.name === p.name && e.version === p.version);
      expect(entry, `${p.name} ${p.version}`).toBeDefined();
      expect(entry.packagingVersion).toBe(p.packagingVersion === '5.0' ? '5.0' : '4.0');
      urls += await checkResources(entry.resource, (u) => originalBytes(p, u, assets), definition.resource);
      await checkImages(entry.resource, p.images);
    }
    expect(urls).toBe(packages.reduce((n, p) => n + p.urls.length, 0));
    return index;
  }

  it('the Universe package fixtures: migrate (--upgrade for 2.0/3.0) → build → add in text mode; /repo serves their bytes and images', async () => {
    const index = await addEveryPackage(universe, 'universe');
    // Relative asset paths (notebook) were read from the package directory and are served like any other.
    expect(universe.find((p) => p.name === 'notebook')!.urls.filter((u) => !u.includes('://'))).toHaveLength(2);
    // greeter 2.1.0-0.4.1 (added in any order relative to 0.9.0) is the default: the higher version.
    const greeter = index.packages.filter((e: any) => e.name === 'greeter');
    expect(greeter.map((e: any) => [e.version, e.releaseVersion]).sort()).toEqual([
      ['0.9.0', 0],
      ['2.1.0-0.4.1', 1],
    ]);
  }, 300_000);

  it.skipIf(!REFERENCE_DIR)(
    `${REFERENCE_TITLE}: the real Universe packages go through the same steps`,
    async () => {
      const index = await addEveryPackage(reference, 'reference');
      // hello-world 3.2.0 (added in any order relative to 1.0.0) is the default: the higher version.
      const hello = index.packages.filter((e: any) => e.name === 'hello-world');
      expect(hello.map((e: any) => [e.version, e.releaseVersion]).sort()).toEqual([
        ['1.0.0', 0],
        ['3.2.0-0.57.3', 1],
      ]);
    },
    300_000,
  );

  it('a second add of the same bundle uploads no blob bytes', async () => {
    const name = `e2e-${driver}-twice`;
    const bundle = await buildSimple(name, { 'a.bin': randomBytes(300_000), 'b.bin': randomBytes(9 * 1024 * 1024) });
    const first = await cliOk(['add', `--dcos-file=${bundle}`, '--json'], env);
    const firstUpload = uploadIdOf(first.stderr);
    expect(firstUpload).toMatchObject({ resumed: false, toSend: 2, blobs: 2 });
    const second = await cliOk(['add', `--dcos-file=${bundle}`, '--json'], env);
    expect(onlyJson(second.stdout)).toEqual({ packages: [{ name, version: '1.0.0', status: 'Added' }] });
    const upload = uploadIdOf(second.stderr);
    expect(upload).toMatchObject({ resumed: false, toSend: 0, blobs: 2, bytes: '0 B' });
    // The registry's own view of that upload: every blob was present, none had a target.
    const view = await api(reg.url, 'GET', `/uploads/${upload.id}`);
    expect(view.status).toBe(200);
    expect(view.json.blobs).toHaveLength(2);
    for (const b of view.json.blobs) {
      expect(b.present).toBe(true);
      expect(b.upload).toBeUndefined();
    }
  }, 180_000);

  it('an add killed mid-upload of a 30 MB bundle resumes the same upload and sends only what is missing', async () => {
    const name = `e2e-${driver}-resume`;
    const bundle = await buildSimple(name, { 'big.bin': randomBytes(30 * 1024 * 1024) });
    // All traffic goes through a proxy that answers the first two part PUTs, then holds the third.
    const proxy = await startRecordingProxy();
    try {
      let puts = 0;
      proxy.policy = (r) => (r.method === 'PUT' && ++puts === 3 ? 'stall' : 'forward');
      const run = spawnCli(['add', `--dcos-file=${bundle}`, '--concurrency=1', '--json'], { ...env, HTTP_PROXY: proxy.url });
      await proxy.stalled();
      run.child.kill('SIGKILL');
      const killed = await run.done;
      expect(killed.signal).toBe('SIGKILL');
      const interrupted = uploadIdOf(killed.stderr);
      expect(interrupted).toMatchObject({ resumed: false, toSend: 1, blobs: 1 });
      expect(JSON.parse(await readFile(statePath(bundle), 'utf8')).uploadId).toBe(interrupted.id);
      const view = await api(reg.url, 'GET', `/uploads/${interrupted.id}`);
      expect(view.json.status).toBe('Uploading');
      const parts = view.json.blobs[0].upload.multipart.parts;
      expect(parts).toHaveLength(4);
      expect(proxy.requests.filter((r) => r.method === 'PUT').map((r) => r.status ?? r.error)).toEqual([200, 200, undefined]);
      expect(parts.filter((p: any) => p.received)).toHaveLength(2);
    } finally {
      await proxy.close();
    }

    const resumed = await cliOk(['add', `--dcos-file=${bundle}`, '--json'], env);
    expect(onlyJson(resumed.stdout)).toEqual({ packages: [{ name, version: '1.0.0', status: 'Added' }] });
    const upload = uploadIdOf(resumed.stderr);
    expect(upload.resumed).toBe(true);
    // Two parts of 8 MiB were sent before the kill: 30 MiB - 16 MiB remain.
    expect(upload.bytes).toBe(`${(((30 - 16) * 1024 * 1024) / 1e6).toFixed(1)} MB`);
    expect(existsSync(statePath(bundle))).toBe(false);
    const asset = (await api(reg.url, 'GET', `/package/${name}/1.0.0`)).json.resources[0];
    const download = await fetch((await repoIndex()).packages.find((p: any) => p.name === name).resource.assets.uris['big.bin']);
    expect(sha256(Buffer.from(await download.arrayBuffer()))).toBe(asset.digest.slice(7));
  }, 180_000);

  it('add refuses hostile bundles with a one-line reason before sending any request', async () => {
    const dir = path.join(out, 'hostile');
    await mkdir(dir);
    const proxy = await startRecordingProxy();
    try {
      const viaProxy = { ...env, HTTP_PROXY: proxy.url };
      const { cases, baseline } = await hostileBundleCases(dir);
      expect(cases.length).toBeGreaterThanOrEqual(9);
      for (const c of cases) {
        const r = await cli(['add', `--dcos-file=${c.path}`, '--json'], viaProxy);
        expect(r.code, c.label).toBe(1);
        expect(r.stdout, c.label).toBe('');
        expect(r.stderr, c.label).toMatch(/^Error: Invalid bundle: [^\n]+\n$/);
        expect(r.stderr, c.label).toMatch(c.message);
        expect(proxy.requests, c.label).toEqual([]);
        expect(existsSync(statePath(c.path)), c.label).toBe(false);
      }
      // The untampered baseline goes through the same proxy: the checks above can fail.
      const ok = await cliOk(['add', `--dcos-file=${baseline}`, '--json'], viaProxy);
      expect(onlyJson(ok.stdout)).toMatchObject({ packages: [{ status: 'Added' }] });
      expect(proxy.requests.some((r) => r.method === 'POST' && r.path === '/uploads')).toBe(true);
    } finally {
      await proxy.close();
    }
  }, 180_000);

  it('the registry refuses hostile manifests and bytes sent directly, and keeps no unverified bytes', async () => {
    const cases = registryHostileCases(driver);
    const got = [];
    for (const c of cases) {
      const r = await c.run(reg.url);
      got.push({ case: c.label, status: r.status, type: r.json?.type, message: r.json?.message });
    }
    expect(got).toEqual(cases.map((c) => ({ case: c.label, status: c.status, type: c.type, message: expect.stringMatching(c.message) })));
  }, 180_000);

  async function buildSimple(name: string, files: Record<string, Buffer>): Promise<string> {
    const dir = path.join(out, `${name}-pkg`);
    await mkdir(dir);
    const uris: Record<string, string> = {};
    for (const [file, bytes] of Object.entries(files)) {
      assets.files.set(`/files/${name}/${file}`, bytes);
      uris[file] = `${assets.url}/files/${name}/${file}`;
    }
    await writeFile(
      path.join(dir, 'package.json'),
      JSON.stringify({ packagingVersion: '4.0', name, version: '1.0.0', maintainer: 'e2e@example.com', description: 'e2e', tags: [] }),
    );
    await writeFile(path.join(dir, 'resource.json'), JSON.stringify({ assets: { uris } }));
    const def = onlyJson((await cliOk(['migrate', `--package-directory=${dir}`, `--output-directory=${out}`, '--json'])).stdout)
      .name as string;
    return onlyJson((await cliOk(['build', `--build-definition-file=${def}`, `--output-directory=${out}`, '--json'])).stdout)
      .name as string;
  }
});
