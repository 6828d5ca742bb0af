/**
 * Cold start of each function: `serverless package` (in a copy of the checkout, so the
 * shared .serverless/ and .esbuild-3000/ are left alone), each zip unzipped to a temp dir,
 * then `node` spawned on a script that requires the handler and invokes it with a sample
 * event; the figure is spawn to first byte of the answer on stdout (process start, module
 * load, handler, store requests of a cold instance on a small catalog). Baseline: the floor, a
 * bare process sending the one signed GET every store-reading function starts with (FLOOR), itself
 * compared with `node -e` writing one byte. Also the zip and unzipped .js size of each function.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Catalog } from '../lib/catalog/catalog';
import { addVersion } from '../lib/catalog/ops';
import { keys } from '../lib/keys';
import { catalogEntry, sha256 } from '../test/support/fixtures';
import { TEST_TOKEN } from '../test/support/offline';
import { ROOT } from './lib/snapshot';
import { kib, ms, now, summarize } from './lib/stats';
import type { BenchStore } from './lib/stores';
import type { Results } from './lib/table';

const READ_FUNCTIONS = new Set(['health', 'repo', 'packages', 'resource', 'v2']);
/** What `serverless package` reads (bench/lib/snapshot.ts copies the same for the current code). */
const SOURCES = ['serverless.yml', 'functions', 'lib', 'scripts', 'package.json', 'tsconfig.json', 'events'];
/** Issue 14's goal for the read functions, spawn to first byte with the deployed settings. */
const TARGET_MS = 100;
/** Beside every handler (scripts/esbuild-plugins.cjs), not handlers: the lazily loaded chunks, and the error classes all share. */
const CHUNKS = ['s3-sdk.js', 'jwt.js', 'fs-storage.js'];
const SHARED_FILES = new Set([...CHUNKS, 'registry-errors.js']);
// Writes the status and where the time went (Node's own start, requiring the bundle, the handler
// with its store requests) in one write, so the first byte is the answer's. Clocks: process.uptime
// and hrtime, not the global performance, whose first use loads perf_hooks (nine of Node's internal
// modules): the runner's own clock would otherwise add to what it measures.
const RUNNER = `
const t0 = process.uptime() * 1000;
const h0 = process.hrtime.bigint();
const since = () => Number(process.hrtime.bigint() - h0) / 1e6;
const { handler } = require(process.argv[1]);
const t1 = since();
const context = { awsRequestId: 'bench', functionName: 'bench', getRemainingTimeInMillis: () => 29000, callbackWaitsForEmptyEventLoop: true };
Promise.resolve(handler(JSON.parse(process.argv[2]), context)).then(
  (r) => { const t2 = since(); process.stdout.write(String(r && r.statusCode) + ' ' + JSON.stringify([t0, t1, t2 - t1])); process.exit(0); },
  (e) => { process.stdout.write('error ' + e.message); process.exit(1); });
`;
// The floor of a function that reads the store at cold start: a bare process that loads what such a
// read cannot do without (node:http, node:crypto through the SigV4 signer the functions bundle, aws4)
// and sends the first request every store-reading function sends, a signed GET of the catalog snapshot.
// argv: aws4's path, endpoint, bucket, key, region.
const FLOOR = `
const http = require('node:http');
const aws4 = require(process.argv[1]);
const [endpoint, bucket, key, region] = process.argv.slice(2);
const u = new URL(endpoint);
const req = aws4.sign({ host: u.host, path: '/' + bucket + '/' + key, service: 's3', region, method: 'GET' },
  { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY });
http.get({ hostname: u.hostname, port: u.port, path: req.path, headers: req.headers }, (r) => {
  r.resume();
  r.on('end', () => { process.stdout.write(String(r.statusCode)); process.exit(0); });
});
`;

/** Milliseconds from spawn to the first stdout byte, and what was written. */
function firstByte(args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; out: string }> {
  return new Promise((resolve, reject) => {
    const t = now();
    let first = -1;
    let out = '';
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => {
      if (first < 0) first = now() - t;
      out += d;
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      first < 0 ? reject(new Error(`exit ${code} without output: ${err.slice(-500)}`)) : resolve({ ms: first, out }),
    );
  });
}

function event(
  routeKey: string,
  rawPath: string,
  pathParameters: Record<string, string> | undefined,
  headers: Record<string, string>,
): unknown {
  const [method] = routeKey.split(' ');
  return {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString: '',
    headers: { host: 'localhost:3000', ...headers },
    ...(pathParameters ? { pathParameters } : {}),
    requestContext: {
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId: 'bench',
      routeKey,
      stage: '$default',
    },
    isBase64Encoded: false,
  };
}

