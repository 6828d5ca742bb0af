/**
 * The DC/OS CLI plugin (scripts/build-plugin.ts): built for the three platforms, reproducible, the
 * Linux one installed the way the DC/OS CLI installs a plugin zip (unpacked into
 * $DCOS_DIR/clusters/<id>/subcommands/<name>/env/) and run the way it runs one (the command path
 * from plugin.toml, argv[1] = "registry", the environment the DC/OS CLI passes, no Node on PATH)
 * through migrate, build, add, describe, list and remove against the production server behind an
 * Admin Router stand-in. The macOS and Windows zips are checked for their layout and executable format.
 *
 * CI builds the zips once (`npm run build:plugin`) and names the directory in
 * DCOS_REGISTRY_PLUGIN_DIR; without it this file builds them itself. Either way the reproducibility
 * test builds everything a second time and compares the bytes.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { migrateToFile } from '../../lib/builder/migrate';
import { validateBuildDefinition } from '../../lib/universe/validate';
import {
  buildPlugin,
  PLATFORMS,
  pluginToml,
  writeUniversePackage,
  zipName,
  type BuiltPlugin,
  type Platform,
} from '../../scripts/build-plugin';
import { definition, startAssetServer } from '../build/fixtures';
import { startServer, type ServerProcess } from '../server/harness';
import { TEST_TOKEN } from '../support/offline';
import { collectRun } from '../cli/run-cli';
import { startAdminRouter, type AdminRouter } from './admin-router';

const BUILD_TIMEOUT = 900_000;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function readZip(file: string): Promise<Map<string, { data: Buffer; mode: number }>> {
  const out = new Map<string, { data: Buffer; mode: number }>();
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      zip.on('error', reject);
      zip.on('end', () => resolve(out));
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('error', reject);
          stream.on('end', () => {
            out.set(entry.fileName, { data: Buffer.concat(chunks), mode: entry.externalFileAttributes >>> 16 });
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

let dist: string;
let built: BuiltPlugin[];
let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'plugin-test-'));
  const prebuilt = process.env.DCOS_REGISTRY_PLUGIN_DIR;
  if (prebuilt) {
    dist = path.resolve(prebuilt);
    built = await Promise.all(
      (Object.keys(PLATFORMS) as Platform[]).map(async (platform) => {
        const zip = path.join(dist, zipName(platform));
        const data = await readFile(zip);
        return { platform, zip, sha256: sha256(data), size: data.length };
      }),
    );
  } else {
    dist = path.join(work, 'dist-a');
    built = await buildPlugin({ outDir: dist });
  }
}, BUILD_TIMEOUT);
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('plugin build', () => {
  it(
    'two builds give the same bytes for every platform (SHA256SUMS names them)',
    async () => {
      const again = await buildPlugin({ outDir: path.join(work, 'dist-b') });
      for (const p of Object.keys(PLATFORMS) as Platform[]) {
        const first = built.find((b) => b.platform === p)!;
        const second = again.find((b) => b.platform === p)!;
        expect(second.sha256, p).toBe(first.sha256);
        expect(second.size).toBeGreaterThan(20_000_000);
      }
      const sums = await readFile(path.join(work, 'dist-b', 'SHA256SUMS'), 'utf8');
      for (const b of again) expect(sums).toContain(`${b.sha256}  ${zipName(b.platform)}\n`);
    },
    BUILD_TIMEOUT,
  );

  it('every zip: plugin.toml, the executable (0755), bash completion; and nothing else', async () => {
    for (const p of Object.keys(PLATFORMS) as Platform[]) {
      const entries = await readZip(path.join(dist, zipName(p)));
      const exe = `bin/${PLATFORMS[p].exe}`;
      expect([...entries.keys()].sort()).toEqual(['bin/' + PLATFORMS[p].exe, 'completion/bash/dcos-registry.sh', 'plugin.toml'].sort());
      const toml = entries.get('plugin.toml')!.data.toString();
      expect(toml).toBe(pluginToml(p));
      expect(toml).toMatch(/^schema_version = 1$/m);
      expect(toml).toMatch(/^\[\[commands\]\]\nname = "registry"\npath = "(.*)"\ndescription = ".+"$/m);
      expect(/^path = "(.*)"$/m.exec(toml)![1]).toBe(exe);
      expect(entries.get(exe)!.mode & 0o777).toBe(0o755);
      const bin = entries.get(exe)!.data;
      // The SEA fuse is flipped (the runtime then looks for the blob) and the blob holds the CLI.
      expect(bin.includes(Buffer.from('NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1'))).toBe(true);
      expect(bin.includes(Buffer.from('Usage: dcos-registry [registry] <command> [flags]'))).toBe(true);
      if (p === 'linux') {
        expect(bin.subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46])); // ELF
        expect(bin[4]).toBe(2); // 64-bit
        expect(bin.readUInt16LE(18)).toBe(0x3e); // e_machine x86-64
      }
      if (p === 'darwin') {
        expect(bin.readUInt32LE(0)).toBe(0xfeedfacf); // Mach-O 64-bit, little endian
        expect(bin.readUInt32LE(4)).toBe(0x01000007); // CPU_TYPE_X86_64
        expect(bin.readUInt32LE(12)).toBe(2); // MH_EXECUTE
        expect(bin.includes(Buffer.from('NODE_SEA\0'))).toBe(true); // the segment postject added
      }
      if (p === 'windows') {
        expect(bin.subarray(0, 2).toString()).toBe('MZ');
        const pe = bin.readUInt32LE(0x3c);
        expect(bin.subarray(pe, pe + 4)).toEqual(Buffer.from('PE\0\0', 'latin1'));
        expect(bin.readUInt16LE(pe + 4)).toBe(0x8664); // IMAGE_FILE_MACHINE_AMD64
        expect(bin.readUInt16LE(pe + 24)).toBe(0x20b); // PE32+
      }
    }
  });

  it('bash completion: _dcos_registry completes commands and each command’s flags', async () => {
    const entries = await readZip(path.join(dist, zipName('linux')));
    const script = path.join(work, 'completion.sh');
    await writeFile(script, entries.get('completion/bash/dcos-registry.sh')!.data);
    const complete = (words: string[]) =>
      new Promise<string>((resolve, reject) => {
        const cmd = `source ${JSON.stringify(script)}; COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')}); COMP_CWORD=${words.length - 1}; _dcos_registry; printf '%s\\n' "\${COMPREPLY[@]}"`;
        const child = spawn('bash', ['-c', cmd], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.on('error', reject);
        child.on('close', () => resolve(out.trim()));
      });
    expect(await complete(['dcos', 'registry', 'de'])).toBe('describe');
    expect((await complete(['dcos', 'registry', ''])).split('\n').sort()).toEqual(
      ['activate', 'add', 'audit', 'build', 'describe', 'export', 'gc', 'list', 'migrate', 'mirror', 'remove', 'sync'].sort(),
    );
    expect(await complete(['dcos', 'registry', 'add', '--dcos'])).toBe('--dcos-file=');
  });

  it('the registry’s own Universe package names the zips with their sha256 (cli section)', async () => {
    const dir = await writeUniversePackage(built, path.join(work, 'universe'));
    const resource = JSON.parse(await readFile(path.join(dir, 'resource.json'), 'utf8'));
    const v = validateBuildDefinition(definition(resource, 'dcos-registry'));
    expect(v.ok ? [] : v.errors).toEqual([]);
    for (const b of built) {
      const entry = resource.cli.binaries[b.platform]['x86-64'];
      expect(entry).toEqual({ kind: 'zip', url: `cli/${zipName(b.platform)}`, contentHash: [{ algo: 'sha256', value: b.sha256 }] });
      expect(sha256(await readFile(path.join(dir, entry.url)))).toBe(b.sha256);
    }
    // docs/operations.md migrates this directory to host the registry's own package: the zips are copied beside the definition.
    const migrated = await migrateToFile({ packageDirectory: dir, outputDirectory: path.join(work, 'own-package') });
    expect(migrated.copied.map((c) => c.uri).sort()).toEqual((Object.keys(PLATFORMS) as Platform[]).map((p) => `cli/${zipName(p)}`).sort());
    // The committed package has the same shape (its hashes are those of the release build).
    const committed = JSON.parse(await readFile(path.resolve(__dirname, '../../packaging/universe/resource.json'), 'utf8'));
    expect(Object.keys(committed.cli.binaries).sort()).toEqual(['darwin', 'linux', 'windows']);
    for (const p of Object.keys(PLATFORMS) as Platform[]) {
      expect(committed.cli.binaries[p]['x86-64']).toMatchObject({ kind: 'zip', url: `cli/${zipName(p)}` });
      expect(committed.cli.binaries[p]['x86-64'].contentHash[0].value).toMatch(/^[a-f0-9]{64}$/);
    }
  });
});

describe('the Linux plugin, installed and run as the DC/OS CLI does', () => {
  let server: ServerProcess;
  let router: AdminRouter;
  let assets: Awaited<ReturnType<typeof startAssetServer>>;
  let env: string;
  let command: string;
  let noNode: string;
  const asset = Buffer.alloc(200_000, 7);

  beforeAll(async () => {
    // $DCOS_DIR/clusters/<cluster id>/subcommands/<plugin name>/env/ holds the unpacked zip.
    const dcosDir = path.join(work, 'dcos');
    env = path.join(dcosDir, 'clusters', 'c0ffee', 'subcommands', 'dcos-registry', 'env');
    for (const [name, e] of await readZip(path.join(dist, zipName('linux')))) {
      await mkdir(path.dirname(path.join(env, name)), { recursive: true });
      await writeFile(path.join(env, name), e.data);
      await chmod(path.join(env, name), e.mode & 0o777);
    }
    const toml = await readFile(path.join(env, 'plugin.toml'), 'utf8');
    const cmd = /\[\[commands\]\]\nname = "registry"\npath = "([^"]+)"/.exec(toml);
    command = path.join(env, cmd![1]);
    noNode = path.join(work, 'empty-path');
    await mkdir(noNode, { recursive: true });

    router = await startAdminRouter({ service: 'dcos-registry', token: TEST_TOKEN, upstream: () => server.url });
    server = await startServer({
      env: { REGISTRY_STORAGE: `file:${path.join(work, 'store')}`, REGISTRY_PUBLIC_URL: `${router.url}/service/dcos-registry` },
    });
    assets = await startAssetServer({ '/scheduler.tgz': asset });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await router?.close();
    await assets?.close();
  });

  /** exec(path, "registry", args...) with the environment the DC/OS CLI gives a plugin, and no node on PATH. */
  const dcos = (args: string[], extra: Record<string, string> = {}) =>
    collectRun(command, ['registry', ...args], {
      cwd: work,
      env: {
        PATH: noNode,
        HOME: work,
        DCOS_DIR: path.join(work, 'dcos'),
        DCOS_CLI_EXECUTABLE_PATH: '/usr/local/bin/dcos',
        DCOS_CLI_VERSION: '1.2.0',
        DCOS_VERBOSITY: '0',
        DCOS_LOG_LEVEL: 'error',
        DCOS_URL: router.url,
        DCOS_ACS_TOKEN: TEST_TOKEN,
        DCOS_TLS_INSECURE: '1',
        ...extra,
      },
    });

  it('migrate, build, add, describe, list, remove through Admin Router with the DC/OS login', async () => {
    expect(existsSync(path.join(noNode, 'node'))).toBe(false);
    const pkgDir = path.join(work, 'pkg');
    const out = path.join(work, 'out');
    await mkdir(pkgDir, { recursive: true });
    await mkdir(out, { recursive: true });
    await writeFile(
      path.join(pkgDir, 'package.json'),
      JSON.stringify({
        packagingVersion: '4.0',
        name: 'plugpkg',
        version: '1.0.0',
        maintainer: 'registry-tests@example.com',
        description: 'plugin end-to-end package',
        tags: ['test'],
      }),
    );
    await writeFile(path.join(pkgDir, 'marathon.json.mustache'), '{"id":"{{service.name}}","cmd":"sleep 1000","cpus":0.1,"mem":32}');
    await writeFile(
      path.join(pkgDir, 'config.json'),
      JSON.stringify({
        type: 'object',
        properties: { service: { type: 'object', properties: { name: { type: 'string', default: 'plugpkg' } } } },
      }),
    );
    await writeFile(path.join(pkgDir, 'resource.json'), JSON.stringify({ assets: { uris: { scheduler: `${assets.url}/scheduler.tgz` } } }));

    const migrate = await dcos(['migrate', `--package-directory=${pkgDir}`, `--output-directory=${out}`]);
    expect(migrate.stderr).toBe('');
    expect(migrate).toMatchObject({ code: 0, stdout: `Created DC/OS Build Definition ${path.join(out, 'plugpkg-1.0.0.json')}\n` });

    const build = await dcos([
      'build',
      `--build-definition-file=${path.join(out, 'plugpkg-1.0.0.json')}`,
      `--output-directory=${out}`,
      '--json',
    ]);
    expect(build.code, build.stderr).toBe(0);
    expect(JSON.parse(build.stdout)).toEqual({ name: path.join(out, 'plugpkg-1.0.0.dcos') });

    const add = await dcos(['add', `--dcos-file=${path.join(out, 'plugpkg-1.0.0.dcos')}`]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toBe('Added packages:\nplugpkg 1.0.0\n');

    const described = await dcos(['describe', '--package-name=plugpkg', '--package-version=1.0.0', '--json']);
    expect(described.code, described.stderr).toBe(0);
    expect(JSON.parse(described.stdout)).toMatchObject({ name: 'plugpkg', version: '1.0.0', status: 'Added' });
    expect(JSON.parse(described.stdout).resources).toEqual([
      expect.objectContaining({ uri: `${assets.url}/scheduler.tgz`, digest: `sha256:${sha256(asset)}`, size: asset.length }),
    ]);

    const list = await dcos(['list']);
    expect(list).toMatchObject({ code: 0, stdout: 'plugpkg 1.0.0 Added 0\n' });

    const removed = await dcos(['remove', '--package-name=plugpkg', '--package-version=1.0.0']);
    expect(removed).toMatchObject({ code: 0, stdout: 'Removed plugpkg 1.0.0\n' });
    const gone = await dcos(['describe', '--package-name=plugpkg', '--package-version=1.0.0']);
    expect(gone).toEqual({ code: 1, stdout: '', stderr: 'Error: Version [1.0.0] of package [plugpkg] not found\n' });

    // Every request went through Admin Router's /service/dcos-registry/ with `token=`, the
    // uploads' signed targets included, and none was refused (the one 404 is the last describe).
    const through = router.requests;
    expect(through.filter((r) => r.status >= 400)).toEqual([
      expect.objectContaining({ method: 'GET', path: '/service/dcos-registry/package/plugpkg/1.0.0', status: 404 }),
    ]);
    expect(through.some((r) => r.method === 'PUT' && r.path.startsWith('/service/dcos-registry/_store/'))).toBe(true);
    expect(through.some((r) => r.method === 'POST' && r.path === '/service/dcos-registry/uploads')).toBe(true);
    for (const r of through) {
      expect(r.authorization, `${r.method} ${r.path}`).toBe(`token=${TEST_TOKEN}`);
    }
  }, 300_000);

  it('without a DC/OS login: reads are refused by Admin Router, writes say how to log in', async () => {
    const list = await dcos(['list'], { DCOS_ACS_TOKEN: '' });
    expect(list.code).toBe(1);
    expect(list.stderr).toMatch(/^Error: .*401/);
    const remove = await dcos(['remove', '--package-name=plugpkg', '--package-version=1.0.0'], { DCOS_ACS_TOKEN: '' });
    expect(remove.code).toBe(1);
    expect(remove.stderr).toContain('run `dcos auth login`');
  });

  it('--name picks another service under Admin Router', async () => {
    const before = router.requests.length;
    const r = await dcos(['list', '--name=other-registry']);
    expect(r.code).toBe(1);
    expect(router.requests.slice(before).map((q) => q.path)).toEqual(['/service/other-registry/package']);
  });
});
