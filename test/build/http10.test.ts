/**
 * Issue 13.5: `build` crashed in 4 of 6 runs against Python's `http.server` (HTTP/1.0, the server
 * closes each connection after the body): undici 7's HTTP/1 parser asserted `!this.paused` when
 * the socket ended while the body was paused under backpressure, an uncaught exception that killed
 * the CLI and left its staging directory behind. This drives the real CLI (a child process, so a
 * crash is an exit code, not a lost worker) against a server speaking HTTP/1.0 the way
 * http.server does (Content-Length, then close) and close-delimited (no Content-Length at all).
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBundle } from '../../lib/bundle';
import { onlyJson, runCli } from '../cli/run-cli';
import { definition } from './fixtures';

const ASSETS = 30;
const bodyOf = (i: number) =>
  createHash('sha512')
    .update(`asset ${i}`)
    .digest()
    .toString('hex')
    .repeat(6000)
    .slice(0, 700_000 + i);

/** HTTP/1.0 like Python's http.server: one request per connection, then the server closes it. */
async function startHttp10Server(): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let head = '';
    socket.on('data', (chunk) => {
      if (head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const path = head.split(' ')[1] ?? '/';
      requests.push(path);
      const m = /^\/(framed|close)\/(\d+)\.bin$/.exec(path);
      if (!m) {
        socket.end('HTTP/1.0 404 File not found\r\nContent-Type: text/html\r\n\r\nnot found');
        return;
      }
      const body = bodyOf(Number(m[2]));
      const length = m[1] === 'framed' ? `Content-Length: ${body.length}\r\n` : '';
      socket.write(`HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11\r\nContent-type: application/octet-stream\r\n${length}\r\n`);
      socket.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

let server: Awaited<ReturnType<typeof startHttp10Server>>;
let work: string;
beforeAll(async () => {
  server = await startHttp10Server();
  work = await mkdtemp(join(tmpdir(), 'http10-'));
});
afterAll(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('build against an HTTP/1.0 server that closes every connection', () => {
  it(`downloads ${ASSETS} assets (Content-Length + close, and close-delimited) without crashing`, async () => {
    const uris: Record<string, string> = {};
    for (let i = 0; i < ASSETS; i++) uris[`a${i}`] = `${server.url}/${i % 2 ? 'close' : 'framed'}/${i}.bin`;
    const dir = join(work, 'ok');
    await mkdir(dir);
    const def = join(dir, 'http10.json');
    await writeFile(def, JSON.stringify(definition({ assets: { uris } }, 'http10')));
    const out = join(dir, 'out');
    const r = await runCli(['build', `--build-definition-file=${def}`, `--output-directory=${out}`, '--json']);
    expect(r.stderr).not.toMatch(/AssertionError|paused/);
    expect(r.code).toBe(0);
    expect(onlyJson(r.stdout)).toEqual({ name: join(out, 'http10-1.0.0.dcos') });
    expect(await readdir(out)).toEqual(['http10-1.0.0.dcos']); // no staging directory left
    const b = await openBundle(join(out, 'http10-1.0.0.dcos'));
    try {
      await b.verify();
      const bytes = (i: number) => Buffer.from(bodyOf(i));
      for (const a of b.manifest.assets) {
        const i = Number(/\/(\d+)\.bin$/.exec(a.uri)![1]);
        expect(a).toMatchObject({ size: bytes(i).length, digest: `sha256:${createHash('sha256').update(bytes(i)).digest('hex')}` });
      }
      expect(b.manifest.assets).toHaveLength(ASSETS);
    } finally {
      b.close();
    }
    // The original's progress lines.
    for (const uri of Object.values(uris)) expect(r.stderr).toContain(`Fetching ${uri}\n`);
  });

  it('a failed build (a 404 among them) exits 1 with the reason and leaves no staging directory', async () => {
    const uris: Record<string, string> = { missing: `${server.url}/nope.bin` };
    for (let i = 0; i < 6; i++) uris[`a${i}`] = `${server.url}/close/${i}.bin`;
    const dir = join(work, 'fail');
    await mkdir(dir);
    const def = join(dir, 'http10.json');
    await writeFile(def, JSON.stringify(definition({ assets: { uris } }, 'http10')));
    const out = join(dir, 'out');
    const r = await runCli(['build', `--build-definition-file=${def}`, `--output-directory=${out}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Error: GET http:\/\/127\.0\.0\.1:\d+\/nope\.bin answered 404\n$/);
    expect(await readdir(out)).toEqual([]);
  });
});
