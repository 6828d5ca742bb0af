/**
 * Filesystem driver: the conformance suite on a temp dir, with a tiny HTTP server that
 * serves /_store/<key> the way the registry's route will (verify the signature, then
 * receivePut / receivePart / getStream), plus what only the filesystem can get wrong:
 * escaping the root, etag reuse, and races between processes.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config';
import { BadRequestError, NotFoundError, PayloadTooLargeError, RegistryError } from '../../lib/errors';
import { createStorage } from '../../lib/registry';
import { FileStorage } from '../../lib/storage/fs';
import type { Storage } from '../../lib/storage/port';
import { ForbiddenError, keyFromStorePath, signStoreUrl, storePath, verifyStoreRequest } from '../../lib/storage/signing';
import { bundleAsDeployed, LOADED_SOURCE, repoModule, runScript } from '../support/bundle';
import { storageConformance } from './conformance';

const SECRET = Buffer.from('0123456789abcdef0123456789abcdef');
const LIMIT = 16 * 1024 * 1024;
const STAGED = `uploads/${'a'.repeat(26)}/blobs/${'b'.repeat(64)}`;
const BLOB = `blobs/sha256/${'c'.repeat(64)}`;
const PROJECT = fileURLToPath(new URL('../..', import.meta.url));

function statusOf(err: unknown): number {
  if (err instanceof ForbiddenError) return 403;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof PayloadTooLargeError) return 413;
  if (err instanceof BadRequestError) return 400;
  return 500;
}

/** What the registry's /_store route does, in miniature: through the signed-URL endpoint the storage declares. */
async function startStoreServer(storage: Storage): Promise<{ origin: string; close: () => Promise<void> }> {
  if (storage.urls?.servedBy !== 'registry') throw new Error(`${storage.kind} storage has no registry-served signed URLs`);
  const endpoint = storage.urls.endpoint;
  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const key = keyFromStorePath(url.pathname);
      if (key === undefined) throw new NotFoundError(url.pathname);
      const grant = await endpoint.verify({ method: req.method ?? 'GET', key, query: Object.fromEntries(url.searchParams) });
      if (grant.kind === 'get') {
        const object = await storage.getStream(key);
        res.writeHead(200, {
          'content-length': object.size,
          'content-type': grant.contentType ?? 'application/octet-stream',
          etag: `"${object.etag}"`,
          ...(grant.filename ? { 'content-disposition': `attachment; filename="${grant.filename.replace(/["\\]/g, '_')}"` } : {}),
        });
        if (req.method === 'HEAD') {
          object.stream.destroy();
          res.end();
        } else object.stream.pipe(res);
        return;
      }
      const { etag } =
        grant.kind === 'part'
          ? await endpoint.receivePart(key, grant.uploadId!, grant.partNumber!, req, LIMIT)
          : await endpoint.receivePut(key, req, LIMIT);
      res.writeHead(200, { etag: `"${etag}"` }).end();
    } catch (err) {
      const status = statusOf(err);
      req.resume(); // drain an unread upload body so the client sees the answer
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(err instanceof RegistryError && status < 500 ? { type: err.type, message: err.message } : { type: 'Internal' }),
      );
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function tempRoot(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 'registry-fs-'));
}

/** A conformance case: the storage `make` builds over a fresh root, served at /_store by a test server. */
const fileCase = (make: (root: string) => Storage) => async () => {
  const root = await tempRoot();
  const storage = make(root);
  const server = await startStoreServer(storage);
  return {
    storage,
    origin: server.origin,
    cleanup: async () => {
      await server.close();
      await fsp.rm(root, { recursive: true, force: true });
    },
  };
};

storageConformance(
  'file',
  fileCase((root) => new FileStorage({ root, signingKey: async () => SECRET })),
);

// As the registry builds it (createStorage): the driver behind the base layer, loaded on first use (lib/storage/fs-lazy.ts).
storageConformance(
  'file (loaded on first use, as createStorage builds it)',
  fileCase((root) => createStorage(parseConfig({ REGISTRY_STORAGE: `file:${root}`, REGISTRY_SIGNING_KEY: SECRET.toString('hex') }))),
);

