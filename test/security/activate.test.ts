/**
 * `activate` makes the registry's private key locally: it must go only into the DC/OS secret. Not to
 * disk (working directory, HOME), not to stdout or stderr, also when a later step fails; nor the
 * DC/OS login token.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLUSTER_TOKEN, type ClusterDouble, startClusterDouble } from '../cli/dcos-cluster';
import { BIN } from '../cli/run-cli';

let cluster: ClusterDouble;
beforeEach(async () => {
  cluster = await startClusterDouble();
});
afterEach(async () => {
  await cluster.close();
});

function activate(dir: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'registry', 'activate'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: dir, DCOS_URL: cluster.url, DCOS_ACS_TOKEN: CLUSTER_TOKEN, DCOS_TLS_INSECURE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('activate: the service account key stays in the secret', () => {
  it('writes no file and prints neither the key nor the login, when the account step fails after the secret was made', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'activate-key-'));
    cluster.failNext('put-user', { status: 400, body: { title: 'Bad', description: 'rejected', code: 'ERR_INVALID_PUBLIC_KEY' } });
    const r = await activate(dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/Error: creating the service account dcos-registry-principal: the cluster answered 400: rejected/);
    const secret = cluster.secrets.get('dcos-registry-secret');
    expect(secret).toBeDefined();
    const keyBody = JSON.parse(secret!).private_key.split('\n')[1];
    expect(keyBody.length).toBeGreaterThan(40);
    expect(r.out).not.toContain(keyBody);
    expect(r.out).not.toMatch(/PRIVATE KEY/);
    expect(r.out).not.toContain(CLUSTER_TOKEN);
    expect(await readdir(dir, { recursive: true })).toEqual([]);
    expect(cluster.problems).toEqual([]);
  });
});
