/**
 * DC/OS logins write to the registry as the Universe package installs it (issue 13, item 2): the
 * package is rendered with what `activate` puts in the default options (registry.auth.writers =
 * the uid of the user running it), with the JWKS URL pointed at a local stand-in for DC/OS IAM's
 * `/acs/api/v1/auth/jwks` served over HTTPS with a certificate the registry trusts only through the
 * sandbox's cluster CA bundle (`.ssl/ca-bundle.crt`, handed to Node by the app's cmd). The production
 * server runs exactly as the rendered app says (launch.ts; plain HTTP, so the test needs no DC/OS CA:
 * rendered.test.ts covers TLS). The real CLI runs as a DC/OS plugin (DCOS_URL, DCOS_ACS_TOKEN) through an
 * Admin Router stand-in, with logins signed by jose as DC/OS IAM signs them (RS256, `uid`, `exp`, no
 * `kid`): the writer's `add` succeeds; another user's valid login gets 403; no login gets 401.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildBundle } from '../../lib/builder';
import { dcosToken, type JwksServer, type KeyPair, publicJwk, rsaKeyPair, startJwksServer } from '../auth/jwks';
import { definition } from '../build/fixtures';
import { runCli } from '../cli/run-cli';
import { type AdminRouter, startAdminRouter } from '../plugin/admin-router';
import { serverBundle } from '../server/harness';
import { selfSignedCertificate } from '../support/tls';
import { type Launched, launch } from './launch';
import { type Json, render } from './render';

const WRITER = 'alice';
let dir: string;
let iam: KeyPair;
let jwks: JwksServer;
let jwksCa: string;
let bundleFile: string;
let app: Json;
let task: Launched;
let router: AdminRouter;
let aliceToken: string;
let malloryToken: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dcos-writers-'));
  const tls = await selfSignedCertificate(dir);
  jwksCa = tls.cert.toString('utf8');
  iam = await rsaKeyPair();
  jwks = await startJwksServer({ key: tls.key, cert: jwksCa });
  // DC/OS IAM's JWKS entry: kty, n, e, use, alg, kid (its tokens name no kid).
  jwks.keys = [await publicJwk(iam, { use: 'sig', alg: 'RS256', kid: '49f795b26f80bec0' })];
  [aliceToken, malloryToken] = await Promise.all([
    dcosToken(iam, undefined, { uid: WRITER }),
    dcosToken(iam, undefined, { uid: 'mallory' }),
  ]);

  await writeFile(path.join(dir, 'def.json'), JSON.stringify(definition({}, 'hello')));
  const [bundlePath, built] = await Promise.all([
    serverBundle(),
    buildBundle({ definitionFile: path.join(dir, 'def.json'), outputDirectory: dir }),
  ]);
  bundleFile = built.path;
  // What activate installs by default (writers: the login's uid), plain HTTP instead of the DC/OS CA, IAM's JWKS here.
  app = render({ registry: { tls: { 'plain-http': true }, auth: { writers: WRITER, 'jwks-url': jwks.url } } });
  task = await launch(app, { secrets: {}, bundle: bundlePath, caBundle: jwksCa });
  router = await startAdminRouter({
    service: 'dcos-registry',
    upstream: () => `http://127.0.0.1:${task.port}`,
    token: [aliceToken, malloryToken],
  });
}, 180_000);

afterAll(async () => {
  await router?.close();
  const code = await task?.stop();
  await jwks?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  expect(code).toBe(0);
});

const plugin = (token?: string) => ({ DCOS_URL: router.url, ...(token ? { DCOS_ACS_TOKEN: token } : {}) });

describe('DC/OS logins write to the installed registry', () => {
  it('the rendered app names IAM’s JWKS and the writer; the cmd trusts the sandbox CA bundle; the server says it takes writes', async () => {
    expect(app.env).toMatchObject({ REGISTRY_JWKS_URL: jwks.url, REGISTRY_WRITERS: WRITER });
    expect(app.cmd).toContain('NODE_EXTRA_CA_CERTS="$MESOS_SANDBOX/.ssl/ca-bundle.crt"');
    // The start log tells an operator that writes are possible, though no write token is configured.
    await vi.waitFor(() => {
      const logs = task.logs();
      expect(logs.find((l) => l.msg === 'listening')).toMatchObject({ writes: true, writers: [WRITER] });
    });
  });

  it('the writer’s login: `dcos registry add` succeeds, the keys fetched over HTTPS trusted through the sandbox CA bundle', async () => {
    const r = await runCli(['registry', 'add', `--dcos-file=${bundleFile}`, '--json'], plugin(aliceToken));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ packages: [{ name: 'hello', version: '1.0.0', status: 'Added' }] });
    expect(jwks.hits).toBeGreaterThan(0);
    const described = await runCli(
      ['registry', 'describe', '--package-name=hello', '--package-version=1.0.0', '--json'],
      plugin(aliceToken),
    );
    expect(JSON.parse(described.stdout)).toMatchObject({ status: 'Added' });
    const writes = router.requests.filter((q) => q.method !== 'GET');
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.every((q) => q.authorization === `token=${aliceToken}` && q.status < 300)).toBe(true);
  }, 120_000);

  it('another user’s valid login: 403, from the CLI and at the registry itself; nothing changes', async () => {
    const r = await runCli(['registry', 'remove', '--package-name=hello', '--package-version=1.0.0'], plugin(malloryToken));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: mallory may not write to this registry/m);
    const direct = await request(`http://127.0.0.1:${task.port}/package/hello/1.0.0`, {
      method: 'DELETE',
      headers: { authorization: `token=${malloryToken}` },
    });
    expect(direct.statusCode).toBe(403);
    expect(await direct.body.json()).toMatchObject({ type: 'Forbidden', message: expect.stringContaining('mallory') });
    const still = await runCli(['registry', 'describe', '--package-name=hello', '--package-version=1.0.0', '--json'], plugin(aliceToken));
    expect(JSON.parse(still.stdout)).toMatchObject({ status: 'Added' });
  }, 60_000);

  it('without the sandbox CA bundle the JWKS is not trusted: even the writer gets 401 (fail closed)', async () => {
    const untrusting = await launch(app, { secrets: {}, bundle: await serverBundle() });
    try {
      const res = await request(`http://127.0.0.1:${untrusting.port}/package/hello/1.0.0`, {
        method: 'DELETE',
        headers: { authorization: `token=${aliceToken}` },
      });
      expect(res.statusCode).toBe(401);
      await res.body.dump();
      expect(untrusting.output()).toMatch(/jwks\.fetch-failed/);
    } finally {
      expect(await untrusting.stop()).toBe(0);
    }
  }, 90_000);

  it('no login: 401 at the registry (Admin Router would not pass it either); a forged or expired login: 401', async () => {
    const other = await rsaKeyPair();
    const forged = await dcosToken(other, undefined, { uid: WRITER });
    const expired = await dcosToken(iam, undefined, { uid: WRITER }, Math.floor(Date.now() / 1000) - 3600);
    for (const authorization of [undefined, `token=${forged}`, `token=${expired}`]) {
      const res = await request(`http://127.0.0.1:${task.port}/package/hello/1.0.0`, {
        method: 'DELETE',
        headers: authorization ? { authorization } : {},
      });
      expect(res.statusCode).toBe(401);
      await res.body.dump();
    }
    const r = await runCli(['registry', 'remove', '--package-name=hello', '--package-version=1.0.0'], plugin());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/dcos auth login/);
  }, 60_000);
});
