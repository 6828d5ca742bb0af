/**
 * `serverless offline` for the benchmark: like test/support/offline.ts, but run in a code
 * snapshot (see snapshot.ts) instead of the shared checkout.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { freePort, TEST_TOKEN, type Offline } from '../../test/support/offline';
import { ROOT } from './snapshot';

export async function startOfflineIn(dir: string, env: Record<string, string>, timeoutMs = 180_000): Promise<Offline> {
  const port = await freePort();
  const lambdaPort = await freePort();
  let out = '';
  const child = spawn(process.execPath, [path.join(ROOT, 'node_modules/serverless/bin/serverless.js'), 'offline', 'start', '--httpPort', String(port), '--lambdaPort', String(lambdaPort)], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'none',
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'none',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      REGISTRY_WRITE_TOKENS: TEST_TOKEN,
      REGISTRY_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout.on('data', (d) => (out = (out + d).slice(-20_000)));
  child.stderr.on('data', (d) => (out = (out + d).slice(-20_000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serverless offline exited (${child.exitCode}):\n${out.slice(-3000)}`);
    const up = await fetch(`${url}/health`).then((r) => r.status === 200 || r.status === 503, () => false);
    if (up) break;
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
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid!, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
    },
  };
}
