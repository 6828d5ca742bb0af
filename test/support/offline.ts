/**
 * Starts `serverless offline` (the real thing) on free ports with the given registry
 * environment, and stops it. Each instance gets its own esbuild work folder (by port).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
export const TEST_TOKEN = 'test-write-token-0123456789';

/**
 * The environment every registry process a test starts begins with (serverless offline, the
 * production server): nothing of the test's own but PATH, HOME and the store's keys, and the
 * test write token.
 */
export function registryProcessEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'none',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'none',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    REGISTRY_WRITE_TOKENS: TEST_TOKEN,
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface Offline {
  url: string;
  port: number;
  stop(): Promise<void>;
  output(): string;
}

/**
 * `env` may be a function of the instance's URL (to configure REGISTRY_PUBLIC_URL as itself).
 * `cwd`: the checkout to run (the benchmark runs a snapshot copy of the code).
 */
export async function startOffline(
  envOrOfUrl: Record<string, string> | ((url: string) => Record<string, string>),
  timeoutMs = 90_000,
  cwd = ROOT,
): Promise<Offline> {
  const port = await freePort();
  const lambdaPort = await freePort();
  const env = typeof envOrOfUrl === 'function' ? envOrOfUrl(`http://127.0.0.1:${port}`) : envOrOfUrl;
  let out = '';
  const child: ChildProcess = spawn(
    process.execPath,
    [
      path.join(ROOT, 'node_modules/serverless/bin/serverless.js'),
      'offline',
      'start',
      '--httpPort',
      String(port),
      '--lambdaPort',
      String(lambdaPort),
    ],
    {
      cwd,
      env: { ...registryProcessEnv(), REGISTRY_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  // The tail is enough for error messages; long runs would otherwise grow it without bound.
  child.stdout!.on('data', (d) => (out = (out + d).slice(-20_000)));
  child.stderr!.on('data', (d) => (out = (out + d).slice(-20_000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serverless offline exited (${child.exitCode}):\n${out.slice(-3000)}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.status === 200 || res.status === 503) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      process.kill(-child.pid!, 'SIGKILL');
      throw new Error(`serverless offline did not start in ${timeoutMs} ms:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    port,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(-child.pid!, 'SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
      }
      await rm(path.join(cwd, `.esbuild-${port}`), { recursive: true, force: true });
    },
  };
}
