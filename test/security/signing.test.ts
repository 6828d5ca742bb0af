/**
 * The filesystem driver's signing key and what a signed /_store URL may do (issue 10, item 4).
 *
 * The attacker here holds the HMAC key (read from a leaked key file) and signs URLs exactly as
 * the registry does. Every such URL for a key outside lib/keys.ts's signedScope is refused
 * with 403 by the real production server (in process, over the real route table), and the
 * store is left as it was; the same forger's URLs for in-scope keys work, so the 403s come
 * from the scope, not from a bad signature.
 */
import { createHmac } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../lib/config';
import { NotFoundError } from '../../lib/errors';
import { keys } from '../../lib/keys';
import { createRegistry, type Registry } from '../../lib/registry';
import { FileStorage } from '../../lib/storage/fs';
import { storePath, verifyStoreRequest } from '../../lib/storage/signing';
import { parseServerOptions, type ServerOptions } from '../../server/options';
import { createRegistryServer, type RegistryServer } from '../../server/server';

const hex = (tag: string) => createHmac('sha256', 'test').update(tag).digest('hex');
const UPLOAD = 'u'.repeat(26);

/** What anyone holding the key can compute: the same canonical form lib/storage/signing.ts signs. */
function forge(origin: string, method: 'GET' | 'PUT', key: string, secret: Buffer, extra: { uploadId?: string; partNumber?: number } = {}) {
  const expires = Math.floor(Date.now() / 1000) + 300;
  const canonical = JSON.stringify([
    'dcos-registry-store-v1',
    method,
    key,
    expires,
    extra.uploadId ?? null,
    extra.partNumber ?? null,
    null,
    null,
  ]);
  const q = new URLSearchParams({ 'X-Expires': String(expires) });
  if (extra.uploadId) q.set('uploadId', extra.uploadId);
  if (extra.partNumber) q.set('partNumber', String(extra.partNumber));
  q.set('X-Signature', createHmac('sha256', secret).update(canonical).digest('hex'));
  return `${origin}${storePath(key)}?${q}`;
}

async function tempDir(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 'registry-signing-'));
}

