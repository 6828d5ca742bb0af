/**
 * Hostile HTTP clients against the production server (issue 10, items 2, 7 and 8, the HTTP
 * layer): authorisation before any body byte is read, bounded bodies and connections that
 * cannot starve health checks, a write-idle timeout for clients that stop reading,
 * forwarding headers trusted only from a configured proxy, RFC 6266 file names, and the
 * headers every answer carries. Every test here failed on the server before this change.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../lib/keys';
import type { FileStorage } from '../../lib/storage/fs';
import type { ServerProcess } from '../server/harness';
import { exchange, head } from '../server/wire';
import { sha256 } from '../support/fixtures';
import { TEST_TOKEN } from '../support/offline';
import { startFileServer, waitFor } from '../support/file-server';
import type { TestStore } from '../support/stores';
import { addBundle, api, auth, testBundle } from '../support/upload';

const MiB = 1024 * 1024;

function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return Math.round(kb / 1024);
}

/** A raw connection that sends `first`, then holds still; collects what the server says. */
function stalled(port: number, first: string | Buffer): { socket: net.Socket; received: () => string; closed: Promise<void> } {
  const socket = net.connect(port, '127.0.0.1');
  let got = '';
  socket.on('data', (d) => (got += d.toString('latin1')));
  socket.on('error', () => undefined);
  socket.on('connect', () => socket.write(first));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return { socket, received: () => got, closed };
}

