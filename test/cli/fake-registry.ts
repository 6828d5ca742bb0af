/**
 * An in-memory stand-in for the registry's upload protocol (/tmp/upload-protocol.md, docs/cli.md),
 * for client tests until they run against the real server. Deliberately strict about what the
 * protocol demands of a client: bearer token on API calls, none on PUTs, octet-stream bodies,
 * exact Content-Length, parts tiling the blob.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Blob {
  digest: string;
  size: number;
  parts?: number;
  partSize?: number;
}
interface Upload {
  id: string;
  name: string;
  version: string;
  status: string;
  blobs: Blob[];
  received: Map<string, Buffer>;
  completeCalls: number;
}

export interface FakeRegistry {
  url: string;
  token: string;
  uploads: Map<string, Upload>;
  store: Map<string, Buffer>;
  packages: Map<string, Record<string, unknown>>;
  /** PUT paths that answer `status` the next `times` times. */
  failPut: Map<string, { status: number; times: number }>;
  putBytes: number;
  putCount: number;
  close(): Promise<void>;
}

export async function startFakeRegistry(
  opts: {
    partSize?: number;
    multipartAbove?: number;
    port?: number /** count bytes, keep none, skip verification (memory benchmarks) */;
    discard?: boolean;
  } = {},
): Promise<FakeRegistry> {
  const partSize = opts.partSize ?? 64;
  const multipartAbove = opts.multipartAbove ?? 100;
  let nextId = 0;
  const reg: Omit<FakeRegistry, 'url' | 'close'> = {
    token: 'test-token',
    uploads: new Map(),
    store: new Map(),
    packages: new Map(),
    failPut: new Map(),
    putBytes: 0,
    putCount: 0,
  };
  const body = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  const send = (res: ServerResponse, status: number, value?: unknown) => {
    if (value === undefined) return void res.writeHead(status).end();
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
  };
  const error = (res: ServerResponse, status: number, type: string, message: string) => send(res, status, { type, message, data: {} });
  const view = (u: Upload, base: string) => ({
    id: u.id,
    status: u.status,
    name: u.name,
    version: u.version,
    expiresAt: new Date(Date.now() + 3600_000).toISOString(),
    blobs: u.blobs.map((b) => {
      if (reg.store.has(b.digest)) return { digest: b.digest, size: b.size, present: true };
      if (b.parts) {
        return {
          digest: b.digest,
          size: b.size,
          present: false,
          upload: {
            multipart: {
              partSize: b.partSize,
              parts: Array.from({ length: b.parts }, (_, i) => ({
                partNumber: i + 1,
                url: `${base}/put/${u.id}/${b.digest}/${i + 1}?sig=x`,
                received: u.received.has(`${b.digest}/${i + 1}`),
              })),
            },
          },
          headers: { 'Content-Type': 'application/octet-stream' },
        };
      }
      return {
        digest: b.digest,
        size: b.size,
        present: false,
        ...(u.received.has(b.digest) ? { received: true } : {}),
        upload: { method: 'PUT', url: `${base}/put/${u.id}/${b.digest}?sig=x`, headers: { 'Content-Type': 'application/octet-stream' } },
      };
    }),
  });
  const server = createServer(async (req, res) => {
    const base = `http://${req.headers.host}`;
    const url = new URL(req.url ?? '/', base);
    const p = url.pathname;
    const authed = req.headers.authorization === `Bearer ${reg.token}`;
    try {
      if (req.method === 'PUT' && p.startsWith('/put/')) {
        const failure = reg.failPut.get(p);
        if (opts.discard) {
          let n = 0;
          for await (const c of req) n += (c as Buffer).length;
          reg.putBytes += n;
          reg.putCount++;
          const [, , id, digest, part] = p.split('/');
          reg.uploads.get(id)?.received.set(part ? `${digest}/${part}` : digest, Buffer.alloc(0));
          return send(res, 200);
        }
        const data = await body(req);
        if (failure && failure.times > 0) {
          failure.times--;
          return error(res, failure.status, 'Injected', 'injected failure');
        }
        if (req.headers.authorization) return error(res, 400, 'BadRequest', 'signed URLs take no Authorization header');
        if (req.headers['content-type'] !== 'application/octet-stream') return error(res, 400, 'BadRequest', 'wrong content type');
        if (Number(req.headers['content-length']) !== data.length) return error(res, 400, 'BadRequest', 'content-length mismatch');
        const [, , id, digest, part] = p.split('/');
        const u = reg.uploads.get(id);
        if (!u) return error(res, 404, 'UploadNotFound', 'no upload');
        reg.putBytes += data.length;
        reg.putCount++;
        u.received.set(part ? `${digest}/${part}` : digest, data);
        return send(res, 200);
      }
      if (p === '/package' && req.method === 'GET') {
        const byName = new Map<string, unknown[]>();
        for (const d of reg.packages.values())
          byName.set(d.name as string, [
            ...(byName.get(d.name as string) ?? []),
            { version: d.version, status: d.status, releaseVersion: d.releaseVersion },
          ]);
        return send(res, 200, { packages: [...byName].map(([name, versions]) => ({ name, versions })) });
      }
      const pkg = /^\/package\/([^/]+)\/([^/]+)$/.exec(p);
      if (pkg) {
        const [name, version] = [decodeURIComponent(pkg[1]), decodeURIComponent(pkg[2])];
        const key = `${name}/${version}`;
        if (req.method === 'DELETE' && !authed)
          return error(res, 401, 'Unauthorized', 'A valid bearer token is required for this operation');
        const d = reg.packages.get(key);
        if (!d) return error(res, 404, 'VersionNotFound', `Version [${version}] of package [${name}] not found`);
        if (req.method === 'DELETE') {
          reg.packages.delete(key);
          return send(res, 200, { name, version, status: 'Removed' });
        }
        return send(res, 200, d);
      }
      if (!authed) return error(res, 401, 'Unauthorized', 'A valid bearer token is required for this operation');
      if (p === '/gc' && req.method === 'POST') return send(res, 200, { deletedBlobs: 0 });
      if (p === '/uploads' && req.method === 'POST') {
        const { manifest } = JSON.parse((await body(req)).toString());
        const id = `up${String(nextId++).padStart(24, '0')}`;
        const blobs = (manifest.blobs as Blob[]).map((b) =>
          b.size > multipartAbove ? { ...b, partSize, parts: Math.ceil(b.size / partSize) } : { ...b },
        );
        const u: Upload = {
          id,
          name: manifest.package.name,
          version: manifest.package.version,
          status: 'Uploading',
          blobs,
          received: new Map(),
          completeCalls: 0,
        };
        reg.uploads.set(id, u);
        return send(res, 201, view(u, base));
      }
      const up = /^\/uploads\/([a-z0-9]+)(\/complete)?$/.exec(p);
      const u = up ? reg.uploads.get(up[1]) : undefined;
      if (up && !u) return error(res, 404, 'UploadNotFound', `Upload [${up[1]}] not found`);
      if (u && !up![2] && req.method === 'GET') return send(res, 200, view(u, base));
      if (u && up![2] && req.method === 'POST') {
        if (u.status === 'Failed') return error(res, 409, 'UploadStateConflict', 'upload failed');
        if (u.completeCalls++ === 0) {
          u.status = 'Processing';
          return send(res, 202, { id: u.id, status: 'Processing', progress: { verifiedBytes: 0 } });
        }
        for (const b of opts.discard ? [] : u.blobs) {
          if (reg.store.has(b.digest)) continue;
          const bytes = b.parts
            ? Buffer.concat(Array.from({ length: b.parts }, (_, i) => u.received.get(`${b.digest}/${i + 1}`) ?? Buffer.alloc(0)))
            : u.received.get(b.digest);
          if (!bytes || bytes.length !== b.size) {
            u.status = 'Failed';
            return error(res, 400, 'BlobMissing', `blob ${b.digest} was not fully uploaded`);
          }
          if (`sha256:${createHash('sha256').update(bytes).digest('hex')}` !== b.digest) {
            u.status = 'Failed';
            return error(res, 400, 'BlobDigestMismatch', `blob ${b.digest} does not match its digest`);
          }
        }
        for (const b of u.blobs) if (!reg.store.has(b.digest)) reg.store.set(b.digest, Buffer.alloc(0));
        u.status = 'Added';
        const described = { name: u.name, version: u.version, status: 'Added', releaseVersion: reg.packages.size };
        reg.packages.set(`${u.name}/${u.version}`, described);
        return send(res, 200, described);
      }
      return error(res, 404, 'NotFound', `no route ${req.method} ${p}`);
    } catch (err) {
      return error(res, 500, 'Internal', String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(reg, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }) as FakeRegistry;
}
