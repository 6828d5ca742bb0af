/**
 * Issue 13.5 for images: a registry that redirects blobs to an HTTP/1.0 server (a plain mirror,
 * `python3 -m http.server`, a proxy that closes connections) made undici 7 crash the process with
 * an uncaught `assert(!this.paused)` (nodejs/undici#5360) in every run of 10 pulls here. Pulls now
 * go through node:http; this pulls 10 times through such a server, close-delimited and framed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStaging } from '../../lib/bundle/staging';
import { pullImage } from '../../lib/image-pull/pull.js';
import { type Running, startFakeRegistry } from './fake-servers.js';
import { makeOciImage, type TestImageLayout } from './make-image.js';

const REPO = 'mirror/app';
let work: string;
let layout: TestImageLayout;
let registry: Running;
let mirror: Server;
const sockets = new Set<Socket>();
const served: string[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'pull-http10-'));
  layout = makeOciImage(join(work, 'image'), { tag: 'v1', layerSizes: [3_000_000, 2_000_000, 4_000_000] });
  const blob = (digest: string) => readFileSync(join(layout.dir, 'blobs', 'sha256', digest.slice(7)));
  // HTTP/1.0: one request per connection; odd requests without Content-Length (close-delimited).
  mirror = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', (chunk) => {
      const path = chunk.toString('latin1').split(' ')[1] ?? '/';
      served.push(path);
      const body = blob(path.slice(1));
      const length = served.length % 2 ? '' : `Content-Length: ${body.length}\r\n`;
      socket.write(`HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n${length}\r\n`);
      socket.end(body);
    });
  });
  await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
  const port = (mirror.address() as { port: number }).port;
  registry = await startFakeRegistry(layout, REPO, {
    current: (_req, res, path) => {
      if (!path.includes('/blobs/')) return false;
      res.writeHead(307, { location: `http://127.0.0.1:${port}/${path.split('/').pop()}` }).end();
      return true;
    },
  });
});
afterAll(async () => {
  await registry?.close();
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => mirror?.close(resolve));
  rmSync(work, { recursive: true, force: true });
});

describe('pull with blobs on an HTTP/1.0 server that closes every connection', () => {
  it('10 pulls into a staging directory, every blob verified', async () => {
    for (let i = 0; i < 10; i++) {
      const staging = await BlobStaging.create(work);
      try {
        const pulled = await pullImage(`${registry.host}/${REPO}:v1`, {
          writeBlob: (d, s, b) => staging.writeBlob(d, s, b),
          hasBlob: (d) => staging.hasBlob(d),
        });
        expect(pulled.manifestDigest).toBe(layout.top.digest);
        for (const l of pulled.layers) expect(await staging.size(l.digest)).toBe(l.size);
      } finally {
        await staging.dispose();
      }
    }
    expect(served).toHaveLength(40); // config + 3 layers, 10 times
  });
});
