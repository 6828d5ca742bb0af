/**
 * Asset downloads (lib/net/http.ts through downloadAsset) against local servers: redirect rules
 * (http(s) only, no https → http downgrade without the flag, bounded), URL credentials only to
 * their own origin, proxies (absolute form for http, CONNECT for https, NO_PROXY, proxy
 * credentials to the proxy only), an extra CA, and bytes stored as served (no decoding).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadAsset } from '../../lib/builder/download';
import { HttpClient } from '../../lib/net/http';
import { BlobStaging } from '../../lib/bundle/staging';
import { type Running, startForwardProxy, startServer } from '../docker/fake-servers';
import { sha256hex } from './fixtures';

let work: string;
let staging: BlobStaging;
let plain: Running;
let other: Running;
let proxy: Running;
let tls: { url: string; hits: Array<{ url: string; proxyAuthorization?: string }>; server: Server };
let caFile: string;

const payload = Buffer.from('the asset bytes');
const fast = { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 };

function serve(res: ServerResponse, body = payload) {
  res.writeHead(200, { 'content-length': body.length }).end(body);
}

/** Routes shared by the plain and TLS servers. */
function routes(self: () => string) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const to = url.searchParams.get('to');
    if (url.pathname === '/file.bin') return serve(res);
    if (url.pathname === '/redirect' && to) return void res.writeHead(302, { location: to }).end();
    if (url.pathname === '/loop') return void res.writeHead(301, { location: `${self()}/loop` }).end();
    if (url.pathname === '/stall') {
      // Headers and half the body, then silence with the connection open.
      res.writeHead(200, { 'content-length': 1000 }).write(Buffer.alloc(500));
      return;
    }
    if (url.pathname === '/short') {
      // Declares 1000 bytes, sends 500, closes.
      res.writeHead(200, { 'content-length': 1000 }).write(Buffer.alloc(500), () => res.socket?.destroy());
      return;
    }
    if (url.pathname === '/gzip') return void res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': 4 }).end('GZIP');
    res.writeHead(404).end();
  };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'download-'));
  staging = await BlobStaging.create(work);
  plain = await startServer(routes(() => plain.url));
  other = await startServer(routes(() => other.url));
  proxy = await startForwardProxy();
  const key = join(work, 'tls.key');
  caFile = join(work, 'tls.crt');
  const r = spawnSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    caFile,
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  const hits: Array<{ url: string; proxyAuthorization?: string }> = [];
  const handler = routes(() => tls.url);
  const server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(caFile) }, (req, res) => {
    hits.push({
      url: req.url ?? '',
      ...(req.headers['proxy-authorization'] ? { proxyAuthorization: req.headers['proxy-authorization'] } : {}),
    });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tls = { url: `https://127.0.0.1:${(server.address() as { port: number }).port}`, hits, server };
});
afterAll(async () => {
  await Promise.all([plain?.close(), other?.close(), proxy?.close()]);
  tls?.server.closeAllConnections();
  await new Promise((resolve) => tls?.server.close(resolve));
  rmSync(work, { recursive: true, force: true });
});

async function download(uri: string, http: HttpClient) {
  try {
    return await downloadAsset(uri, { staging, baseDirectory: work, localRoots: [], http, retry: fast });
  } finally {
    http.close();
  }
}
const digest = `sha256:${sha256hex(payload)}`;

describe('redirects', () => {
  it('follows http → https (extra CA trusted) and https → https', async () => {
    const got = await download(`${plain.url}/redirect?to=${encodeURIComponent(`${tls.url}/file.bin`)}`, new HttpClient({ caFile }));
    expect(got.digest).toBe(digest);
  });

  it('refuses https → http unless allowed, with the flag in the message', async () => {
    const uri = `${tls.url}/redirect?to=${encodeURIComponent(`${plain.url}/file.bin`)}`;
    const before = plain.requests.length;
    await expect(download(uri, new HttpClient({ caFile }))).rejects.toThrow(
      /redirected from HTTPS to plain HTTP \(http:\/\/127\.0\.0\.1:\d+\/file\.bin\): refused; give --allow-https-downgrade/,
    );
    expect(plain.requests.length).toBe(before); // never contacted
    expect((await download(uri, new HttpClient({ caFile, allowHttpsDowngrade: true }))).digest).toBe(digest);
  });

  it('follows only http and https', async () => {
    for (const to of ['file:///etc/passwd', 'ftp://127.0.0.1/x', 'data:text/plain,hi']) {
      await expect(download(`${plain.url}/redirect?to=${encodeURIComponent(to)}`, new HttpClient())).rejects.toThrow(
        /only http and https redirects are followed/,
      );
    }
  });

  it('bounds the number of redirects', async () => {
    const before = plain.requests.filter((r) => r.url === '/loop').length;
    await expect(download(`${plain.url}/loop`, new HttpClient({ maxRedirects: 4 }))).rejects.toThrow(/more than 4 redirects from/);
    expect(plain.requests.filter((r) => r.url === '/loop').length - before).toBe(5);
  });

  it('sends URL credentials only to their own origin, never after a cross-origin redirect, and never prints them', async () => {
    const base = new URL(plain.url);
    base.username = 'alice';
    base.password = 's3cret';
    const before = { plain: plain.requests.length, other: other.requests.length };
    const uri = `${base.href}redirect?to=${encodeURIComponent(`${other.url}/file.bin`)}`;
    expect((await download(uri, new HttpClient())).digest).toBe(digest);
    const first = plain.requests.slice(before.plain);
    expect(first.map((r) => r.headers.authorization)).toEqual([`Basic ${Buffer.from('alice:s3cret').toString('base64')}`]);
    const second = other.requests.slice(before.other);
    expect(second).toHaveLength(1);
    expect(second[0]!.headers.authorization).toBeUndefined();

    // Same origin keeps them; a failure message never shows the password.
    const same = `${base.href}redirect?to=${encodeURIComponent('/file.bin')}`;
    await download(same, new HttpClient());
    expect(plain.requests.at(-1)!.headers.authorization).toMatch(/^Basic /);
    const err = await download(`${base.href}nope`, new HttpClient()).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/nope answered 404/);
    expect((err as Error).message).not.toContain('s3cret');
  });
});

