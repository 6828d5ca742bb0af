/** scripts/docker-registry.sh: start is idempotent and waits for GET /v2/, env prints the source, stop ends it. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { freePort } from './registry-process.js';

const dir = mkdtempSync(join(tmpdir(), 'docker-registry-script-'));
let port = 0;

function script(verb: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      'bash',
      ['scripts/docker-registry.sh', verb],
      { env: { ...process.env, DOCKER_REGISTRY_PORT: String(port), DOCKER_REGISTRY_DIR: dir } },
      (err, stdout, stderr) => (err ? reject(new Error(`${verb}: ${err.message} ${stderr}`)) : resolve(stdout)),
    ),
  );
}

afterAll(async () => {
  await script('stop').catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

it('starts, is idempotent, prints its env and stops by pid', async () => {
  port = await freePort();
  expect(await script('start')).toMatch(new RegExp(`^docker-registry ready on 127\\.0\\.0\\.1:${port} \\(pid \\d+\\)`));
  const pid = Number(readFileSync(join(dir, 'registry.pid'), 'utf8'));
  const res = await fetch(`http://127.0.0.1:${port}/v2/`);
  expect(res.status).toBe(200);
  expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  expect(await script('start')).toContain(`already running on 127.0.0.1:${port} (pid ${pid})`);
  expect(await script('env')).toBe(`export REGISTRY_TEST_DOCKER_SOURCE=127.0.0.1:${port}\n`);
  expect(await script('stop')).toBe(`docker-registry stopped (pid ${pid})\n`);
  expect(() => process.kill(pid, 0)).toThrow();
  await expect(fetch(`http://127.0.0.1:${port}/v2/`)).rejects.toThrow();
  expect(await script('stop')).toBe('docker-registry not running\n');
});
