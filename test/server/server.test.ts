/**
 * The production server's own behaviour on the filesystem driver (the seed's default):
 * the handlers' answers through it, big bodies streamed past the buffered-body limit,
 * 413 for oversized bodies, 408 for slow ones, CORS, HEAD, TLS.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../lib/keys';
import type { FileStorage } from '../../lib/storage/fs';
import { startFileServer, waitFor } from '../support/file-server';
import { fileStore, type TestStore } from '../support/stores';
import { addBundle, api, auth, targetUrl, testBundle } from '../support/upload';
import { sha256 } from '../support/fixtures';
import { selfSignedCertificate } from '../support/tls';
import { startServer, type ServerProcess } from './harness';
import { exchange, head } from './wire';

const COSMOS_ACCEPT =
  'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5,application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4';
const MiB = 1024 * 1024;
/** A staging key of some upload: the only keys a signed PUT may name (lib/keys.ts signedScope). */
const staged = (tag: string) => keys.uploadBlob('t'.repeat(26), sha256(Buffer.from(tag)));

describe('production server on the filesystem driver', () => {
  let store: TestStore;
  let srv: ServerProcess;
  let files: FileStorage;

  beforeAll(async () => {
    // Small buffered-body limit: proves big uploads take the streamed path. Short timeouts
    // for the slow-request tests (fast local requests stay far below them).
    ({ store, srv, files } = await startFileServer([
      '--max-body',
      '1mb',
      '--max-store-body',
      '40mb',
      '--body-timeout',
      '3s',
      '--idle-timeout',
      '3s',
      '--headers-timeout',
      '3s',
    ]));
  });
  afterAll(async () => {
    await srv?.stop();
    await store?.cleanup();
  });

  it('answers health with the exact seed shape, on / and /health, and HEAD without a body', async () => {
    for (const p of ['/', '/health']) {
      const res = await fetch(`${srv.url}${p}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/^\{"checks":\{"\/repo":\{"Healthy":\{"message":"Able to find \d+ package\(s\)\."\}\}\}\}$/);
    }
    const h = await exchange(srv.port, [head('HEAD', '/health', { connection: 'close' })]);
    expect(h.status).toBe(200);
    expect(h.response).not.toMatch(/checks/);
  });

  it('answers the Docker API base as clients ask it: /v2/ (docker, skopeo, Mesos) and /v2, with the API version header', async () => {
    for (const p of ['/v2/', '/v2']) {
      const res = await fetch(`${srv.url}${p}`);
      expect(res.status, p).toBe(200);
      expect(res.headers.get('docker-distribution-api-version'), p).toBe('registry/2.0');
    }
  });

  it('adds a package with a multipart blob through /_store, serves /repo with 304, and streams the resource', async () => {
    const name = `srv-${randomBytes(3).toString('hex')}`;
    const asset = randomBytes(12 * MiB); // above the 8 MiB part size: two parts
    const added = await addBundle(srv.url, testBundle(name, '1.0.0', { 'big.bin': asset }));
    expect(added.status).toBe(200);
    expect(added.json).toMatchObject({ name, version: '1.0.0', status: 'Added' });
    expect(added.sent).toBe(asset.length);

    const repo = await fetch(`${srv.url}/repo`, { headers: { accept: COSMOS_ACCEPT } });
    expect(repo.status).toBe(200);
    const etag = repo.headers.get('etag')!;
    const entry = ((await repo.json()) as any).packages.find((p: any) => p.name === name);
    const url: string = entry.resource.assets.uris['asset-0'];
    expect(url).toBe(`${srv.url}/resource/${sha256(asset).slice(7)}/big.bin`);
    const again = await fetch(`${srv.url}/repo`, { headers: { accept: COSMOS_ACCEPT, 'if-none-match': etag } });
    expect(again.status).toBe(304);

    const download = await fetch(url);
    expect(download.status).toBe(200);
    expect(download.redirected).toBe(true);
    expect(Number(download.headers.get('content-length'))).toBe(asset.length);
    expect(Buffer.from(await download.arrayBuffer()).equals(asset)).toBe(true);
  });

  it("streams a single PUT above 10 MB (serverless-offline's cap) through /_store and back", async () => {
    const bytes = randomBytes(24 * MiB);
    const target = await files.signPut(staged('streamed-put'), { expiresIn: 300, origin: srv.url });
    const put = await fetch(target, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    expect(put.status).toBe(200);
    expect(((await put.json()) as any).size).toBe(bytes.length);
    expect((await files.head(staged('streamed-put'))).size).toBe(bytes.length);
    await files.copy(staged('streamed-put'), keys.blob(sha256(bytes)));
    const source = await files.signGet(keys.blob(sha256(bytes)), { expiresIn: 300, origin: srv.url, filename: 'x.bin' });
    const got = await fetch(source);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-disposition')).toBe('attachment; filename="x.bin"');
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('refuses forged store URLs before reading the body', async () => {
    const target = new URL(await files.signPut(staged('forged'), { expiresIn: 300, origin: srv.url }));
    target.pathname = `/_store/${staged('other')}`;
    const put = await fetch(target, { method: 'PUT', body: 'x' });
    expect(put.status).toBe(403);
    expect(((await put.json()) as any).type).toBe('Forbidden');
  });

  it('answers 413 to a body over the limit: declared, chunked, and streamed to /_store', async () => {
    const declared = await exchange(srv.port, [
      head('POST', '/uploads', { ...auth, 'content-type': 'application/json', 'content-length': 2 * MiB }),
      Buffer.alloc(64 * 1024, 32),
    ]);
    expect(declared.status).toBe(413);
    expect(declared.response).toMatch(/"type":"PayloadTooLarge"/);
    expect(declared.closedByServer).toBe(true);

    // Expect: 100-continue: refused on the declared length, before the client sends a byte.
    const expecting = await exchange(srv.port, [
      head('POST', '/uploads', { ...auth, 'content-type': 'application/json', 'content-length': 2 * MiB, expect: '100-continue' }),
    ]);
    expect(expecting.status).toBe(413);
    expect(expecting.response).not.toMatch(/100 Continue/);

    const chunk = Buffer.alloc(256 * 1024, 32);
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    const chunked = await exchange(srv.port, [
      head('POST', '/uploads', { ...auth, 'content-type': 'application/json', 'transfer-encoding': 'chunked' }),
      ...Array(6).fill(frame),
    ]);
    expect(chunked.status).toBe(413);

    const target = new URL(await files.signPut(staged('too-big'), { expiresIn: 300, origin: srv.url }));
    // Declared length over --max-store-body: refused before a byte is stored.
    const over = await exchange(srv.port, [
      head('PUT', `${target.pathname}${target.search}`, { 'content-length': 41 * MiB }),
      Buffer.alloc(64 * 1024),
    ]); // a small first write: the server may close before a big one lands (reset, no status)
    expect(over.status).toBe(413);
    await expect(files.head(staged('too-big'))).rejects.toThrow(/Not found/);
    const stream = await exchange(srv.port, [
      head('PUT', `${target.pathname}${target.search}`, { 'transfer-encoding': 'chunked' }),
      ...Array(42).fill(Buffer.concat([Buffer.from(`${MiB.toString(16)}\r\n`), Buffer.alloc(MiB), Buffer.from('\r\n')])),
    ]);
    expect(stream.status).toBe(413);
    await expect(files.head(staged('too-big'))).rejects.toThrow(/Not found/);
  });

  it('answers 408 to slow headers, a slow buffered body and a stalled streamed body', async () => {
    const slowHeaders = await exchange(srv.port, ['GET /health HTTP/1.1\r\nHost: x\r\n']);
    expect(slowHeaders.status).toBe(408);
    expect(slowHeaders.closedByServer).toBe(true);

    const slowBody = await exchange(srv.port, [
      head('POST', '/uploads', { ...auth, 'content-type': 'application/json', 'content-length': 100 }),
      '{"manifest":',
    ]);
    expect(slowBody.status).toBe(408);
    expect(slowBody.response).toMatch(/"type":"RequestTimeout"/);
    expect(slowBody.closedByServer).toBe(true);

    const target = new URL(await files.signPut(staged('stalled'), { expiresIn: 300, origin: srv.url }));
    const stalled = await exchange(srv.port, [
      head('PUT', `${target.pathname}${target.search}`, { 'content-length': 2 * MiB }),
      Buffer.alloc(MiB),
    ]);
    expect(stalled.status).toBe(408);
    await expect(files.head(staged('stalled'))).rejects.toThrow(/Not found/);
  });

  it('answers unknown routes with the registry error shape, and CORS on public reads only', async () => {
    const missing = await api(srv.url, 'GET', '/nope');
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ type: 'RouteNotFound' });
    const preflight = await fetch(`${srv.url}/repo`, {
      method: 'OPTIONS',
      headers: { origin: 'https://ui.example', 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/GET/);
    // Write routes: no CORS for a page on another origin (test/security/http.test.ts).
    const writePreflight = await fetch(`${srv.url}/uploads`, {
      method: 'OPTIONS',
      headers: { origin: 'https://ui.example', 'access-control-request-method': 'POST' },
    });
    expect(writePreflight.headers.get('access-control-allow-origin')).toBeNull();
    const unauth = await api(srv.url, 'POST', '/uploads', { manifest: {} }, {});
    expect(unauth.status).toBe(401);
  });

  it('writes one structured access line per request, without query strings', async () => {
    const res = await fetch(`${srv.url}/health?secret=abc`);
    const requestId = res.headers.get('x-request-id');
    const line = await waitFor(() => srv.logs().find((l) => l.msg === 'access' && l.requestId === requestId));
    expect(line).toMatchObject({ level: 'info', method: 'GET', path: '/health', route: 'GET /health', status: 200 });
    expect(typeof line.ms).toBe('number');
    expect(typeof line.requestId).toBe('string');
    expect(srv.output()).not.toContain('secret=abc');
  });
});

describe('production server with TLS', () => {
  let store: TestStore;
  let srv: ServerProcess;
  let cert: Buffer;
  beforeAll(async () => {
    store = await fileStore();
    const tls = await selfSignedCertificate(await mkdtemp(path.join(os.tmpdir(), 'registry-tls-')));
    cert = tls.cert;
    srv = await startServer({ env: store.env, flags: ['--tls-cert', tls.certFile, '--tls-key', tls.keyFile], scheme: 'https' });
  });
  afterAll(async () => {
    await srv?.stop();
    await store?.cleanup();
  });

  const get = (p: string, init: https.RequestOptions = {}, body?: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(`${srv.url}${p}`, { ca: cert, ...init }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('serves HTTPS, and the signed targets it hands out resolve to https URLs to itself', async () => {
    const health = await get('/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatch(/Healthy/);
    const bundle = testBundle(`tls-${randomBytes(3).toString('hex')}`, '1.0.0', { 'a.bin': randomBytes(1000) });
    const started = await get(
      '/uploads',
      { method: 'POST', headers: { ...auth, 'content-type': 'application/json' } },
      JSON.stringify({ manifest: bundle.manifest }),
    );
    expect(started.status).toBe(201);
    const url: string = JSON.parse(started.body).blobs[0].upload.url;
    expect(url.startsWith('_store/')).toBe(true);
    expect(targetUrl(srv.url, url).toString().startsWith(`${srv.url}/_store/`)).toBe(true);
  });
});
