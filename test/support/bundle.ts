/**
 * Code bundled as serverless.yml bundles the functions (format cjs, minified, with the project's
 * esbuild plugins, which write the lazily loaded chunks beside the entry: scripts/esbuild-plugins.cjs),
 * and a node process that runs a script over it: for tests of what a cold function loads.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

const ROOT = path.resolve(__dirname, '../..');

/** The files the plugins write beside every handler, loaded only when needed. */
const LAZY_CHUNKS = ['s3-sdk.js', 'jwt.js', 'fs-storage.js'] as const;

/**
 * Bundles `entry` (a module of the repository, or TypeScript source when it does not end in .ts)
 * into `<dir>/functions/entry.js`, as the function bundles are built; returns that path.
 */
export async function bundleAsDeployed(dir: string, entry: string): Promise<string> {
  let entryPoint = entry;
  if (!entry.endsWith('.ts')) {
    entryPoint = path.join(dir, 'entry.ts');
    await writeFile(entryPoint, entry);
  }
  const outdir = path.join(dir, 'functions');
  await mkdir(outdir, { recursive: true });
  await build({
    entryPoints: { entry: entryPoint },
    outdir,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: true,
    sourcemap: 'linked',
    sourcesContent: false,
    nodePaths: [path.join(ROOT, 'node_modules')],
    plugins: (await import(path.join(ROOT, 'scripts/esbuild-plugins.cjs'))).default,
    logLevel: 'error',
  });
  return path.join(outdir, 'entry.js');
}

/** An import path of a repository module for a generated entry's source. */
export const repoModule = (relative: string): string => JSON.stringify(path.join(ROOT, relative));

/**
 * Source of a function, for a script run over a bundle, that names what the process has loaded
 * so far: the lazily loaded chunks (from require.cache) and the given Node built-in modules.
 */
export const LOADED_SOURCE = `
const loaded = (builtins = []) => ({
  chunks: ${JSON.stringify(LAZY_CHUNKS)}.filter((c) => Object.keys(require.cache).some((k) => k.endsWith(require('node:path').sep + c))),
  builtins: builtins.filter((m) => process.moduleLoadList.includes('NativeModule ' + m)),
});`;

/** Runs `script` (CommonJS, argv[1] = `arg`) in a new node process; its stdout parsed as JSON. Asynchronous, so servers of the test process keep answering. */
export function runScript(script: string, arg: string, env: NodeJS.ProcessEnv): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script, arg], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`${error.message}\n${stderr}`));
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new Error(`not JSON: ${stdout}\n${stderr}`));
      }
    });
  });
}
