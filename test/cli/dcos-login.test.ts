/**
 * Where the CLI sends its requests and with which credentials (lib/client/registry.ts
 * resolveConnection): standalone (--url / DCOS_REGISTRY_URL, Bearer on writes only) or as a DC/OS
 * CLI plugin (DCOS_URL → <DCOS_URL>/service/<name>/, `token=<DCOS_ACS_TOKEN>` on every request,
 * DCOS_TLS_INSECURE / DCOS_TLS_CA_PATH honoured). A recording HTTPS server with a self-signed
 * certificate plays the cluster.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttps, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientConfigError, describePackage, removePackage, resolveConnection } from '../../lib/client';
import { selfSignedCertificate } from '../support/tls';
import { runCli } from './run-cli';

const seen: Array<{ method: string; path: string; authorization?: string }> = [];
let server: Server;
let url: string;
let dir: string;
let caFile: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dcos-login-'));
  const tls = await selfSignedCertificate(dir);
  caFile = tls.certFile;
  server = createHttps({ key: tls.key, cert: tls.cert }, (req, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization });
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'hello', version: '1.0.0', status: 'Added' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

const last = () => seen[seen.length - 1];

describe('resolveConnection', () => {
  it('as a DC/OS plugin: Admin Router path, token= on reads and writes, the cluster CA trusted', async () => {
    const c = resolveConnection({ dcosUrl: `${url}/`, dcosAcsToken: 'acs-token', dcosTlsCaPath: caFile });
    expect(c).toMatchObject({ mode: 'dcos', url: `${url}/service/dcos-registry`, authScheme: 'token' });
    await describePackage(c, 'hello', '1.0.0');
    expect(last()).toEqual({ method: 'GET', path: '/service/dcos-registry/package/hello/1.0.0', authorization: 'token=acs-token' });
    await removePackage(c, 'hello', '1.0.0');
    expect(last()).toEqual({ method: 'DELETE', path: '/service/dcos-registry/package/hello/1.0.0', authorization: 'token=acs-token' });
  });

  it('--name picks the service, nested groups included; a bad name is refused', async () => {
    const c = resolveConnection({ dcosUrl: url, dcosAcsToken: 't', name: '/infra/my-registry', dcosTlsInsecure: true });
    await describePackage(c, 'hello', '1.0.0');
    expect(last().path).toBe('/service/infra/my-registry/package/hello/1.0.0');
    expect(() => resolveConnection({ dcosUrl: url, name: '../acs/api' })).toThrow(ClientConfigError);
    expect(() => resolveConnection({ dcosUrl: url, name: 'Upper' })).toThrow(/invalid service name/);
  });

  it('TLS: an unknown CA is refused unless DCOS_TLS_INSECURE or DCOS_TLS_CA_PATH says otherwise', async () => {
    const strict = resolveConnection({ dcosUrl: url, dcosAcsToken: 't' });
    await expect(describePackage({ ...strict, retry: { attempts: 1 } }, 'hello', '1.0.0')).rejects.toThrow(/certificate/i);
    const insecure = resolveConnection({ dcosUrl: url, dcosAcsToken: 't', dcosTlsInsecure: true });
    await expect(describePackage(insecure, 'hello', '1.0.0')).resolves.toMatchObject({ status: 'Added' });
    expect(() => resolveConnection({ dcosUrl: url, dcosTlsCaPath: path.join(dir, 'missing.pem') })).toThrow(/CA certificate file/);
  });

  it('standalone wins when a registry URL is given: Bearer on writes, nothing on reads, never the ACS token', async () => {
    const c = resolveConnection({
      registryUrl: url,
      registryToken: 'static-token',
      dcosUrl: 'https://cluster.invalid',
      dcosAcsToken: 'acs-token',
      caFile,
    });
    expect(c.mode).toBe('standalone');
    await describePackage(c, 'hello', '1.0.0');
    expect(last()).toEqual({ method: 'GET', path: '/package/hello/1.0.0', authorization: undefined });
    await removePackage(c, 'hello', '1.0.0');
    expect(last()).toEqual({ method: 'DELETE', path: '/package/hello/1.0.0', authorization: 'Bearer static-token' });
  });

  it('neither a URL nor an attached cluster: says how to give one', () => {
    expect(() => resolveConnection({})).toThrow(/--url or set DCOS_REGISTRY_URL/);
  });
});

describe('dcos-registry as a plugin (the CLI reads the DC/OS CLI environment)', () => {
  it('DCOS_URL, DCOS_ACS_TOKEN, DCOS_TLS_CA_PATH reach the registry through Admin Router', async () => {
    const r = await runCli(['registry', 'describe', '--package-name=hello', '--package-version=1.0.0', '--json'], {
      DCOS_URL: url,
      DCOS_ACS_TOKEN: 'acs-token',
      DCOS_TLS_CA_PATH: caFile,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(last()).toEqual({ method: 'GET', path: '/service/dcos-registry/package/hello/1.0.0', authorization: 'token=acs-token' });
  });

  it('--token on the command line works but warns; --help says to prefer the variable', async () => {
    const r = await runCli(['describe', '--package-name=hello', '--package-version=1.0.0', `--url=${url}`, '--token=secret-token'], {
      NODE_EXTRA_CA_CERTS: caFile,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^Warning: --token on the command line is visible to other users.*DCOS_REGISTRY_TOKEN/);
    const help = await runCli(['add', '--help']);
    expect(help.stdout).toMatch(/--token TOKEN .*visible to other users: prefer the variable/);
  });
});