describe('HTTP hardening of the production server', () => {
  let store: TestStore;
  let srv: ServerProcess;
  let files: FileStorage;

  beforeAll(async () => {
    // Long body timeout: a server that waited for a body would not answer within the test.
    ({ store, srv, files } = await startFileServer([
      '--body-timeout',
      '120s',
      '--write-timeout',
      '1s',
      '--max-body',
      '1mb',
      '--max-buffered-bodies',
      '2mb',
    ]));
  });
  afterAll(async () => {
    await srv?.stop();
    await store?.cleanup();
  });

  it('refuses an anonymous 6 MB POST /gc with 401 before 100 Continue, and without reading its body', async () => {
    const expecting = await exchange(srv.port, [
      head('POST', '/gc', { 'content-type': 'application/json', 'content-length': 6 * MiB, expect: '100-continue' }),
    ]);
    expect(expecting.status).toBe(401);
    expect(expecting.response).not.toMatch(/100 Continue/);
    expect(expecting.closedByServer).toBe(true);

    // No Expect: the headers alone, no body byte sent; the answer comes anyway, and the log says nothing was read.
    const requestId = `sec-${randomBytes(4).toString('hex')}`;
    const bare = await exchange(srv.port, [
      head('POST', '/gc', { 'content-type': 'application/json', 'content-length': 6 * MiB, 'user-agent': requestId }),
    ]);
    expect(bare.status).toBe(401);
    expect(bare.closedByServer).toBe(true);
    const line = await waitFor(() => srv.logs().find((l) => l.msg === 'access' && l.userAgent === requestId));
    expect(line).toMatchObject({ status: 401, bytesIn: 0 });

    // Same for the signed targets: a forged signature is refused before the body.
    const forged = await exchange(srv.port, [
      head('PUT', `/_store/x/y?X-Expires=9999999999&X-Signature=${'0'.repeat(64)}`, { 'content-length': 6 * MiB, expect: '100-continue' }),
    ]);
    expect(forged.status).toBe(403);
    expect(forged.response).not.toMatch(/100 Continue/);
  });

  it('answers /health while 40 anonymous uploads stall, each refused at once; memory stays flat', async () => {
    const before = rssMiB(srv.child.pid!);
    const uploads = Array.from({ length: 40 }, () =>
      stalled(
        srv.port,
        Buffer.concat([
          // Under --max-body, so only the missing token can refuse it.
          Buffer.from(head('POST', '/uploads', { 'content-type': 'application/json', 'content-length': 900 * 1024 })),
          Buffer.alloc(512 * 1024, 32),
        ]),
      ),
    );
    const slowHeaders = Array.from({ length: 40 }, () => stalled(srv.port, 'POST /uploads HTTP/1.1\r\nHost: x\r\n'));
    try {
      const health = await fetch(`${srv.url}/health`);
      expect(health.status).toBe(200);
      await Promise.all(uploads.map((u) => u.closed));
      const after = rssMiB(srv.child.pid!);
      console.log(`RSS with 40 stalled anonymous uploads (512 KiB sent each, +40 slow headers): ${before} MiB before, ${after} MiB after`);
      for (const u of uploads) expect(u.received()).toMatch(/^HTTP\/1\.1 401 /);
    } finally {
      for (const c of [...uploads, ...slowHeaders]) c.socket.destroy();
    }
  });

  it('bounds the bytes of buffered bodies over all connections: past the budget, 503 with Retry-After', async () => {
    // --max-buffered-bodies 2mb: two authorised 900 KB bodies in flight hold it; a third is refused.
    const holders = [0, 1].map(() =>
      stalled(
        srv.port,
        Buffer.concat([
          Buffer.from(head('POST', '/uploads', { ...auth, 'content-type': 'application/json', 'content-length': 900 * 1024 })),
          Buffer.from('{"manifest":'),
        ]),
      ),
    );
    try {
      // The holders' bodies are reserved once the server has read their headers: try until it has.
      let third = await exchange(srv.port, [], 1);
      for (let i = 0; i < 100 && third.status !== 503; i++) {
        third = await exchange(
          srv.port,
          [head('POST', '/uploads', { ...auth, 'content-type': 'application/json', 'content-length': 900 * 1024, expect: '100-continue' })],
          300,
        );
      }
      expect(third.status).toBe(503);
      expect(third.response).toMatch(/retry-after: 1/i);
      expect(third.response).toMatch(/"type":"ServerBusy"/);
    } finally {
      for (const h of holders) h.socket.destroy();
    }
    // Released with the connections: a body fits again.
    let status = 0;
    for (let i = 0; i < 50 && status !== 400; i++) {
      status = (await api(srv.url, 'POST', '/uploads', { manifest: {} })).status;
      if (status !== 400) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(400);
  });

  it('cuts off 20 clients that never read a streamed download after the write timeout', async () => {
    const big = randomBytes(24 * MiB);
    const key = keys.blob(sha256(big).slice('sha256:'.length)); // signed GETs name published blobs only
    await files.put(key, big);
    const url = new URL(await files.signGet(key, { expiresIn: 300, origin: srv.url }));
    const tag = `reader-${randomBytes(4).toString('hex')}`;
    const readers = Array.from({ length: 20 }, () => {
      const s = stalled(srv.port, head('GET', `${url.pathname}${url.search}`, { 'user-agent': tag }));
      s.socket.pause(); // never reads
      return s;
    });
    try {
      const lines = await waitFor(() => {
        const cut = srv.logs().filter((l) => l.msg === 'access' && l.userAgent === tag && l.writeTimeout === true);
        return cut.length === 20 ? cut : undefined;
      }, 60_000);
      for (const l of lines) expect(l).toMatchObject({ status: 200, complete: false });
    } finally {
      for (const r of readers) r.socket.destroy();
    }
  });

  it('ignores forwarding headers from an untrusted client: X-Forwarded-Proto: javascript is no 500 and no stack', async () => {
    const asset = randomBytes(100);
    const name = `fwd-${randomBytes(3).toString('hex')}`;
    expect((await addBundle(srv.url, testBundle(name, '1.0.0', { 'a.bin': asset }))).status).toBe(200);
    const hostile = { 'x-forwarded-proto': 'javascript', 'x-forwarded-host': 'evil.example' };
    const logged = srv.output().length;
    const resource = await fetch(`${srv.url}/resource/${sha256(asset).slice(7)}/a.bin`, { headers: hostile, redirect: 'manual' });
    expect(resource.status).toBe(307);
    expect(resource.headers.get('location')!.startsWith(`${srv.url}/_store/`)).toBe(true);
    const repo = await fetch(`${srv.url}/repo`, { headers: hostile });
    expect(repo.status).toBe(200);
    expect(await repo.text()).not.toContain('evil.example');
    const start = await api(
      srv.url,
      'POST',
      '/uploads',
      { manifest: testBundle(`${name}-2`, '1.0.0', { 'b.bin': randomBytes(10) }).manifest },
      {
        ...auth,
        ...hostile,
      },
    );
    expect(start.status).toBe(201);
    expect(JSON.stringify(start.json)).not.toMatch(/javascript:|evil\.example/);
    expect(srv.output().slice(logged)).not.toMatch(/"stack"|"level":"error"/);
  });

  it('downloads an asset whose name is not Latin-1, with an RFC 6266 filename*', async () => {
    const asset = randomBytes(300);
    const file = 'Überblick-日本語 "x".tgz';
    const name = `utf-${randomBytes(3).toString('hex')}`;
    expect((await addBundle(srv.url, testBundle(name, '1.0.0', { [file]: asset }))).status).toBe(200);
    const url = `${srv.url}/resource/${sha256(asset).slice(7)}/${encodeURIComponent(file)}`;
    const got = await fetch(url);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(asset)).toBe(true);
    expect(got.headers.get('content-disposition')).toBe(
      `attachment; filename="_berblick-___ _x_.tgz"; filename*=UTF-8''${encodeURIComponent(file)}`,
    );
    const headAnswer = await fetch(url, { method: 'HEAD', redirect: 'manual' });
    expect(headAnswer.status).toBe(200);
  });

  it('says nosniff on every answer, no-store on upload answers, and CORS only on public reads', async () => {
    const answers = await Promise.all([
      fetch(`${srv.url}/health`),
      fetch(`${srv.url}/repo`),
      fetch(`${srv.url}/v2/`),
      fetch(`${srv.url}/nope`),
      fetch(`${srv.url}/gc`, { method: 'POST' }),
      fetch(`${srv.url}/_store/x?X-Expires=1&X-Signature=${'0'.repeat(64)}`),
      fetch(`${srv.url}/repo`, { method: 'OPTIONS', headers: { origin: 'https://ui.example', 'access-control-request-method': 'GET' } }),
    ]);
    for (const a of answers) expect(a.headers.get('x-content-type-options'), a.url).toBe('nosniff');
    const tooBig = await exchange(srv.port, [
      head('POST', '/uploads', { ...auth, 'content-type': 'application/json', 'content-length': 2 * MiB, expect: '100-continue' }),
    ]);
    expect(tooBig.status).toBe(413);
    expect(tooBig.response).toMatch(/x-content-type-options: nosniff/i);

    const started = await api(
      srv.url,
      'POST',
      '/uploads',
      { manifest: testBundle(`ns-${randomBytes(3).toString('hex')}`, '1.0.0', { 'c.bin': randomBytes(10) }).manifest },
      {
        ...auth,
        origin: 'https://ui.example',
      },
    );
    expect(started.status).toBe(201);
    expect(started.headers.get('cache-control')).toBe('no-store');
    expect(started.headers.get('access-control-allow-origin')).toBeNull();
    const status = await api(srv.url, 'GET', `/uploads/${started.json.id}`);
    expect(status.headers.get('cache-control')).toBe('no-store');
    const preflight = await fetch(`${srv.url}/uploads`, {
      method: 'OPTIONS',
      headers: { origin: 'https://ui.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const read = await fetch(`${srv.url}/repo`, { headers: { origin: 'https://ui.example' } });
    expect(read.headers.get('access-control-allow-origin')).toBe('*');
  });

  it("accepts DC/OS's `Authorization: token=<t>` as well as Bearer", async () => {
    const dcos = await api(srv.url, 'POST', '/gc', undefined, { authorization: `token=${TEST_TOKEN}` });
    expect(dcos.status).toBe(200);
    const wrong = await api(srv.url, 'POST', '/gc', undefined, { authorization: 'token=not-the-token-0000' });
    expect(wrong.status).toBe(401);
  });
});
