/**
 * Packaging of the registry itself: the Universe package `package-registry` passes the
 * project's own migrate; its Marathon template, rendered as Cosmos renders it (config.json
 * defaults merged with the options, checked against config.json, then mustache), is a valid
 * Marathon app in each storage and TLS mode, with the seed's names and options; the
 * combinations the seed rules out are refused with a message; the command line derives the
 * VIP name as DC/OS does; the example Marathon app is exactly such a rendering; and the
 * Dockerfile copies files that exist and starts the server with flags it accepts.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrateToFile } from '../../lib/builder/migrate';
import { parseConfig } from '../../lib/config';
import { migratePackageDirectory } from '../../lib/universe/package-dir';
import { parseServerOptions } from '../../server/options';
import { expectValidApp } from '../dcos/marathon-app';
import {
  defaultsOf,
  type Json,
  optionErrors,
  PKG,
  packageConfig,
  ROOT,
  render,
  renderText,
  SEED_OPTIONS_TEXT,
  seedOptions,
  vipHost,
} from '../dcos/render';

const LOCAL_ONE_INSTANCE = 'Local storage and a mounted volume live on one agent: more than one instance needs registry.s3.bucket.';
const TLS_NEEDS_A_SOURCE = 'TLS needs a certificate: set registry.service-account-secret-path';

/** Runs the rendered cmd under sh with a stand-in `node` that records its argv and environment. */
function runCmd(app: Json, appId: string): { args: string[]; env: Record<string, string> } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'registry-cmd-'));
  try {
    writeFileSync(path.join(dir, 'node'), '#!/bin/sh\nprintf "%s\\n" "$@" > "$OUT/args"\nenv > "$OUT/env"\n');
    chmodSync(path.join(dir, 'node'), 0o755);
    execFileSync('/bin/sh', ['-c', app.cmd], {
      env: { PATH: `${dir}:/usr/bin:/bin`, OUT: dir, MESOS_SANDBOX: '/mnt/mesos/sandbox', PORT0: '31337', MARATHON_APP_ID: appId },
    });
    const env = Object.fromEntries(
      readFileSync(path.join(dir, 'env'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    return { args: readFileSync(path.join(dir, 'args'), 'utf8').trim().split('\n'), env };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('Universe package package-registry', () => {
  it("is accepted by the project's migrate", async () => {
    const { definition } = await migratePackageDirectory(PKG);
    expect(definition).toMatchObject({ packagingVersion: '4.0', name: 'package-registry' });
    expect(definition).not.toHaveProperty('selected');
    // The package names its CLI zips by relative path, and migrate copies local assets beside the
    // definition: they are outputs of `npm run build:plugin` (DCOS_REGISTRY_PLUGIN_DIR in CI),
    // so the package directory is staged with them, or with stand-ins when they were not built.
    const staged = await mkdtemp(path.join(os.tmpdir(), 'registry-package-'));
    cpSync(PKG, staged, { recursive: true });
    const resource = JSON.parse(readFileSync(path.join(PKG, 'resource.json'), 'utf8'));
    for (const platform of Object.values<any>(resource.cli.binaries)) {
      const url: string = platform['x86-64'].url;
      const built = process.env.DCOS_REGISTRY_PLUGIN_DIR && path.join(process.env.DCOS_REGISTRY_PLUGIN_DIR, path.basename(url));
      mkdirSync(path.dirname(path.join(staged, url)), { recursive: true });
      if (built && existsSync(built)) cpSync(built, path.join(staged, url));
      else writeFileSync(path.join(staged, url), 'stand-in for a zip of npm run build:plugin');
    }
    const out = await mkdtemp(path.join(os.tmpdir(), 'registry-migrate-'));
    try {
      const written = await migrateToFile({ packageDirectory: staged, outputDirectory: out });
      expect(written.path).toBe(path.join(out, `package-registry-${definition.version}.json`));
    } finally {
      rmSync(staged, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("has the version of the server it packages, and the seed's options with defaults", async () => {
    const pkg = JSON.parse(await readFile(path.join(PKG, 'package.json'), 'utf8'));
    const project = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.version).toBe(project.version);
    const d = defaultsOf(packageConfig());
    expect(Object.keys(d.registry.s3)).toEqual(
      expect.arrayContaining(['bucket', 'path', 'endpoint', 'credential-secret-path', 'credential-profile-name']),
    );
    expect(Object.keys(d.registry['mount-volume'])).toEqual(expect.arrayContaining(['container-path', 'pinned-hostname']));
    expect(Object.keys(d.registry)).toEqual(
      expect.arrayContaining(['service-account-secret-path', 'write-tokens-secret-path', 'public-url', 'downloads']),
    );
    expect(Object.keys(d.service)).toEqual(expect.arrayContaining(['name', 'instances', 'cpus', 'mem', 'disk']));
    expect(d.service.name).toBe('dcos-registry');
  });

  it('renders with default options: dcos-registry on VIP :443 over HTTPS from the DC/OS CA, local storage, one instance', () => {
    const app = render();
    expectValidApp(app);
    expect(app).toMatchObject({
      id: 'dcos-registry',
      instances: 1,
      container: { type: 'MESOS', docker: { image: 'dcos-registry/server:0.1.0' } },
    });
    expect(vipHost(app.portDefinitions[0].labels.VIP_0)).toEqual({ host: 'dcos-registry.marathon.l4lb.thisdcos.directory', port: 443 });
    expect(app.container.volumes).toEqual([
      { containerPath: 'service-account.json', secret: 'service-account' },
      { containerPath: 'registry-data', mode: 'RW', persistent: { type: 'root', size: 20480 } },
    ]);
    expect(app.secrets).toEqual({ 'service-account': { source: 'dcos-registry-secret' } });
    expect(app.healthChecks[0]).toMatchObject({ protocol: 'MESOS_HTTPS', path: '/health', portIndex: 0 });
    expect(app.labels).toMatchObject({ DCOS_SERVICE_NAME: 'dcos-registry', DCOS_SERVICE_SCHEME: 'https', DCOS_SERVICE_PORT_INDEX: '0' });
    expect(app.constraints).toEqual([]);
  });

  it("renders the seed's sample options file (stray quote removed): S3, its credentials file, the service account", () => {
    expect(() => JSON.parse(SEED_OPTIONS_TEXT)).toThrow(); // as published, no JSON parser takes it
    const app = render(seedOptions());
    expectValidApp(app);
    expect(app).toMatchObject({ id: 'dcos-registry', instances: 2, mem: 2048 });
    expect(app.env).toMatchObject({
      REGISTRY_STORAGE: 's3://my-bucket/my-path-in-bucket',
      REGISTRY_S3_ENDPOINT: 'https://s3.us-east-1.amazonaws.com',
      REGISTRY_S3_FORCE_PATH_STYLE: 'true',
      AWS_PROFILE: 'default',
    });
    expect(app.secrets).toEqual({
      'service-account': { source: 'registry-private-key' },
      's3-credentials': { source: 'dcos-registry-s3-credential-file' },
    });
    expect(app.container.volumes).toContainEqual({ containerPath: 'aws-credentials', secret: 's3-credentials' });
    expect(app.upgradeStrategy).toEqual({ minimumHealthCapacity: 1, maximumOverCapacity: 0.5 });
  });

  it("renders the seed's mount volume: /dcos/package-registry of the pinned agent at container-path", () => {
    const app = render({
      registry: { 'mount-volume': { 'container-path': 'package-registry', 'pinned-hostname': 'a.specific.node.com' } },
    });
    expectValidApp(app);
    expect(app.container.volumes).toContainEqual({ containerPath: 'package-registry', hostPath: '/dcos/package-registry', mode: 'RW' });
    expect(app.container.volumes.some((v: Json) => v.persistent)).toBe(false);
    expect(app.constraints).toEqual([['hostname', 'CLUSTER', 'a.specific.node.com']]);
    expect(runCmd(app, '/dcos-registry').env.REGISTRY_STORAGE).toBe('file:/mnt/mesos/sandbox/package-registry');
  });

  it("names the VIP, the images and the certificate after the app id without its slashes (the seed's /my/custom/dcos-registry)", () => {
    const app = render({ service: { name: '/my/custom/dcos-registry' } });
    expectValidApp(app);
    expect(app.id).toBe('/my/custom/dcos-registry');
    expect(app.portDefinitions[0].labels.VIP_0).toBe('/my/custom/dcos-registry:443');
    const vip = vipHost(app.portDefinitions[0].labels.VIP_0);
    expect(vip).toEqual({ host: 'mycustomdcos-registry.marathon.l4lb.thisdcos.directory', port: 443 });
    const run = runCmd(app, '/my/custom/dcos-registry');
    // Images in /repo are named at exactly the host agents trust: no port on 443.
    expect(run.env.REGISTRY_DOCKER_HOST).toBe(vip.host);
    expect(run.env.REGISTRY_PUBLIC_URL).toBe(`https://${vip.host}`);
    expect(run.args.slice(run.args.indexOf('--tls-hosts'), run.args.indexOf('--tls-hosts') + 2)).toEqual(['--tls-hosts', vip.host]);
    const flags = run.args.slice(1);
    expect(parseServerOptions(flags)).toMatchObject({
      host: '0.0.0.0',
      port: 31337,
      shutdownGraceMs: 25_000,
      dcosTls: { serviceAccountFile: '/mnt/mesos/sandbox/service-account.json', hosts: [vip.host] },
    });
    // Marathon's SIGKILL comes after taskKillGracePeriodSeconds: the drain must fit inside it.
    expect(app.taskKillGracePeriodSeconds * 1000).toBeGreaterThan(25_000);
  });

  it('refuses local storage or a mounted volume with more than one instance, saying why', () => {
    expect(optionErrors({ service: { instances: 2 } })).toEqual([LOCAL_ONE_INSTANCE]);
    expect(optionErrors({ service: { instances: 2 }, registry: { 'mount-volume': { 'pinned-hostname': 'a.node' } } })).toEqual([
      LOCAL_ONE_INSTANCE,
    ]);
    expect(optionErrors({ service: { instances: 2 }, registry: { s3: { bucket: 'b' } } })).toEqual([]);
  });

  it('refuses to render without a certificate source unless plain HTTP is asked for, and says so', () => {
    const none = { registry: { 'service-account-secret-path': '' } };
    expect(optionErrors(none)).toEqual([expect.stringContaining(TLS_NEEDS_A_SOURCE)]);
    const text = renderText(none);
    expect(text.startsWith('package-registry refuses to render: TLS needs a certificate.')).toBe(true);
    expect(() => JSON.parse(text)).toThrow();

    const plain = render({
      registry: { 'service-account-secret-path': '', tls: { 'plain-http': true }, 'write-tokens-secret-path': 'tokens' },
    });
    expectValidApp(plain);
    expect(plain.portDefinitions[0].labels.VIP_0).toBe('dcos-registry:80');
    expect(plain.healthChecks[0].protocol).toBe('MESOS_HTTP');
    expect(plain.cmd).not.toMatch(/--tls/);
    expect(runCmd(plain, '/dcos-registry').env.REGISTRY_DOCKER_HOST).toBe('dcos-registry.marathon.l4lb.thisdcos.directory:80');
    expect(plain.secrets).toEqual({ 'write-tokens': { source: 'tokens' } });
  });

  it('serves a certificate from secrets when given (both secrets, or neither)', () => {
    const app = render({ registry: { tls: { 'certificate-secret-path': 'registry/cert', 'private-key-secret-path': 'registry/key' } } });
    expectValidApp(app);
    expect(app.secrets).toEqual({ 'tls-certificate': { source: 'registry/cert' }, 'tls-private-key': { source: 'registry/key' } });
    const flags = runCmd(app, '/dcos-registry').args;
    expect(parseServerOptions(flags.slice(1))).toMatchObject({
      tls: { cert: '/mnt/mesos/sandbox/tls-certificate.pem', key: '/mnt/mesos/sandbox/tls-private-key.pem' },
      dcosTls: undefined,
    });
    expect(optionErrors({ registry: { tls: { 'certificate-secret-path': 'registry/cert' } } })).toEqual([
      'registry.tls.certificate-secret-path and registry.tls.private-key-secret-path go together.',
    ]);
  });

  it('uploads through the registry on S3 by default (a laptop reaches an on-prem store no more than the VIP); direct on request', () => {
    const s3 = { bucket: 'registry', endpoint: 'http://rgw.site:7480' };
    expect(render({ registry: { s3 } }).env.REGISTRY_UPLOADS).toBe('proxy');
    expect(render({ registry: { s3, uploads: 'direct' } }).env.REGISTRY_UPLOADS).toBe('direct');
    // Local storage receives uploads itself: the setting is not rendered.
    expect(render().env.REGISTRY_UPLOADS).toBeUndefined();
    expect(optionErrors({ registry: { uploads: 'elsewhere' } })).not.toEqual([]);
  });

  it('keeps the extras (write tokens, public URL, downloads mode, S3 with every secret) consistent', () => {
    const app = render({
      service: { instances: 3 },
      registry: {
        s3: {
          bucket: 'registry',
          path: 'prod',
          endpoint: 'http://rgw.site:7480',
          'credential-secret-path': 'registry/s3',
          'credential-profile-name': 'registry',
        },
        'write-tokens-secret-path': 'registry/tokens',
        'public-url': 'https://master.site/service/dcos-registry',
        downloads: 'redirect',
      },
    });
    expectValidApp(app);
    expect(app.env).toMatchObject({
      REGISTRY_WRITE_TOKENS: { secret: 'write-tokens' },
      REGISTRY_PUBLIC_URL: 'https://master.site/service/dcos-registry',
      REGISTRY_DOWNLOADS: 'redirect',
      AWS_PROFILE: 'registry',
    });
    expect(Object.keys(app.secrets).sort()).toEqual(['s3-credentials', 'service-account', 'write-tokens']);
    const run = runCmd({ ...app, cmd: app.cmd }, '/dcos-registry');
    expect(run.env.REGISTRY_DOCKER_HOST).toBe('dcos-registry.marathon.l4lb.thisdcos.directory');
    expect(run.env.AWS_SHARED_CREDENTIALS_FILE).toBe('/mnt/mesos/sandbox/aws-credentials');
  });

  it('lets DC/OS logins write when registry.auth.writers is set: JWKS URL (DC/OS IAM by default) and writers in env, accepted by the server', () => {
    const without = render();
    expect(without.env).not.toHaveProperty('REGISTRY_JWKS_URL');
    expect(without.env).not.toHaveProperty('REGISTRY_WRITERS');
    const app = render({ registry: { auth: { writers: 'alice, ci-bot' } } });
    expectValidApp(app);
    expect(app.env).toMatchObject({ REGISTRY_JWKS_URL: 'https://leader.mesos/acs/api/v1/auth/jwks', REGISTRY_WRITERS: 'alice, ci-bot' });
    const env = Object.fromEntries(Object.entries<unknown>(app.env).filter((e): e is [string, string] => typeof e[1] === 'string'));
    expect(parseConfig({ ...env, REGISTRY_STORAGE: 'file:/tmp/unused' }).jwt).toMatchObject({
      jwksUrl: 'https://leader.mesos/acs/api/v1/auth/jwks',
      writers: ['alice', 'ci-bot'],
    });
    const own = render({ registry: { auth: { writers: 'alice', 'jwks-url': 'https://iam.site:8443/acs/api/v1/auth/jwks' } } });
    expect(own.env.REGISTRY_JWKS_URL).toBe('https://iam.site:8443/acs/api/v1/auth/jwks');
  });

  it('refuses writers or a JWKS URL that would not survive rendering or are not what they claim', () => {
    for (const writers of ['al"ice', 'alice;bob', ',alice', 'alice,', 'a b'])
      expect(optionErrors({ registry: { auth: { writers } } })).not.toEqual([]);
    for (const url of ['', 'ftp://x/jwks', 'https://x/jwks?a=b&c=d', 'https://x/"']) {
      expect(optionErrors({ registry: { auth: { writers: 'alice', 'jwks-url': url } } })).not.toEqual([]);
    }
  });

  it('refuses a service name Marathon would not take', () => {
    for (const name of ['', '//x', 'Registry', 'a/', 'a b']) expect(optionErrors({ service: { name } })).not.toEqual([]);
  });
});

describe('plain Marathon app', () => {
  it('is the package template rendered with packaging/marathon/options.json', async () => {
    const options = JSON.parse(await readFile(path.join(ROOT, 'packaging/marathon/options.json'), 'utf8'));
    const app = JSON.parse(await readFile(path.join(ROOT, 'packaging/marathon/dcos-registry.json'), 'utf8'));
    expectValidApp(app);
    expect(app).toEqual(render(options));
  });
});

describe('Dockerfile', () => {
  it('copies sources that exist and runs the bundle with flags the server accepts', async () => {
    const text = await readFile(path.join(ROOT, 'packaging/Dockerfile'), 'utf8');
    const copies = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
    expect(copies.length).toBeGreaterThan(0);
    for (const src of copies)
      await expect(readFile(path.join(ROOT, src)).catch((e) => (e.code === 'EISDIR' ? 'dir' : Promise.reject(e)))).resolves.toBeDefined();
    expect(text).toMatch(/server\/build\.ts/);
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(text)![1]) as string[];
    expect(cmd.slice(0, 2)).toEqual(['node', '/app/server.js']);
    const options = parseServerOptions(cmd.slice(2));
    expect(options).toMatchObject({ host: '0.0.0.0' });
    expect(text).toMatch(new RegExp(`^EXPOSE ${(options as { port: number }).port}$`, 'm'));
    // The rendered Marathon app runs the same file.
    expect(render().cmd).toContain('exec node /app/server.js ');
  });
});
