/**
 * Uploads through Admin Router as the package ships (issue 13 item 2): a laptop outside the
 * cluster reaches only `<DCOS_URL>/service/dcos-registry/`, neither the store nor the
 * registry's own address. The package sets REGISTRY_PUBLIC_URL to the VIP
 * (https://dcos-registry.marathon.l4lb.thisdcos.directory: Cosmos and agents need it for asset
 * URLs), which the laptop cannot reach either. The real CLI `add`s a bundle, as a DC/OS plugin
 * (DCOS_URL, DCOS_ACS_TOKEN), to the production server (on the shared RGW with
 * REGISTRY_UPLOADS=proxy, and on the file driver) through a local proxy that strips the prefix
 * as Admin Router does and sends no prefix header. The client's only way out is that proxy
 * (HTTP_PROXY): a tunnel or request for any other host (the VIP, the store, the registry's inner
 * address) is refused and recorded, and the test asserts there was none. A third case, not as
 * shipped: a proxy that sends X-Forwarded-Host/Prefix to a registry that trusts it (no public URL)
 * gets /repo asset URLs under the prefix. The server's peak RSS
 * is read from /proc while the parts stream to S3 (RELAY_ASSET_MB sizes the big asset; 24 by
 * default, 200 for the figure in the report).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOk, onlyJson } from '../e2e/run';
import { startAssetServer, type AssetServer } from '../e2e/servers';
import { TEST_TOKEN } from '../support/offline';
import { fileStore, s3Store, type TestStore } from '../support/stores';
import { type ServerProcess, startServer } from './harness';

const SERVICE = '/service/dcos-registry';
/** What the package sets REGISTRY_PUBLIC_URL to: the VIP, unreachable from outside the cluster. */
const VIP_URL = 'https://dcos-registry.marathon.l4lb.thisdcos.directory';
const MiB = 1024 * 1024;
const BIG_MB = Number(process.env.RELAY_ASSET_MB ?? 24);

interface AdminRouter {
  url: string;
  /** Where requests under SERVICE go (the registry's inner address). */
  target?: URL;
  /** Requests passed on, as "METHOD path" after the prefix was stripped. */
  forwarded: string[];
  /** Requests for anything but this proxy (the store, the registry's inner address): refused. */
  elsewhere: string[];
  close(): Promise<void>;
}

/**
 * Admin Router's `/service/<name>/` location: strips the prefix and passes the rest on (bodies
 * streamed both ways, Authorization kept). It is also the client's HTTP proxy (absolute-form
 * request targets): a request naming any other host is answered 403 and recorded.
 */
