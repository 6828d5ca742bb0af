import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const sha256hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A local asset server: fixed files, plus /flaky (503 twice, then 200) and /missing (404). */
export async function startAssetServer(
  files: Record<string, Buffer>,
): Promise<{ url: string; hits: Map<string, number>; close(): Promise<void> }> {
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    if (path.startsWith('/flaky/') && n <= 2) {
      res.writeHead(503, { 'retry-after': '0' }).end('busy');
      return;
    }
    if (path === '/redirect/icon.png') {
      res.writeHead(302, { location: '/icon.png' }).end();
      return;
    }
    const body = files[path.replace(/^\/flaky/, '')];
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export function definition(resource: Record<string, unknown>, name = 'hello') {
  return {
    packagingVersion: '4.0',
    name,
    version: '1.0.0',
    maintainer: 'ops@example.com',
    description: 'test package',
    tags: ['test'],
    resource,
  };
}