describe('signing key of the filesystem driver', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir();
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('creates the store directory 0700 and the key file 0600, and every instance agrees on the key', async () => {
    const root = path.join(dir, 'fresh', 'store');
    const a = new FileStorage({ root });
    const b = new FileStorage({ root });
    const [ua, ub] = await Promise.all([
      a.signGet(keys.blob(hex('x')), { origin: 'http://r', expiresIn: 60 }),
      b.signGet(keys.blob(hex('x')), { origin: 'http://r', expiresIn: 60 }),
    ]);
    expect(new URL(ua).searchParams.get('X-Signature')).toBe(new URL(ub).searchParams.get('X-Signature'));
    expect((await fsp.stat(root)).mode & 0o777).toBe(0o700);
    const keyFile = path.join(root, ...keys.signingKey().split('/'));
    expect((await fsp.stat(keyFile)).mode & 0o777).toBe(0o600);
    expect((await fsp.readFile(keyFile, 'utf8')).trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('tightens a key file an older version left readable to others', async () => {
    const root = path.join(dir, 'old');
    const keyFile = path.join(root, 'meta', 'signing-key');
    await fsp.mkdir(path.dirname(keyFile), { recursive: true });
    await fsp.writeFile(keyFile, `${'ab'.repeat(32)}\n`, { mode: 0o644 });
    await fsp.chmod(keyFile, 0o644);
    await new FileStorage({ root }).signGet(keys.blob(hex('x')), { origin: 'http://r', expiresIn: 60 });
    expect((await fsp.stat(keyFile)).mode & 0o777).toBe(0o600);
  });

  it('refuses a malformed or short key file, naming it, instead of signing with an empty key', async () => {
    for (const [name, text] of [
      ['garbage', 'not a key at all\n'],
      ['empty', ''],
      ['short', 'ab'.repeat(31)],
      ['odd', `${'a'.repeat(65)}`],
    ]) {
      const root = path.join(dir, name);
      await fsp.mkdir(path.join(root, 'meta'), { recursive: true });
      await fsp.writeFile(path.join(root, 'meta', 'signing-key'), text);
      const storage = new FileStorage({ root });
      await expect(storage.signGet(keys.blob(hex('x')), { origin: 'http://r', expiresIn: 60 }), name).rejects.toThrow(
        /Signing key from .*meta\/signing-key (is not hex|has \d+ bytes; at least 32)/,
      );
      await expect(storage.verifyStoreRequest({ method: 'GET', key: keys.blob(hex('x')), query: {} }), name).rejects.toThrow(/Signing key/);
    }
  });

  it('refuses a configured key under 32 bytes, naming its source', async () => {
    expect(() => parseConfig({ REGISTRY_SIGNING_KEY: 'ab'.repeat(31) })).toThrow(ConfigError);
    expect(() => parseConfig({ REGISTRY_SIGNING_KEY: 'ab'.repeat(31) })).toThrow(/REGISTRY_SIGNING_KEY/);
    expect(() => parseConfig({ REGISTRY_SIGNING_KEY: '!!!!' })).toThrow(/REGISTRY_SIGNING_KEY/);
    const storage = new FileStorage({ root: path.join(dir, 'configured'), signingKey: Buffer.alloc(16, 1) });
    await expect(storage.signGet(keys.blob(hex('x')), { origin: 'http://r', expiresIn: 60 })).rejects.toThrow(
      /Signing key from the configuration has 16 bytes; at least 32 are required/,
    );
    expect(() => verifyStoreRequest({ method: 'GET', key: keys.blob(hex('x')), query: {}, secret: Buffer.alloc(0), now: 0 })).toThrow();
  });
});

describe('what a signed /_store URL may do, through the production server', () => {
  let root: string;
  let registry: Registry;
  let server: RegistryServer;
  let origin: string;
  let secret: Buffer;

  beforeAll(async () => {
    root = await tempDir();
    registry = createRegistry(parseConfig({ REGISTRY_STORAGE: `file:${root}`, REGISTRY_WRITE_TOKENS: 'x'.repeat(16) }));
    const options = parseServerOptions(['--port', '0', '--schedules', 'off']) as ServerOptions;
    server = createRegistryServer(options, registry);
    const { port } = (await server.listen()) as AddressInfo;
    origin = `http://127.0.0.1:${port}`;
    // The registry creates its key on first use; the attacker then reads the file.
    await registry.storage.signGet(keys.blob(hex('warm-up')), { origin, expiresIn: 60 });
    secret = Buffer.from((await fsp.readFile(path.join(root, 'meta', 'signing-key'), 'utf8')).trim(), 'hex');
  });
  afterAll(async () => {
    await server?.shutdown();
    await fsp.rm(root, { recursive: true, force: true });
  });

  it("a forger's PUT into an upload's staging key works (control: the forged signature is right)", async () => {
    const staged = keys.uploadBlob(UPLOAD, hex('control'));
    const put = await fetch(forge(origin, 'PUT', staged, secret), { method: 'PUT', body: 'staged bytes' });
    expect(put.status).toBe(200);
    expect((await registry.storage.get(staged)).body.toString()).toBe('staged bytes');
    const id = await registry.storage.createMultipart(staged);
    const part = await fetch(forge(origin, 'PUT', staged, secret, { uploadId: id, partNumber: 1 }), { method: 'PUT', body: 'part' });
    expect(part.status).toBe(200);
    await registry.storage.put(keys.blob(hex('published')), 'published bytes');
    const get = await fetch(forge(origin, 'GET', keys.blob(hex('published')), secret));
    expect(get.status).toBe(200);
    expect(await get.text()).toBe('published bytes');
  });

  it('a correctly signed PUT to the catalog, the log, a blob, a session, a sealed copy or meta/ is refused 403 and writes nothing', async () => {
    await registry.storage.put(keys.snapshot(), '{"original":true}');
    const targets = [
      keys.snapshot(),
      keys.logEntry(1),
      keys.catalogChunk(`1-${hex('chunk')}`),
      keys.blob(hex('squat')),
      keys.uploadSession(UPLOAD),
      keys.uploadSealed(UPLOAD, hex('sealed')),
      keys.probe(),
      keys.signingKey(),
      keys.rendered(hex('state').slice(0, 40), 'x-repo-v4.json'),
      'elsewhere/object',
    ];
    for (const key of targets) {
      const single = await fetch(forge(origin, 'PUT', key, secret), { method: 'PUT', body: 'forged' });
      expect(single.status, key).toBe(403);
      expect(((await single.json()) as { type: string }).type).toBe('Forbidden');
      const part = await fetch(forge(origin, 'PUT', key, secret, { uploadId: 'a'.repeat(32), partNumber: 1 }), {
        method: 'PUT',
        body: 'x',
      });
      expect(part.status, `${key} part`).toBe(403);
      await part.arrayBuffer();
    }
    expect((await registry.storage.get(keys.snapshot())).body.toString()).toBe('{"original":true}');
    expect((await registry.storage.get(keys.signingKey())).body.toString().trim()).toBe(secret.toString('hex'));
    for (const key of targets.filter((k) => k !== keys.snapshot() && k !== keys.signingKey())) {
      await expect(registry.storage.head(key), key).rejects.toBeInstanceOf(NotFoundError);
    }
  });

  it('a correctly signed GET of a session, the snapshot, the log, staged bytes or the key file is refused 403', async () => {
    const session = keys.uploadSession(UPLOAD);
    const staged = keys.uploadBlob(UPLOAD, hex('private'));
    await registry.storage.put(session, '{"secret":"manifest"}');
    await registry.storage.put(staged, 'unverified');
    await registry.storage.put(keys.logEntry(2), '{}');
    for (const key of [
      session,
      staged,
      keys.snapshot(),
      keys.logEntry(2),
      keys.signingKey(),
      keys.probe(),
      keys.uploadSealed(UPLOAD, hex('s')),
    ]) {
      const res = await fetch(forge(origin, 'GET', key, secret));
      const text = await res.text();
      expect(res.status, key).toBe(403);
      expect(text).not.toContain('manifest');
      expect(text).not.toContain(secret.toString('hex'));
    }
  });

  it('the registry itself refuses to sign outside the scope', async () => {
    const sign = { origin, expiresIn: 60 };
    await expect(registry.storage.signPut(keys.snapshot(), sign)).rejects.toThrow(/may not name/);
    await expect(registry.storage.signPut(keys.blob(hex('b')), sign)).rejects.toThrow(/may not name/);
    await expect(registry.storage.signGet(keys.uploadSession(UPLOAD), sign)).rejects.toThrow(/may not name/);
    await expect(registry.storage.signPart(keys.logEntry(3), 'a'.repeat(32), 1, sign)).rejects.toThrow(/may not name/);
  });
});