describe('proxies and CAs', () => {
  it('sends http through HTTP_PROXY in absolute form and https through a CONNECT tunnel; proxy credentials reach only the proxy', async () => {
    const p = new URL(proxy.url);
    p.username = 'px';
    p.password = 'pw';
    const before = { proxy: proxy.requests.length, plain: plain.requests.length, tls: tls.hits.length };
    await download(`${plain.url}/file.bin`, new HttpClient({ httpProxy: p.href }));
    await download(`${tls.url}/file.bin`, new HttpClient({ httpProxy: p.href, caFile })); // HTTPS_PROXY falls back to HTTP_PROXY
    const seen = proxy.requests.slice(before.proxy);
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual([`GET ${plain.url}/file.bin`, `CONNECT ${new URL(tls.url).host}`]);
    const proxyAuth = `Basic ${Buffer.from('px:pw').toString('base64')}`;
    for (const r of seen) expect(r.headers['proxy-authorization']).toBe(proxyAuth);
    // Through the tunnel the target sees the client's own request: no proxy credentials in it.
    expect(tls.hits.slice(before.tls)).toEqual([{ url: '/file.bin' }]);
  });

  it('bypasses the proxy for NO_PROXY hosts', async () => {
    const before = proxy.requests.length;
    await download(`${plain.url}/file.bin`, new HttpClient({ httpProxy: proxy.url, noProxy: 'example.com, 127.0.0.1' }));
    await download(`${plain.url}/file.bin`, new HttpClient({ httpProxy: proxy.url, noProxy: '*' }));
    expect(proxy.requests.length).toBe(before);
    const client = new HttpClient({ httpProxy: proxy.url, noProxy: '.example.com,other.test:8443' });
    expect(client.proxyFor(new URL('http://a.example.com/x'))).toBeUndefined();
    expect(client.proxyFor(new URL('https://other.test/x'))?.href).toBe(`${proxy.url}/`);
    expect(client.proxyFor(new URL('https://other.test:8443/x'))).toBeUndefined();
    expect(client.proxyFor(new URL('http://other.test:8443/x'))).toBeUndefined();
    expect(client.proxyFor(new URL('http://notexample.com/x'))?.href).toBe(`${proxy.url}/`);
    client.close();
  });

  it('refuses a server whose certificate is not trusted', async () => {
    await expect(download(`${tls.url}/file.bin`, new HttpClient())).rejects.toThrow(/self[- ]signed certificate/);
  });

  it('fails a connection that goes silent in the middle of a body (retryable, then the reason)', async () => {
    const before = plain.requests.filter((r) => r.url === '/stall').length;
    const err = await download(`${plain.url}/stall`, new HttpClient({ idleTimeoutMs: 300 })).catch((e: Error) => e);
    expect((err as Error).message).toMatch(
      /cannot download http:\/\/127\.0\.0\.1:\d+\/stall: no data from http:\/\/127\.0\.0\.1:\d+ for 300 ms \(ETIMEDOUT\)/,
    );
    expect(plain.requests.filter((r) => r.url === '/stall').length - before).toBe(fast.attempts);
  });

  it('fails (retried) on a body cut short, keeping nothing', async () => {
    const before = plain.requests.filter((r) => r.url === '/short').length;
    await expect(download(`${plain.url}/short`, new HttpClient())).rejects.toThrow(
      /cannot download .*\/short: (aborted|.*got 500 of 1000 bytes)/,
    );
    expect(plain.requests.filter((r) => r.url === '/short').length - before).toBe(fast.attempts);
    expect((await readdir(staging.dir)).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
  });

  it('stores the bytes as served: Content-Encoding is not undone', async () => {
    const got = await download(`${plain.url}/gzip`, new HttpClient());
    expect(got).toEqual({ digest: `sha256:${sha256hex('GZIP')}`, size: 4 });
  });
});
