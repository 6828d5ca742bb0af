/**
 * `dcos registry activate --options=<file>` against a stand-in for the DC/OS cluster (Cosmos and
 * Admin Router cannot run here) that checks every request against the documented shapes: Cosmos's
 * versioned media types in Content-Type and Accept, the request bodies, and `token=<login>`.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COSMOS_MEDIA } from '../../lib/dcos/activate';
import { runCli } from './run-cli';

const TOKEN = 'dcos-login-token';
let server: Server;
let url: string;
let dir: string;
const calls: Array<{ method: string; path: string; body?: unknown }> = [];
const problems: string[] = [];
let healthFailures = 0;
let installed = false;

async function read(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString();
  return text ? JSON.parse(text) : undefined;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'activate-'));
  server = createServer(async (req, res) => {
    const body = await read(req);
    const p = req.url ?? '';
    calls.push({ method: req.method ?? '', path: p, body });
    const send = (status: number, type: string, value: unknown) =>
      res.writeHead(status, { 'content-type': type }).end(JSON.stringify(value));
    if (req.headers.authorization !== `token=${TOKEN}`) {
      problems.push(`${p}: authorization ${req.headers.authorization}`);
      return send(401, 'application/json', { message: 'Unauthorized' });
    }
    const expectMedia = (contentType: string, accept: string) => {
      if (req.headers['content-type'] !== contentType) problems.push(`${p}: content-type ${req.headers['content-type']}`);
      if (req.headers.accept !== accept) problems.push(`${p}: accept ${req.headers.accept}`);
    };
    if (req.method === 'POST' && p === '/package/install') {
      expectMedia(COSMOS_MEDIA.installRequest, COSMOS_MEDIA.installResponse);
      const b = body as { packageName?: unknown; options?: { service?: { name?: unknown } } };
      if (b?.packageName !== 'package-registry' || b.options?.service?.name !== 'dcos-registry')
        problems.push(`install body ${JSON.stringify(body)}`);
      if (installed) {
        return send(409, 'application/vnd.dcos.package.error+json;charset=utf-8;version=v1', {
          type: 'PackageAlreadyInstalled',
          message: 'Package is already installed',
        });
      }
      installed = true;
      return send(200, COSMOS_MEDIA.installResponse, {
        packageName: 'package-registry',
        packageVersion: '0.1.0',
        appId: '/dcos-registry',
        postInstallNotes: 'ok',
      });
    }
    if (req.method === 'GET' && p === '/service/dcos-registry/health') {
      if (healthFailures-- > 0) return send(502, 'text/html', 'Bad Gateway');
      return send(200, 'application/json', { status: 'Healthy' });
    }
    if (req.method === 'POST' && p === '/package/repository/add') {
      expectMedia(COSMOS_MEDIA.repoAddRequest, COSMOS_MEDIA.repoAddResponse);
      const b = body as Record<string, unknown>;
      if (
        JSON.stringify(b) !==
        JSON.stringify({ name: 'Registry', uri: 'https://dcos-registry.marathon.l4lb.thisdcos.directory/repo', index: 0 })
      )
        problems.push(`repository body ${JSON.stringify(body)}`);
      return send(200, COSMOS_MEDIA.repoAddResponse, { repositories: [{ name: 'Registry', uri: b.uri }] });
    }
    problems.push(`unexpected ${req.method} ${p}`);
    return send(404, 'application/json', { message: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const env = () => ({ DCOS_URL: url, DCOS_ACS_TOKEN: TOKEN, DCOS_TLS_INSECURE: '1' });

describe('dcos registry activate', () => {
  it('installs through Cosmos, waits for health, adds the repository at index 0; a second run goes through too', async () => {
    const options = path.join(dir, 'options.json');
    await writeFile(options, JSON.stringify({ registry: { 'write-tokens-secret-path': 'dcos-registry/write-tokens' } }));
    healthFailures = 1;
    const r = await runCli(['registry', 'activate', `--options=${options}`, '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      service: 'dcos-registry',
      appId: '/dcos-registry',
      repositoryUri: 'https://dcos-registry.marathon.l4lb.thisdcos.directory/repo',
    });
    expect(r.stderr).toContain('Installing package-registry through the DC/OS package manager');
    expect(r.stderr).toContain('dcos-registry is healthy');
    expect(r.stderr).toContain('Added the package repository Registry');
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /package/install',
      'GET /service/dcos-registry/health',
      'GET /service/dcos-registry/health',
      'POST /package/repository/add',
    ]);
    expect(calls[0].body).toEqual({
      packageName: 'package-registry',
      options: { registry: { 'write-tokens-secret-path': 'dcos-registry/write-tokens' }, service: { name: 'dcos-registry' } },
    });

    const again = await runCli(['registry', 'activate', `--options=${options}`], env());
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('already installed');
    expect(problems).toEqual([]);
  });

  it('without --options: prints the manual steps and changes nothing; standalone: refused', async () => {
    const before = calls.length;
    const r = await runCli(['registry', 'activate'], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('dcos security secrets create');
    expect(r.stderr).toMatch(/Error: activate: give --options=<file>/);
    expect(calls.length).toBe(before);
    const standalone = await runCli(['activate', '--options=x.json'], { DCOS_REGISTRY_URL: url });
    expect(standalone.code).toBe(1);
    expect(standalone.stderr).toMatch(/^Error: activate: needs an attached DC\/OS cluster/);
  });
});