/** The functions of git revision `rev`, packaged in a temporary directory (BENCH_COLD_BASE). */
async function packageRevision(rev: string): Promise<{ slsDir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-cold-base-'));
  const archive = execFileSync('git', ['-C', ROOT, 'archive', rev, ...SOURCES], { maxBuffer: 256 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const remove = async () => {
    await rm(path.join(dir, 'node_modules'), { force: true }); // the link, never its target
    await rm(dir, { recursive: true, force: true });
  };
  try {
    return { slsDir: packageIn(dir), remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

/** `serverless package` in the code snapshot; returns the .serverless directory. */
function packageIn(dir: string): string {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/serverless/bin/serverless.js'), 'package'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 180_000,
  });
  return path.join(dir, '.serverless');
}

/** The handler .js of an unzipped function (named after the handler path, not the function: gc → functions/gc-scheduled.js). */
async function handlerJs(dir: string, zip: string): Promise<{ js: string; jsFiles: string[] }> {
  const jsFiles = (await readdir(path.join(dir, 'functions'))).filter((f) => f.endsWith('.js'));
  const jsName = jsFiles.find((f) => !SHARED_FILES.has(f));
  if (!jsName) throw new Error(`no handler .js in ${zip}`);
  return { js: path.join(dir, 'functions', jsName), jsFiles };
}

/**
 * `base`: a git revision (BENCH_COLD_BASE) whose read functions are measured too, each run of the
 * current code followed by one of the base, so both see the same load; a row per function compares them.
 */
export async function coldStartFigures(results: Results, store: BenchStore, runs: number, codeDir: string, base?: string): Promise<void> {
  // A small catalog with one asset whose blob is stored, so describe and resource answer 200.
  const storage = store.make();
  const blob = Buffer.from('cold start asset');
  await storage.put(keys.blob(sha256(blob).slice(7)), blob);
  const uri = 'https://downloads.example.com/hello-world/asset.txt';
  const entry = { ...catalogEntry('hello-world', '1.0.0'), assets: [{ uri, digest: sha256(blob), size: blob.length, name: 'asset.txt' }] };
  entry.package = { ...entry.package, resource: { assets: { uris: { asset: uri } } } };
  await addVersion(new Catalog(storage), entry);
  const repoEvent = JSON.parse(await readFile(path.join(ROOT, 'events/repo-cosmos.json'), 'utf8'));
  const events: Record<string, unknown> = {
    health: JSON.parse(await readFile(path.join(ROOT, 'events/health.json'), 'utf8')),
    repo: repoEvent,
    packages: JSON.parse(await readFile(path.join(ROOT, 'events/describe.json'), 'utf8')),
    resource: event(
      'GET /resource/{digest}/{name}',
      `/resource/${sha256(blob).slice(7)}/asset.txt`,
      { digest: sha256(blob).slice(7), name: 'asset.txt' },
      {},
    ),
    v2: event('GET /v2', '/v2', undefined, {}),
    uploads: event(
      'GET /uploads/{id}',
      '/uploads/aaaaaaaaaaaaaaaaaaaaaaaaaa',
      { id: 'aaaaaaaaaaaaaaaaaaaaaaaaaa' },
      { authorization: `Bearer ${TEST_TOKEN}` },
    ),
  };

  const slsDir = packageIn(codeDir);
  const baseBuild = base ? await packageRevision(base) : undefined;
  const unzipped = await mkdtemp(path.join(os.tmpdir(), 'bench-unzipped-'));
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'none',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'none',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    NODE_OPTIONS: '', // as serverless.yml deploys it: no --enable-source-maps (lib/stack.ts maps logged stacks)
    REGISTRY_WRITE_TOKENS: TEST_TOKEN,
    REGISTRY_LOG_LEVEL: 'error',
    ...store.env,
  };
  try {
    const [bucket, ...prefix] = store.env.REGISTRY_STORAGE.replace(/^s3:\/\//, '').split('/');
    const floorArgs = [
      '-e',
      FLOOR,
      require.resolve('aws4', { paths: [ROOT] }),
      store.env.REGISTRY_S3_ENDPOINT,
      bucket,
      [...prefix, keys.snapshot()].join('/'),
      store.env.REGISTRY_S3_REGION,
    ];
    const floorOnce = async () => {
      const r = await firstByte(floorArgs, env);
      if (r.out !== '200') throw new Error(`the floor's signed GET answered ${r.out}`);
      return r.ms;
    };
    // Every figure's samples alternate with its baseline's, so load drift lands on both.
    const nodeSamples: number[] = [];
    const floorSamples: number[] = [];
    for (let i = 0; i < runs; i++) {
      nodeSamples.push((await firstByte(['-e', "process.stdout.write('x')"], env)).ms);
      floorSamples.push(await floorOnce());
    }
    const nodeE = summarize(nodeSamples).median;
    const floor = summarize(floorSamples).median;
    results.add({
      figure: 'cold start floor: a bare node process, one signed GET of the catalog snapshot (node:http, aws4)',
      value: ms(floor),
      baseline: `node -e: ${ms(nodeE)}`,
      ratio: floor / nodeE,
    });
    const zips = (await readdir(slsDir)).filter((f) => f.endsWith('.zip')).sort();
    for (const zip of zips) {
      const fn = zip.slice(0, -4);
      const zipPath = path.join(slsDir, zip);
      const dir = path.join(unzipped, fn);
      await mkdir(dir, { recursive: true });
      execFileSync('unzip', ['-q', '-o', zipPath, '-d', dir]);
      const { js, jsFiles } = await handlerJs(dir, zip);
      let chunk = '';
      for (const c of CHUNKS.filter((f) => jsFiles.includes(f)))
        chunk += ` + ${c} ${kib((await stat(path.join(dir, 'functions', c))).size)}`;
      const sizes = `zip ${kib((await stat(zipPath)).size)}, .js ${kib((await stat(js)).size)}${chunk}`;
      const ev = events[fn];
      if (!ev) {
        results.add({ figure: `bundle size: ${fn}`, value: sizes });
        continue;
      }
      const read = READ_FUNCTIONS.has(fn);
      let baseJs: string | undefined;
      if (baseBuild && read) {
        const baseDir = path.join(unzipped, `base-${fn}`);
        await mkdir(baseDir, { recursive: true });
        execFileSync('unzip', ['-q', '-o', path.join(baseBuild.slsDir, zip), '-d', baseDir]);
        baseJs = (await handlerJs(baseDir, zip)).js;
      }
      const samples: number[] = [];
      const floors: number[] = [];
      const baseRevSamples: number[] = [];
      const parts: number[][] = [[], [], []];
      let status = '';
      for (let i = 0; i < runs; i++) {
        if (baseJs) baseRevSamples.push((await firstByte(['-e', RUNNER, baseJs, JSON.stringify(ev)], env)).ms);
        floors.push(await floorOnce());
        const r = await firstByte(['-e', RUNNER, js, JSON.stringify(ev)], env);
        samples.push(r.ms);
        const [code, times] = r.out.split(' ');
        status = code;
        if (times) for (const [k, t] of (JSON.parse(times) as number[]).entries()) parts[k].push(t);
      }
      const median = summarize(samples).median;
      const itsFloor = summarize(floors).median;
      const [nodeMs, requireMs, handlerMs] = parts.map((p) => (p.length ? ms(summarize(p).median) : '?'));
      // The same with --enable-source-maps (deployed until issue 14; it reads the .map at load): what dropping it saved.
      const mapped: number[] = [];
      for (let i = 0; i < runs; i++)
        mapped.push((await firstByte(['-e', RUNNER, js, JSON.stringify(ev)], { ...env, NODE_OPTIONS: '--enable-source-maps' })).ms);
      results.add({
        figure: `cold start to first byte: ${fn} (answer ${status}; ${sizes})`,
        value: `${ms(median)} (Node ${nodeMs}, require ${requireMs}, handler ${handlerMs}; ${ms(summarize(mapped).median)} with --enable-source-maps)`,
        baseline: `floor, interleaved: ${ms(itsFloor)}`,
        ratio: median / itsFloor,
        ...(read ? { target: `< ${TARGET_MS} ms`, met: median < TARGET_MS } : {}),
      });
      if (baseJs) {
        const before = summarize(baseRevSamples).median;
        results.add({
          figure: `cold start to first byte: ${fn}, this code vs ${base}`,
          value: ms(median),
          baseline: `${base}: ${ms(before)}`,
          ratio: median / before,
        });
      }
    }
  } finally {
    await rm(unzipped, { recursive: true, force: true });
    await baseBuild?.remove();
  }
}
