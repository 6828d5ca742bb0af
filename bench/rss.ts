/**
 * Peak RSS of the CLI (`node bin/dcos-registry.js`, as a user runs it from a checkout) for
 * `build` and `add` of a bundle with one big asset, measured by /usr/bin/time -f %M.
 * Baseline: the same CLI printing its help (the fixed cost of Node, tsx and the CLI).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TEST_TOKEN, type Offline } from '../test/support/offline';
import { definitionFor, randomFile } from './lib/assets';
import { ms, now } from './lib/stats';
import type { Results } from './lib/table';

const ROOT = path.resolve(__dirname, '..');
const TARGET_MB = 200;

/** Runs the CLI under /usr/bin/time; returns peak RSS in MB and wall time. */
function cli(args: string[]): Promise<{ rssMb: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t = now();
    execFile(
      '/usr/bin/time',
      ['-f', 'RSS_KB=%M', process.execPath, path.join(ROOT, 'bin/dcos-registry.js'), ...args],
      { cwd: ROOT, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }, maxBuffer: 64 * 1024 * 1024 },
      (error, _stdout, stderr) => {
        const m = /RSS_KB=(\d+)/.exec(stderr);
        if (error || !m) return reject(new Error(`dcos-registry ${args[0]} failed: ${error?.message ?? ''}\n${stderr.slice(-2000)}`));
        resolve({ rssMb: Number(m[1]) / 1024, ms: now() - t });
      },
    );
  });
}

export async function rssFigures(results: Results, offline: Offline, bytes: number): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-rss-'));
  try {
    const asset = path.join(dir, 'asset.bin');
    await randomFile(asset, bytes);
    const name = `bench-rss-${randomBytes(3).toString('hex')}`;
    const definition = await definitionFor(dir, name, '1.0.0', asset);
    const base = await cli(['--help']);
    const mb = `${(bytes / 1e6).toFixed(0)} MB`;
    const build = await cli(['build', `--build-definition-file=${definition}`, `--output-directory=${dir}`, '--json']);
    results.add({
      figure: `peak RSS of \`build\` with a ${mb} asset (took ${ms(build.ms)})`,
      value: `${build.rssMb.toFixed(0)} MB`,
      baseline: `\`--help\`: ${base.rssMb.toFixed(0)} MB`,
      ratio: build.rssMb / base.rssMb,
      target: `< ${TARGET_MB} MB`,
      met: build.rssMb < TARGET_MB,
    });
    const add = await cli([
      'add',
      `--dcos-file=${path.join(dir, `${name}-1.0.0.dcos`)}`,
      `--url=${offline.url}`,
      `--token=${TEST_TOKEN}`,
      '--json',
    ]);
    results.add({
      figure: `peak RSS of \`add\` with a ${mb} asset (took ${ms(add.ms)})`,
      value: `${add.rssMb.toFixed(0)} MB`,
      baseline: `\`--help\`: ${base.rssMb.toFixed(0)} MB`,
      ratio: add.rssMb / base.rssMb,
      target: `< ${TARGET_MB} MB`,
      met: add.rssMb < TARGET_MB,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
