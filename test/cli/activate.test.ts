/**
 * `dcos registry activate`, run as a DC/OS CLI plugin (DCOS_URL, DCOS_ACS_TOKEN) against a stand-in
 * for the cluster (dcos-cluster.ts) that checks every request against the documented shapes of the
 * IAM, the secret store and Cosmos, and refuses anything else.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ridPath } from '../../lib/dcos/iam';
import {
  CLUSTER_TOKEN,
  LOGIN_UID,
  type ClusterDouble,
  checkServiceAccountSecret,
  publicKeyOfSecret,
  STRICT_LOGIN_ENDPOINT,
  startClusterDouble,
} from './dcos-cluster';
import { runCli } from './run-cli';

const REPO_URI = 'https://dcos-registry.marathon.l4lb.thisdcos.directory/repo';
const CA = 'dcos:adminrouter:ops:ca:rw';
let cluster: ClusterDouble;

beforeEach(async () => {
  cluster = await startClusterDouble();
});
afterEach(async () => {
  await cluster.close();
});

const env = () => ({ DCOS_URL: cluster.url, DCOS_ACS_TOKEN: CLUSTER_TOKEN, DCOS_TLS_INSECURE: '1' });
const calls = (from = 0) => cluster.calls.slice(from).map((c) => `${c.method} ${c.path}`);

/** A secret made the seed's manual way (create-sa-secret --strict) for `uid`. */
function seedSecret(uid: string): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  return JSON.stringify({ scheme: 'RS256', uid, private_key: pem, login_endpoint: STRICT_LOGIN_ENDPOINT });
}