async function startAdminRouter(options: { sendPrefix?: boolean } = {}): Promise<AdminRouter> {
  const ar: AdminRouter = { url: '', forwarded: [], elsewhere: [], close: async () => undefined };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const raw = req.url ?? '/';
    const target = raw.startsWith('http://') || raw.startsWith('https://') ? new URL(raw) : new URL(raw, ar.url);
    if (target.origin !== ar.url) {
      ar.elsewhere.push(`${req.method} ${target.origin}${target.pathname}`);
      req.resume();
      return void res.writeHead(403).end('only Admin Router is reachable from here');
    }
    if (!target.pathname.startsWith(`${SERVICE}/`) || !ar.target) return void res.writeHead(404).end('no such service');
    const inner = target.pathname.slice(SERVICE.length) + target.search;
    ar.forwarded.push(`${req.method} ${target.pathname.slice(SERVICE.length)}`);
    // Admin Router sends no prefix header; another proxy may (X-Forwarded-Host/Prefix: where the client reached it).
    const forwarded = options.sendPrefix ? { 'x-forwarded-host': req.headers.host ?? '', 'x-forwarded-prefix': SERVICE } : {};
    const headers = { ...req.headers, host: ar.target.host, ...forwarded };
    const upstream = httpRequest(
      { host: ar.target.hostname, port: Number(ar.target.port), method: req.method, path: inner, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  // undici's proxy agent tunnels every request (CONNECT host:port): only a tunnel to this proxy itself is opened.
  server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (`http://${req.url}` !== ar.url) {
      ar.elsewhere.push(`CONNECT ${req.url}`);
      return void socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) socket.unshift(head);
    server.emit('connection', socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ar.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ar.close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return ar;
}

/** Peak resident set of a process, in MiB (VmHWM). */
function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM for ${pid}`);
  return Number(m[1]) / 1024;
}

interface Case {
  name: string;
  store: () => Promise<TestStore>;
  env: Record<string, string>;
  /** REGISTRY_PUBLIC_URL; none: the base comes from a trusted proxy's X-Forwarded-Host/Prefix. */
  publicUrl?: string;
  /** Read the server's peak RSS while the parts stream (the relay to S3 must not buffer them). */
  rss: boolean;
}

const cases: Case[] = [
  { name: 'S3 with REGISTRY_UPLOADS=proxy', store: s3Store, env: { REGISTRY_UPLOADS: 'proxy' }, publicUrl: VIP_URL, rss: true },
  { name: 'the file driver', store: fileStore, env: {}, publicUrl: VIP_URL, rss: false },
  // Not as shipped: a proxy that sends X-Forwarded-Prefix to a registry that trusts it gets absolute URLs under the prefix.
  {
    name: 'a trusted proxy that sends X-Forwarded-Prefix (file driver)',
    store: fileStore,
    env: { REGISTRY_TRUST_PROXY: 'true' },
    rss: false,
  },
];

describe.each(cases)('uploads through Admin Router as shipped (public URL at the VIP, production server): $name', (c) => {
  let store: TestStore;
  let ar: AdminRouter;
  let server: ServerProcess;
  let assets: AssetServer;
  let work: string;

  beforeAll(async () => {
    store = await c.store();
    ar = await startAdminRouter({ sendPrefix: c.publicUrl === undefined });
    assets = await startAssetServer();
    work = await mkdtemp(path.join(os.tmpdir(), 'registry-ar-'));
    server = await startServer({
      env: { ...store.env, ...c.env, REGISTRY_DOWNLOADS: 'proxy', ...(c.publicUrl ? { REGISTRY_PUBLIC_URL: c.publicUrl } : {}) },
      flags: ['--schedules', 'off'],
    });
    ar.target = new URL(server.url);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await ar?.close();
    await assets?.close();
    await store?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('add streams every blob through the prefix-stripping proxy; the client reaches nothing else; describe = Added; /resource gives the bytes', async () => {
    const name = `relay-${randomBytes(3).toString('hex')}`;
    const big = randomBytes(BIG_MB * MiB);
    const small = randomBytes(3000);
    assets.files.set(`/files/${name}/big.bin`, big);
    assets.files.set(`/files/${name}/small.txt`, small);
    const dir = path.join(work, `${name}-pkg`);
    await mkdir(dir);
    await writeFile(
      path.join(dir, 'package.json'),
      JSON.stringify({ packagingVersion: '4.0', name, version: '1.0.0', maintainer: 'relay@example.com', description: 'relay', tags: [] }),
    );
    const uris = { big: `${assets.url}/files/${name}/big.bin`, small: `${assets.url}/files/${name}/small.txt` };
    await writeFile(path.join(dir, 'resource.json'), JSON.stringify({ assets: { uris } }));
    const def = onlyJson((await cliOk(['migrate', `--package-directory=${dir}`, `--output-directory=${work}`, '--json'])).stdout).name;
    const bundle = onlyJson((await cliOk(['build', `--build-definition-file=${def}`, `--output-directory=${work}`, '--json'])).stdout).name;

    // As the DC/OS CLI runs the plugin: cluster URL and login; the only way out is Admin Router.
    const env = { DCOS_URL: ar.url, DCOS_ACS_TOKEN: TEST_TOKEN, HTTP_PROXY: ar.url, HTTPS_PROXY: ar.url };
    const rssBefore = peakRssMiB(server.child.pid!);
    const added = await cliOk(['add', `--dcos-file=${bundle}`, '--json'], env);
    const rssPeak = peakRssMiB(server.child.pid!);
    expect(onlyJson(added.stdout)).toEqual({ packages: [{ name, version: '1.0.0', status: 'Added' }] });

    expect(ar.elsewhere).toEqual([]);
    const puts = ar.forwarded.filter((r) => r.startsWith('PUT /_store/'));
    const parts = Math.ceil(big.length / (8 * MiB));
    // The big asset's parts plus the small blobs' single PUTs, all through the registry.
    expect(puts.filter((r) => r.includes('/uploads/')).length).toBeGreaterThanOrEqual(parts + 1);

    const described = onlyJson((await cliOk(['describe', `--package-name=${name}`, '--package-version=1.0.0', '--json'], env)).stdout);
    expect(described).toMatchObject({ name, version: '1.0.0', status: 'Added' });

    // /repo names assets at the public URL (the VIP: Cosmos and agents fetch them inside the cluster), or under
    // the prefix a trusted proxy sent; the same path through Admin Router gives the bytes (proxy downloads).
    const forwardedBefore = ar.forwarded.length;
    const repo = await fetch(`${ar.url}${SERVICE}/repo`, { headers: { authorization: `token=${TEST_TOKEN}` } });
    expect(repo.status).toBe(200);
    const entry = ((await repo.json()) as any).packages.find((p: any) => p.name === name);
    const bigUrl = new URL(entry.resource.assets.uris.big);
    const digest = createHash('sha256').update(big).digest('hex');
    expect(bigUrl.toString()).toBe(`${c.publicUrl ?? `${ar.url}${SERVICE}`}/resource/${digest}/big.bin`);
    const viaProxy = c.publicUrl ? `${ar.url}${SERVICE}${bigUrl.pathname}` : bigUrl;
    const got = await fetch(viaProxy, { headers: { authorization: `token=${TEST_TOKEN}` } });
    expect(got.status).toBe(200);
    const bytes = Buffer.from(await got.arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(digest);
    expect(ar.forwarded.length).toBeGreaterThan(forwardedBefore);

    if (!c.rss) return;
    // Constant memory: the server's peak RSS grew by far less than the asset while its parts streamed.
    process.stdout.write(
      `relay: ${BIG_MB} MiB asset in ${parts} parts; server peak RSS ${rssBefore.toFixed(0)} MiB before add, ${rssPeak.toFixed(0)} MiB after\n`,
    );
    expect(rssPeak - rssBefore).toBeLessThan(Math.max(64, BIG_MB / 2));
  }, 300_000);
});