describe('file storage in the function bundles (issue 14: the driver off the S3 path)', () => {
  it('fs-storage.js (the driver, proper-lockfile, graceful-fs) is loaded on the first call of a file store, never for S3', async () => {
    const dir = await tempRoot();
    try {
      const out = await bundleAsDeployed(
        dir,
        `export { createStorage } from ${repoModule('lib/registry')};\nexport { parseConfig } from ${repoModule('lib/config')};\n`,
      );
      const script = `${LOADED_SOURCE}
        const { createStorage, parseConfig } = require(${JSON.stringify(out)});
        const root = process.argv[1];
        (async () => {
          const s3 = createStorage(parseConfig({ REGISTRY_STORAGE: 's3://bucket/prefix', REGISTRY_S3_ENDPOINT: 'http://127.0.0.1:1' }));
          const files = createStorage(parseConfig({ REGISTRY_STORAGE: 'file:' + root, REGISTRY_SIGNING_KEY: '${SECRET.toString('hex')}' }));
          const seen = { built: loaded().chunks, kind: files.kind, servedBy: files.urls.servedBy };
          await files.put('packages/a', 'one');
          seen.afterPut = loaded().chunks;
          seen.read = (await files.get('packages/a')).body.toString();
          const url = await files.signGet('${BLOB}', { expiresIn: 60, origin: 'http://registry.test' });
          const u = new URL(url);
          const grant = await files.urls.endpoint.verify({ method: 'GET', key: '${BLOB}', query: Object.fromEntries(u.searchParams) });
          seen.grant = grant.kind;
          process.stdout.write(JSON.stringify(seen));
        })().catch((e) => { console.error(e); process.exit(1); });`;
      const seen = await runScript(script, path.join(dir, 'store'), { PATH: process.env.PATH, REGISTRY_LOG_LEVEL: 'error' });
      expect(seen).toEqual({ built: [], kind: 'file', servedBy: 'registry', afterPut: ['fs-storage.js'], read: 'one', grant: 'get' });
      // The handler's bundle holds none of the driver: proper-lockfile is in the chunk only.
      expect((await fsp.readFile(out, 'utf8')).includes('ELOCKED')).toBe(false);
      expect((await fsp.readFile(path.join(path.dirname(out), 'fs-storage.js'), 'utf8')).includes('ELOCKED')).toBe(true);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('file storage: specifics', () => {
  let root: string;
  let storage: FileStorage;
  beforeAll(async () => {
    root = await tempRoot();
    storage = new FileStorage({ root: path.join(root, 'store'), signingKey: async () => SECRET });
  });
  afterAll(async () => {
    await fsp.rm(root, { recursive: true, force: true });
  });

  it('rejects keys that could leave the root or hit internal directories', async () => {
    const bad = [
      '../escape',
      'a/../../escape',
      '/etc/passwd',
      'a//b',
      'a/./b',
      'a/',
      'a\\..\\b',
      'a\u0000b',
      '.tmp/x',
      '.locks/x',
      '.multipart/x',
      '..',
      '',
    ];
    for (const key of bad) {
      await expect(storage.put(key, 'x'), key).rejects.toThrow(/Invalid storage key/);
      await expect(storage.get(key), key).rejects.toThrow(/Invalid storage key/);
      await expect(storage.copy('fine', key), key).rejects.toThrow(/Invalid storage key/);
      await expect(storage.signGet(key, { origin: 'http://127.0.0.1:1', expiresIn: 60 }), key).rejects.toThrow(/Invalid storage key/);
    }
    await expect(storage.list('../')).rejects.toThrow(/Invalid storage/);
    await expect(storage.list('a/../')).rejects.toThrow(/Invalid storage/);
    expect((await fsp.readdir(root)).filter((n) => n !== 'store')).toEqual([]);
  });

  it('listings never show the internal directories', async () => {
    await storage.put('visible/one', '1');
    const uploadId = await storage.createMultipart('visible/two');
    await storage.receivePart('visible/two', uploadId, 1, Buffer.from('part'), LIMIT);
    expect((await fsp.readdir(storage.root)).sort()).toEqual(['.locks', '.multipart', '.tmp', 'visible']);
    expect((await storage.list('')).map((o) => o.key)).toEqual(['visible/one']);
  });

  it('etags never repeat across quick same-size rewrites, although ext4 reuses inodes', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add((await storage.put('aba/object', String(i % 10))).etag);
    expect(seen.size).toBe(200);
    const { etag } = await storage.head('aba/object');
    await storage.put('aba/object', 'z');
    await storage.put('aba/object', '9');
    await expect(storage.put('aba/object', 'stale', { ifMatch: etag })).rejects.toThrow(/Precondition failed/);
  });

  it('a lock left by a killed process goes stale instead of blocking writes forever', async () => {
    await storage.put('stale/object', 'v1');
    const lockDir = path.join(storage.root, '.locks', `${createHash('sha256').update('stale/object').digest('hex')}.lock`);
    await fsp.mkdir(lockDir);
    const past = Date.now() / 1000 - 60;
    await fsp.utimes(lockDir, past, past);
    await storage.put('stale/object', 'v2');
    expect((await storage.get('stale/object')).body.toString()).toBe('v2');
    await expect(fsp.stat(lockDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('receivePut enforces the size limit and leaves no trace', async () => {
    await expect(storage.receivePut('limited/object', Readable.from([Buffer.alloc(6), Buffer.alloc(6)]), 10)).rejects.toBeInstanceOf(
      PayloadTooLargeError,
    );
    await expect(storage.head('limited/object')).rejects.toBeInstanceOf(NotFoundError);
    expect(await fsp.readdir(path.join(storage.root, '.tmp'))).toEqual([]);
    expect(await storage.receivePut('limited/object', Readable.from([Buffer.alloc(6), Buffer.alloc(4)]), 10)).toMatchObject({ size: 10 });
  });

  it('multipart: parts of another key or upload are NotFound; small middle parts are refused like S3', async () => {
    const uploadId = await storage.createMultipart('mp/target');
    await expect(storage.receivePart('mp/other', uploadId, 1, Buffer.from('x'), LIMIT)).rejects.toBeInstanceOf(NotFoundError);
    await expect(storage.listParts('mp/target', 'f'.repeat(32))).rejects.toBeInstanceOf(NotFoundError);
    await expect(storage.listParts('mp/target', '../../etc')).rejects.toBeInstanceOf(NotFoundError);
    await storage.receivePart('mp/target', uploadId, 1, Buffer.from('small'), LIMIT);
    await storage.receivePart('mp/target', uploadId, 2, Buffer.from('last'), LIMIT);
    const parts = await storage.listParts('mp/target', uploadId);
    await expect(storage.completeMultipart('mp/target', uploadId, parts)).rejects.toMatchObject({ type: 'EntityTooSmall' });
    await expect(storage.completeMultipart('mp/target', uploadId, [{ ...parts[1], etag: 'wrong' }])).rejects.toMatchObject({
      type: 'InvalidPart',
    });
    await storage.completeMultipart('mp/target', uploadId, [parts[1]]);
    expect((await storage.get('mp/target')).body.toString()).toBe('last');
  });

  it('signatures bind the part coordinates and the file name', () => {
    const now = Date.UTC(2030, 0, 1);
    const expires = now / 1000 + 60;
    const url = new URL(signStoreUrl('http://h', { method: 'PUT', key: STAGED, expires, uploadId: 'a'.repeat(32), partNumber: 3 }, SECRET));
    const query = Object.fromEntries(url.searchParams);
    const key = keyFromStorePath(url.pathname)!;
    expect(verifyStoreRequest({ method: 'PUT', key, query, secret: SECRET, now })).toMatchObject({ kind: 'part', partNumber: 3 });
    const check =
      (q: Record<string, string | undefined>, method = 'PUT') =>
      () =>
        verifyStoreRequest({ method, key, query: q, secret: SECRET, now });
    expect(check({ ...query, partNumber: '4' })).toThrow(ForbiddenError);
    expect(check({ ...query, uploadId: undefined, partNumber: undefined })).toThrow(ForbiddenError);
    expect(check(query, 'GET')).toThrow(ForbiddenError);
    expect(check(query, 'DELETE')).toThrow(ForbiddenError);
    expect(check(query)).not.toThrow();
    expect(() => verifyStoreRequest({ method: 'PUT', key, query, secret: Buffer.alloc(32, 1), now })).toThrow(ForbiddenError);
    expect(() => verifyStoreRequest({ method: 'PUT', key, query, secret: SECRET, now: now + 61_000 })).toThrow(/expired/);
    const get = new URL(signStoreUrl('http://h', { method: 'GET', key: BLOB, expires, filename: 'a.tgz' }, SECRET));
    const getKey = keyFromStorePath(get.pathname)!;
    expect(getKey).toBe(BLOB);
    expect(keyFromStorePath(storePath('k/é x'))).toBe('k/é x');
    const getQuery = Object.fromEntries(get.searchParams);
    expect(verifyStoreRequest({ method: 'HEAD', key: getKey, query: getQuery, secret: SECRET, now })).toMatchObject({
      kind: 'get',
      filename: 'a.tgz',
    });
    expect(() =>
      verifyStoreRequest({ method: 'GET', key: getKey, query: { ...getQuery, filename: 'b.tgz' }, secret: SECRET, now }),
    ).toThrow(ForbiddenError);
  });

  it('4 processes racing: one create per key, no lost compare-and-swap', async () => {
    const shared = path.join(root, 'race');
    const counterStore = new FileStorage({ root: shared, signingKey: async () => SECRET });
    await counterStore.put('race/counter', '0');
    const go = path.join(root, 'go');
    const worker = path.join(root, 'race-worker.mts');
    await fsp.writeFile(worker, workerSource(pathToFileURL(path.join(PROJECT, 'lib/storage/fs.ts')).href));
    const children = Array.from({ length: 4 }, (_, i) =>
      spawn(process.execPath, ['--import', 'tsx', worker, shared, `worker-${i}`, go], { cwd: PROJECT, stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    try {
      const outputs = children.map(
        (child) =>
          new Promise<string>((resolve, reject) => {
            let out = '';
            let err = '';
            child.stdout.on('data', (d) => (out += d));
            child.stderr.on('data', (d) => (err += d));
            child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`worker exited ${code}: ${err}`))));
          }),
      );
      // Start line: every worker has loaded and waits for the go file.
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve, reject) => {
              child.stdout.on('data', (d) => String(d).includes('ready') && resolve());
              child.on('exit', () => reject(new Error('worker died before ready')));
            }),
        ),
      );
      await fsp.writeFile(go, '');
      const results = (await Promise.all(outputs)).map((out) => JSON.parse(out.trim().split('\n').pop()!) as WorkerResult);

      const creators = results.flatMap((r) => r.created.map((i) => ({ i, id: r.id })));
      expect(creators.map((c) => c.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
      for (const { i, id } of creators) expect((await counterStore.get(`race/create-${i}`)).body.toString()).toBe(id);
      const wins = results.reduce((n, r) => n + r.casWins, 0);
      expect(wins).toBe(40);
      expect(Number((await counterStore.get('race/counter')).body.toString())).toBe(wins);
      console.log(
        `race: ${results.reduce((n, r) => n + r.casLosses, 0)} CAS attempts lost and retried; creates per worker ${results.map((r) => r.created.length).join(',')}`,
      );
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill();
    }
  });
});

interface WorkerResult {
  id: string;
  created: number[];
  casWins: number;
  casLosses: number;
}

/** A worker process: 10 rounds of (create-only put of key i, one CAS increment with retries). */
function workerSource(fsModuleUrl: string): string {
  return `
import { existsSync } from 'node:fs';
import { FileStorage } from ${JSON.stringify(fsModuleUrl)};
const [root, id, go] = process.argv.slice(2);
const storage = new FileStorage({ root, signingKey: async () => Buffer.alloc(32) });
console.log('ready');
while (!existsSync(go)) await new Promise((r) => setTimeout(r, 2));
const created = [];
let casWins = 0, casLosses = 0;
for (let i = 0; i < 10; i++) {
  try {
    await storage.put('race/create-' + i, id, { ifNoneMatch: '*' });
    created.push(i);
  } catch (err) {
    if (err.name !== 'AlreadyExistsError') throw err;
  }
  for (;;) {
    const current = await storage.get('race/counter');
    try {
      await storage.put('race/counter', String(Number(current.body.toString()) + 1), { ifMatch: current.etag });
      casWins++;
      break;
    } catch (err) {
      if (err.name !== 'PreconditionFailedError' && err.name !== 'ConflictError') throw err;
      casLosses++;
    }
  }
}
console.log(JSON.stringify({ id, created, casWins, casLosses }));
`;
}