describe('dcos registry activate (default options): service account, secret, CA permission, install', () => {
  it('makes the secret, the account holding its public key and the CA grant, then installs with them and adds the repository', async () => {
    cluster.healthFailures = 1;
    const r = await runCli(['registry', 'activate', '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      service: 'dcos-registry',
      appId: '/dcos-registry',
      repositoryUri: REPO_URI,
      serviceAccount: 'dcos-registry-principal',
      secret: 'dcos-registry-secret',
    });
    expect(calls()).toEqual([
      'GET /secrets/v1/secret/default/dcos-registry-secret',
      'PUT /secrets/v1/secret/default/dcos-registry-secret',
      'PUT /acs/api/v1/users/dcos-registry-principal',
      `PUT /acs/api/v1/acls/${CA}`,
      `PUT /acs/api/v1/acls/${CA}/users/dcos-registry-principal/full`,
      'POST /package/install',
      'GET /service/dcos-registry/health',
      'GET /service/dcos-registry/health',
      'POST /package/repository/add',
    ]);
    const secret = cluster.secrets.get('dcos-registry-secret')!;
    expect(checkServiceAccountSecret(secret)).toBeUndefined();
    expect(JSON.parse(secret).uid).toBe('dcos-registry-principal');
    expect(cluster.users.get('dcos-registry-principal')?.publicKeyPem).toBe(publicKeyOfSecret(secret));
    expect([...cluster.grants]).toEqual([`${CA} dcos-registry-principal full`]);
    expect(cluster.installs).toEqual([
      {
        packageName: 'package-registry',
        options: {
          service: { name: 'dcos-registry' },
          registry: { 'service-account-secret-path': 'dcos-registry-secret', auth: { writers: LOGIN_UID } },
        },
      },
    ]);
    expect(cluster.repositories).toEqual([{ name: 'Registry', uri: REPO_URI }]);
    expect(r.stderr.split('\n')).toEqual(
      expect.arrayContaining([
        `Writers: ${LOGIN_UID}`,
        'Created the secret dcos-registry-secret holding a new key pair for the service account dcos-registry-principal',
        'Created the service account dcos-registry-principal',
        `Granted dcos-registry-principal ${CA} full`,
        'Installing package-registry through the DC/OS package manager',
        'dcos-registry is healthy',
      ]),
    );
    expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
    expect(cluster.problems).toEqual([]);
  });

  it('a secret PUT that was stored but answered 500 is retried; its 409 then reads back the secret it had stored', async () => {
    cluster.failNext('put-secret', 'stored-then-500');
    const r = await runCli(['registry', 'activate'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(calls().slice(0, 5)).toEqual([
      'GET /secrets/v1/secret/default/dcos-registry-secret',
      'PUT /secrets/v1/secret/default/dcos-registry-secret',
      'PUT /secrets/v1/secret/default/dcos-registry-secret',
      'GET /secrets/v1/secret/default/dcos-registry-secret',
      'PUT /acs/api/v1/users/dcos-registry-principal',
    ]);
    expect(cluster.users.get('dcos-registry-principal')?.publicKeyPem).toBe(
      publicKeyOfSecret(cluster.secrets.get('dcos-registry-secret')!),
    );
    expect(r.stderr).toContain('Created the secret dcos-registry-secret');
    expect(cluster.problems).toEqual([]);
  });

  it('a 403 from the IAM stops with the permission it needs; the re-run goes on from the secret the first run left', async () => {
    cluster.failNext('put-user', { status: 403, body: { title: 'Forbidden', description: 'Access denied', code: 'ERR_FORBIDDEN' } });
    const first = await runCli(['registry', 'activate'], env());
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(
      /^Error: creating the service account dcos-registry-principal: forbidden \(403: Access denied\); your DC\/OS account needs the permission dcos:superuser full$/m,
    );
    expect(calls()).not.toContain('POST /package/install');
    const secret = cluster.secrets.get('dcos-registry-secret')!;
    expect(cluster.users.size).toBe(0);

    const before = cluster.calls.length;
    const again = await runCli(['registry', 'activate'], env());
    expect(again.code, again.stderr).toBe(0);
    expect(calls(before)).not.toContain('PUT /secrets/v1/secret/default/dcos-registry-secret');
    expect(again.stderr).toContain('The secret dcos-registry-secret already exists: reusing it, not overwriting it');
    expect(cluster.secrets.get('dcos-registry-secret')).toBe(secret);
    expect(cluster.users.get('dcos-registry-principal')?.publicKeyPem).toBe(publicKeyOfSecret(secret));
    expect(cluster.installs).toHaveLength(1);
    expect(cluster.problems).toEqual([]);
  });

  it('a 403 from the secret store or from Cosmos names the permission missing; nothing is installed', async () => {
    cluster.failNext('get-secret', { status: 403, body: { code: 'ERR_FORBIDDEN', message: 'Forbidden' } });
    const secretRun = await runCli(['registry', 'activate'], env());
    expect(secretRun.code).toBe(1);
    expect(secretRun.stderr).toMatch(
      /^Error: reading the secret dcos-registry-secret: forbidden \(403: Forbidden\); your DC\/OS account needs the permission dcos:secrets:default:\/dcos-registry-secret read$/m,
    );
    expect(cluster.secrets.size).toBe(0);

    cluster.failNext('install', { status: 403, body: { type: 'Forbidden', message: 'Access to the package API is forbidden' } });
    const cosmosRun = await runCli(['registry', 'activate'], env());
    expect(cosmosRun.code).toBe(1);
    expect(cosmosRun.stderr).toMatch(
      /^Error: Access to the package API is forbidden; your DC\/OS account needs the permission dcos:adminrouter:package full$/m,
    );
    expect(cluster.installs).toEqual([]);
    expect(cluster.problems).toEqual([]);
  });

  it('an existing secret is reused, never overwritten, with the account it names; a later run reuses the account too', async () => {
    const seeded = seedSecret('registry-account');
    cluster.secrets.set('dcos-registry-secret', seeded);
    const r = await runCli(['registry', 'activate'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(calls()).not.toContain('PUT /secrets/v1/secret/default/dcos-registry-secret');
    expect(cluster.secrets.get('dcos-registry-secret')).toBe(seeded);
    expect(r.stderr).toContain('The secret dcos-registry-secret belongs to the service account registry-account: using that account');
    expect(cluster.users.get('registry-account')?.publicKeyPem).toBe(publicKeyOfSecret(seeded));
    expect([...cluster.grants]).toEqual([`${CA} registry-account full`]);

    const before = cluster.calls.length;
    const again = await runCli(['registry', 'activate'], env());
    expect(again.code, again.stderr).toBe(0);
    expect(calls(before).slice(0, 5)).toEqual([
      'GET /secrets/v1/secret/default/dcos-registry-secret',
      'PUT /acs/api/v1/users/registry-account',
      'POST /acs/api/v1/auth/login',
      `PUT /acs/api/v1/acls/${CA}`,
      `PUT /acs/api/v1/acls/${CA}/users/registry-account/full`,
    ]);
    expect(again.stderr).toContain(
      'The service account registry-account already exists and holds the key of dcos-registry-secret: reusing it',
    );
    expect(again.stderr).toContain(`registry-account already has ${CA} full`);
    expect(again.stderr).toContain('already installed');
    expect(cluster.problems).toEqual([]);
  });

  it('an account with another key, or a secret that is no service account secret: stops before the install, overwriting nothing', async () => {
    const other = publicKeyOfSecret(seedSecret('dcos-registry-principal'));
    cluster.users.set('dcos-registry-principal', { description: 'someone else', publicKeyPem: other });
    const r = await runCli(['registry', 'activate'], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^Error: the service account dcos-registry-principal already exists with another key than the secret dcos-registry-secret holds; activate changes neither/m,
    );
    expect(cluster.users.get('dcos-registry-principal')?.publicKeyPem).toBe(other);
    expect(cluster.grants.size).toBe(0);

    cluster.secrets.set('dcos-registry-secret', 'not a service account');
    const bad = await runCli(['registry', 'activate'], env());
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /^Error: the secret dcos-registry-secret: not a DC\/OS service account secret \(not JSON\); activate does not overwrite/m,
    );
    expect(cluster.secrets.get('dcos-registry-secret')).toBe('not a service account');
    expect(calls()).not.toContain('POST /package/install');
    expect(cluster.problems).toEqual([]);
  });

  it('resource ids go into URLs as DC/OS clients encode them (/ → %252F, % → %25)', () => {
    expect(ridPath(CA)).toBe(CA);
    expect(ridPath('dcos:secrets:default:/dcos-registry/secret')).toBe('dcos:secrets:default:%252Fdcos-registry%252Fsecret');
    expect(ridPath('dcos:a%b')).toBe('dcos:a%25b');
    expect(() => ridPath('dcos:a b')).toThrow(/invalid DC\/OS resource id/);
  });
});

describe('dcos registry activate: who may write', () => {
  const installedWriters = () => (cluster.installs[0]?.options?.registry as { auth?: { writers?: string } } | undefined)?.auth?.writers;

  it('--writers replaces the login uid in the default options', async () => {
    const r = await runCli(['registry', 'activate', '--writers=alice, ci-bot'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(installedWriters()).toBe('alice,ci-bot');
    expect(r.stderr.split('\n')).toContain('Writers: alice,ci-bot');
  });

  it('a login whose uid cannot be read, or a bad --writers: stops before anything is sent, saying what to give', async () => {
    for (const token of ['not-a-jwt', `x.${Buffer.from('{"exp":1}').toString('base64url')}.y`]) {
      const r = await runCli(['registry', 'activate'], { ...env(), DCOS_ACS_TOKEN: token });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^Error: activate: cannot read the uid of your DC\/OS login.*--writers=<uid>/);
    }
    for (const writers of ['al"ice', 'alice,,bob', ' ']) {
      const r = await runCli(['registry', 'activate', `--writers=${writers}`], env());
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^Error: activate: --writers/);
    }
    expect(cluster.calls).toEqual([]);
  });

  it('--writers with --options is refused: the options file says who writes (registry.auth.writers)', async () => {
    const r = await runCli(['registry', 'activate', '--options=x.json', '--writers=alice'], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: activate: --writers goes with default options.*registry\.auth\.writers/);
    expect(cluster.calls).toEqual([]);
  });
});

describe('dcos registry activate --options', () => {
  it('installs with the options file (no service account made), waits for health, adds the repository; a second run goes through too', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'activate-'));
    const options = path.join(dir, 'options.json');
    await writeFile(options, JSON.stringify({ registry: { 'write-tokens-secret-path': 'dcos-registry/write-tokens' } }));
    cluster.healthFailures = 1;
    const r = await runCli(['registry', 'activate', `--options=${options}`, '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ service: 'dcos-registry', appId: '/dcos-registry', repositoryUri: REPO_URI });
    expect(r.stderr).toContain('Installing package-registry through the DC/OS package manager');
    expect(r.stderr).toContain('dcos-registry is healthy');
    expect(r.stderr).toContain('Added the package repository Registry');
    expect(calls()).toEqual([
      'POST /package/install',
      'GET /service/dcos-registry/health',
      'GET /service/dcos-registry/health',
      'POST /package/repository/add',
    ]);
    expect(cluster.installs).toEqual([
      {
        packageName: 'package-registry',
        options: { registry: { 'write-tokens-secret-path': 'dcos-registry/write-tokens' }, service: { name: 'dcos-registry' } },
      },
    ]);

    const again = await runCli(['registry', 'activate', `--options=${options}`], env());
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('already installed');
    expect(cluster.problems).toEqual([]);
  });

  it('standalone (--url or DCOS_REGISTRY_URL): refused, nothing sent', async () => {
    const standalone = await runCli(['activate', '--options=x.json'], { DCOS_REGISTRY_URL: cluster.url });
    expect(standalone.code).toBe(1);
    expect(standalone.stderr).toMatch(/^Error: activate: needs an attached DC\/OS cluster/);
    expect(cluster.calls).toEqual([]);
  });
});
