/**
 * The registry as DC/OS deploys it. The package's marathon.json.mustache is rendered as Cosmos
 * renders it, once with the default options and once with the seed's sample options file
 * (stray quote removed; bucket and endpoint pointed at the test Ceph RGW, the S3 credentials
 * as the file secret the seed makes), each with a write-tokens secret (the seed's writes went
 * through DC/OS IAM). The result must be a Marathon 1.x app; then the server is started
 * exactly as the app says (launch.ts) and the seed's flow runs against it over HTTPS under
 * the VIP name: the certificate comes from the DC/OS CA (real cfssl behind an Admin Router
 * double) via the service account secret; `/` answers the health JSON; `/repo` answers as
 * Cosmos asks; the CLI adds a bundle with an image, trusting the CA through
 * NODE_EXTRA_CA_CERTS; skopeo pulls the image as /repo names it, trusting the CA through a
 * certs.d directory as dockerd does.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { ProxyAgent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildBundle } from '../../lib/builder';
import { definition } from '../build/fixtures';
import { makeOciImage, pushWithSkopeo, skopeoInspectRaw } from '../docker/make-image';
import { type RegistryProcess, startRegistry } from '../docker/registry-process';
import { cliOk, onlyJson } from '../e2e/run';
import { serverBundle } from '../server/harness';
import { TEST_TOKEN } from '../support/offline';
import { randomPrefix, s3TestEnv } from '../support/stores';
import { type DcosCa, serviceAccount, startDcosCa } from './doubles';
import { type Launched, launch } from './launch';
import { expectValidApp } from './marathon-app';
import { type Json, merge, render, seedOptions, vipHost } from './render';
import { startVipProxy, type VipProxy } from './vip';

const COSMOS_ACCEPT = [
  'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5',
  'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4',
  'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v3',
].join(',');
const COSMOS_UA = 'cosmos/0.6.0 dcos/1.13.0';
const HEALTH_EMPTY = '{"checks":{"/repo":{"Healthy":{"message":"Able to find 0 package(s)."}}}}';

function skopeo(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('skopeo', args, { timeout: 120_000, maxBuffer: 16 << 20, env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

const account = serviceAccount();
let ca: DcosCa;
let source: RegistryProcess;
let work: string;
let bundlePath: string;
let bundleFile: string;
let imageRef: string;
let imageDigest: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'dcos-rendered-'));
  [ca, source, bundlePath] = await Promise.all([startDcosCa(account), startRegistry(), serverBundle()]);
  const image = makeOciImage(join(work, 'img'), { tag: 'v1', layerSizes: [2000, 90_000] });
  imageRef = `${source.host}/test/app:v1`;
  await pushWithSkopeo(image, imageRef);
  imageDigest = (await skopeoInspectRaw(imageRef)).digest;
  const def = definition({ assets: { container: { docker: { app: imageRef } } } }, 'imgpkg');
  writeFileSync(join(work, 'def.json'), JSON.stringify(def));
  await mkdir(join(work, 'out'));
  bundleFile = (await buildBundle({ definitionFile: join(work, 'def.json'), outputDirectory: join(work, 'out') })).path;
}, 240_000);

afterAll(async () => {
  await ca?.close();
  await source?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Case {
  name: string;
  storage: 'file' | 's3';
  options: () => Json;
  secrets: () => Record<string, string>;
}

const s3 = () => s3TestEnv();
const cases: Case[] = [
  {
    name: 'default options',
    storage: 'file',
    options: () => ({ registry: { 'write-tokens-secret-path': 'registry/write-tokens' } }),
    secrets: () => ({ 'dcos-registry-secret': account.secret(ca.router.loginEndpoint), 'registry/write-tokens': TEST_TOKEN }),
  },
  {
    name: "the seed's sample options",
    storage: 's3',
    options: () =>
      merge(seedOptions(), {
        registry: {
          s3: { bucket: s3().bucket, path: randomPrefix('dcos'), endpoint: s3().endpoint },
          'write-tokens-secret-path': 'registry/write-tokens',
        },
      }),
    secrets: () => ({
      'registry-private-key': account.secret(ca.router.loginEndpoint),
      'dcos-registry-s3-credential-file': `[default]\naws_access_key_id = ${process.env.AWS_ACCESS_KEY_ID}\naws_secret_access_key = ${process.env.AWS_SECRET_ACCESS_KEY}\n`,
      'registry/write-tokens': TEST_TOKEN,
    }),
  },
];

describe.each(cases)('the rendered app with $name', ({ options, secrets, storage }) => {
  let app: Json;
  let vip: { host: string; port: number };
  let task: Launched;
  let proxy: VipProxy;
  let clientDir: string;
  let dispatcher: ProxyAgent;

  beforeAll(async () => {
    app = render(options());
    vip = vipHost(app.portDefinitions[0].labels.VIP_0);
    task = await launch(app, { secrets: secrets(), bundle: bundlePath, caBundle: ca.cfssl.caPem });
    proxy = await startVipProxy({ [`${vip.host}:${vip.port}`]: task.port });
    clientDir = mkdtempSync(join(tmpdir(), 'dcos-client-'));
    // What every agent has: /etc/docker/certs.d/<vip host>/ca.crt, a copy of the cluster CA bundle.
    mkdirSync(join(clientDir, 'certs.d', vip.host), { recursive: true });
    writeFileSync(join(clientDir, 'certs.d', vip.host, 'ca.crt'), ca.cfssl.caPem);
    writeFileSync(join(clientDir, 'ca.crt'), ca.cfssl.caPem);
    dispatcher = new ProxyAgent({ uri: proxy.url, requestTls: { ca: ca.cfssl.caPem, servername: vip.host } });
  }, 120_000);

  afterAll(async () => {
    await dispatcher?.close();
    await proxy?.close();
    const code = await task?.stop();
    expect(code).toBe(0); // SIGTERM drains and exits 0
    if (clientDir) rmSync(clientDir, { recursive: true, force: true });
  });

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await request(`https://${vip.host}${path}`, { dispatcher, headers });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  };

  it('is a Marathon app as Marathon 1.x documents it, on VIP :443 with an HTTPS health check', () => {
    expectValidApp(app);
    expect(vip).toEqual({ host: 'dcos-registry.marathon.l4lb.thisdcos.directory', port: 443 });
    expect(app.healthChecks[0]).toMatchObject({ protocol: 'MESOS_HTTPS', portIndex: 0 });
  });

  it('runs on the storage the options chose (S3 credentials from the secret file, not the environment)', async () => {
    // The log line follows the stdout line launch() waited for.
    await vi.waitFor(() => {
      const logs = task.logs();
      expect(logs.find((l) => l.msg === 'listening')).toMatchObject({ storage, writes: true, port: task.port });
    });
    // On S3 the CLI uploads through the registry by default: a laptop outside the cluster reaches an on-prem store no more than the VIP.
    expect(app.env.REGISTRY_UPLOADS).toBe(storage === 's3' ? 'proxy' : undefined);
  });

  it('serves HTTPS on PORT0 with a certificate for the VIP name from the DC/OS CA', async () => {
    const cert = await new Promise<X509Certificate>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: task.port, servername: vip.host, ca: ca.cfssl.caPem }, () => {
        const c = socket.getPeerX509Certificate();
        socket.end();
        c ? resolve(c) : reject(new Error('no certificate'));
      });
      socket.once('error', reject);
    });
    expect(cert.checkHost(vip.host)).toBe(vip.host);
    expect(cert.verify(new X509Certificate(ca.cfssl.caPem).publicKey)).toBe(true);
    const logins = ca.router.requests.filter((r) => r.path === '/acs/api/v1/auth/login' && r.status === 200);
    expect(logins.length).toBeGreaterThan(0);
    for (const r of ca.router.requests) expect(r.body).not.toMatch(/PRIVATE KEY/);
  });

  it('answers / and the health check path with the health JSON', async () => {
    for (const path of ['/', app.healthChecks[0].path]) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.text).toBe(HEALTH_EMPTY);
    }
  });

  it('adds a bundle with the CLI, then serves it in /repo as Cosmos asks, the image named at the VIP host', async () => {
    const env = {
      HTTPS_PROXY: proxy.url,
      NO_PROXY: '127.0.0.1,localhost',
      NODE_EXTRA_CA_CERTS: join(clientDir, 'ca.crt'),
    };
    const added = await cliOk(['add', `--dcos-file=${bundleFile}`, `--url=https://${vip.host}`, `--token=${TEST_TOKEN}`, '--json'], env);
    expect(onlyJson(added.stdout)).toEqual({ packages: [{ name: 'imgpkg', version: '1.0.0', status: 'Added' }] });
    const repo = await get('/repo', { accept: COSMOS_ACCEPT, 'user-agent': COSMOS_UA });
    expect(repo.status).toBe(200);
    expect(repo.headers['content-type']).toMatch(/^application\/vnd\.dcos\.universe\.repo\+json;charset=utf-8;version=v[345]$/);
    const entry = JSON.parse(repo.text).packages.find((p: Json) => p.name === 'imgpkg');
    expect(entry.resource.assets.container.docker.app).toBe(`${vip.host}/test/app@${imageDigest}`);
    expect(proxy.targets.every((t) => t === `${vip.host}:443`)).toBe(true);
    // Every blob went to the registry's own /_store targets (S3 included: the package's default uploads=proxy), none to the store.
    const logs = task.logs();
    const puts = logs.filter((l) => l.msg === 'access' && l.method === 'PUT' && String(l.path).startsWith('/_store/uploads/'));
    expect(puts.length).toBeGreaterThan(0);
    expect(puts.every((l) => l.status === 200)).toBe(true);
  }, 120_000);

  it('lets skopeo pull the image as /repo names it, trusting the CA through a certs.d directory', async () => {
    const ref = `${vip.host}/test/app@${imageDigest}`;
    const dest = join(clientDir, 'pulled');
    const r = await skopeo(['copy', '--src-cert-dir', join(clientDir, 'certs.d', vip.host), `docker://${ref}`, `oci:${dest}:pulled`], {
      HTTPS_PROXY: proxy.url,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const index = JSON.parse(readFileSync(join(dest, 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).toBe(imageDigest);
    // Without the CA the same pull is refused: the trust really comes from certs.d.
    const untrusted = await skopeo(['inspect', `docker://${ref}`], { HTTPS_PROXY: proxy.url });
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.stderr).toMatch(/certificate signed by unknown authority/);
  }, 120_000);
});
