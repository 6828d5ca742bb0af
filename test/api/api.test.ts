/**
 * The HTTP API through the real `serverless offline`, on both drivers (S3 = Ceph RGW):
 * health, /repo as Cosmos asks for it, the upload protocol end to end, describe, list,
 * remove, resources, auth, and hostile input.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../lib/catalog/catalog';
import { addVersion } from '../../lib/catalog/ops';
import { catalogEntry, sha256 } from '../support/fixtures';
import { startOffline, type Offline } from '../support/offline';
import { officialRepoValidators, REFERENCE_DIR, REFERENCE_TITLE, referenceSkipped } from '../support/reference';
import { drivers, type TestStore } from '../support/stores';
import { addBundle, api, auth, completeUpload, sendBlobs, targetUrl, testBundle } from '../support/upload';

referenceSkipped('test/api/api.test.ts (the official v5 repo schema on /repo)');

const COSMOS_ACCEPT = [
  'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4',
  'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5',
  'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v3',
].join(',');

describe.each(drivers)('HTTP API on $name storage', ({ name: driver, make }) => {
  let store: TestStore;
  let reg: Offline;
  beforeAll(async () => {
    store = await make();
    reg = await startOffline(store.env);
  }, 120_000);
  afterAll(async () => {
    await reg?.stop();
    await store?.cleanup();
  });

  const unique = (p: string) => `${p}-${randomBytes(3).toString('hex')}`;

  it('health has the exact seed shape', async () => {
    for (const p of ['/', '/health']) {
      const res = await fetch(`${reg.url}${p}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/^\{"checks":\{"\/repo":\{"Healthy":\{"message":"Able to find \d+ package\(s\)\."\}\}\}\}$/);
    }
  });

  it('adds a package, describes it, serves it in /repo and its resources, removes it', async () => {
    const name = unique('hello');
    const asset = randomBytes(50_000);
    const bundle = testBundle(name, '1.0.0', { 'hello.tar.gz': asset }, { minDcosReleaseVersion: '1.10' });
    const added = await addBundle(reg.url, bundle);
    expect(added.status).toBe(200);
    expect(added.json).toMatchObject({ name, version: '1.0.0', status: 'Added', releaseVersion: 0 });
    expect(added.sent).toBe(asset.length);

    const described = await api(reg.url, 'GET', `/package/${name}/1.0.0`);
    expect(described.status).toBe(200);
    expect(described.json).toMatchObject({ name, version: '1.0.0', status: 'Added', releaseVersion: 0 });

    const listed = await api(reg.url, 'GET', '/package');
    expect(listed.json.packages).toContainEqual({ name, versions: [{ version: '1.0.0', status: 'Added', releaseVersion: 0 }] });

    const repo = await fetch(`${reg.url}/repo`, { headers: { accept: COSMOS_ACCEPT, 'user-agent': 'cosmos/0.6.0 dcos/2.2' } });
    expect(repo.status).toBe(200);
    expect(repo.headers.get('content-type')).toBe('application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5');
    const index = (await repo.json()) as any;
    const entry = index.packages.find((p: any) => p.name === name);
    expect(entry.releaseVersion).toBe(0);
    expect(entry.marathon).toEqual(bundle.manifest.package.marathon);
    const url: string = entry.resource.assets.uris['asset-0'];
    expect(url).toBe(`${reg.url}/resource/${sha256(asset).slice(7)}/hello.tar.gz`);
    const download = await fetch(url);
    expect(download.status).toBe(200);
    expect(Number(download.headers.get('content-length'))).toBe(asset.length);
    expect(Buffer.from(await download.arrayBuffer()).equals(asset)).toBe(true);

    // An old DC/OS does not see a package that needs a newer one.
    const old = (await (
      await fetch(`${reg.url}/repo`, { headers: { accept: COSMOS_ACCEPT, 'user-agent': 'cosmos/0.4 dcos/1.9' } })
    ).json()) as any;
    expect(old.packages.find((p: any) => p.name === name)).toBeUndefined();

    const removed = await api(reg.url, 'DELETE', `/package/${name}/1.0.0`);
    expect(removed.status).toBe(200);
    const gone = await api(reg.url, 'GET', `/package/${name}/1.0.0`);
    expect(gone.status).toBe(404);
    expect(gone.json).toMatchObject({ type: 'VersionNotFound', message: `Version [1.0.0] of package [${name}] not found` });
    const after = (await (await fetch(`${reg.url}/repo`, { headers: { accept: COSMOS_ACCEPT } })).json()) as any;
    expect(after.packages.find((p: any) => p.name === name)).toBeUndefined();
    expect((await fetch(url)).status).toBe(404);
  });

  describe.skipIf(!REFERENCE_DIR)(`${REFERENCE_TITLE}: the official v5 repo schema`, () => {
    it('accepts the /repo index served after an add', async () => {
      const name = unique('official');
      const bundle = testBundle(name, '1.0.0', { 'hello.tar.gz': randomBytes(1000) }, { minDcosReleaseVersion: '1.10' });
      expect((await addBundle(reg.url, bundle)).status).toBe(200);
      const repo = await fetch(`${reg.url}/repo`, { headers: { accept: COSMOS_ACCEPT, 'user-agent': 'cosmos/0.6.0 dcos/2.2' } });
      expect(repo.headers.get('content-type')).toBe('application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5');
      const index = (await repo.json()) as any;
      expect(index.packages.some((p: any) => p.name === name)).toBe(true);
      const { v5 } = await officialRepoValidators();
      const valid = v5(index);
      expect(v5.errors ?? []).toEqual([]);
      expect(valid).toBe(true);
    });
  });

  it('/repo: strong ETag and 304, gzip, v4 without 5.0 packages, 406 for unknown types', async () => {
    const name = unique('five');
    expect((await addBundle(reg.url, testBundle(name, '1.0.0', {}, { packagingVersion: '5.0' }))).status).toBe(200);
    const first = await fetch(`${reg.url}/repo`, { headers: { accept: COSMOS_ACCEPT } });
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[^"]+"$/);
    await first.arrayBuffer();
    const again = await fetch(`${reg.url}/repo`, { headers: { accept: COSMOS_ACCEPT, 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const raw = await fetch(`${reg.url}/repo`, {
      headers: { accept: COSMOS_ACCEPT, 'accept-encoding': 'gzip' },
      decompress: false,
    } as RequestInit);
    // undici decompresses transparently; the header tells what was sent.
    expect(raw.headers.get('content-encoding')).toBe('gzip');
    await raw.arrayBuffer();
    const v4 = await fetch(`${reg.url}/repo`, { headers: { accept: 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4' } });
    expect(v4.headers.get('content-type')).toBe('application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4');
    expect(((await v4.json()) as any).packages.find((p: any) => p.name === name)).toBeUndefined();
    const bad = await fetch(`${reg.url}/repo`, { headers: { accept: 'text/html' } });
    expect(bad.status).toBe(406);
    expect(((await bad.json()) as any).type).toBe('NotAcceptable');
  });

  it('a second add of present blobs sends no bytes; same content is idempotent; other content is 409', async () => {
    const name = unique('twice');
    const asset = randomBytes(10_000);
    const b1 = testBundle(name, '1.0.0', { 'a.bin': asset });
    expect((await addBundle(reg.url, b1)).status).toBe(200);
    const again = await addBundle(reg.url, b1);
    expect(again.status).toBe(200);
    expect(again.sent).toBe(0);
    const other = await addBundle(reg.url, testBundle(name, '1.0.0', { 'a.bin': asset }, { description: 'different' }));
    expect(other.status).toBe(409);
    expect(other.json.type).toBe('VersionAlreadyExists');
    // Re-adding an older version does not make it the default.
    expect((await addBundle(reg.url, testBundle(name, '0.9.0', { 'a.bin': asset }))).json.releaseVersion).toBe(0);
    expect((await api(reg.url, 'GET', `/package/${name}/1.0.0`)).json.releaseVersion).toBe(1);
  });

  it('big blobs go in parts', async () => {
    const name = unique('big');
    const asset = randomBytes(9 * 1024 * 1024 + 123);
    const bundle = testBundle(name, '1.0.0', { 'big.bin': asset });
    const start = await api(reg.url, 'POST', '/uploads', { manifest: bundle.manifest });
    expect(start.status).toBe(201);
    expect(start.json.blobs[0].upload.multipart.parts).toHaveLength(2);
    await sendBlobs(reg.url, start.json, (d) => bundle.blobs.get(d)!);
    const status = await api(reg.url, 'GET', `/uploads/${start.json.id}`);
    expect(status.json.blobs[0].received).toBe(true);
    const done = await completeUpload(reg.url, start.json.id);
    expect(done.status).toBe(200);
    expect(done.json.status).toBe('Added');
    const twice = await completeUpload(reg.url, start.json.id);
    expect(twice.status).toBe(200);
  });

  it('writes need a valid token, checked before anything else', async () => {
    for (const headers of <Record<string, string>[]>[
      {},
      { authorization: 'Bearer wrong-token-xxxxxxxx' },
      { authorization: 'Basic abc' },
    ]) {
      const res = await fetch(`${reg.url}/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{not json',
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as any).type).toBe('Unauthorized');
      expect((await fetch(`${reg.url}/package/nope/1.0`, { method: 'DELETE', headers })).status).toBe(401);
      expect((await fetch(`${reg.url}/uploads/aaaaaaaaaaaaaaaaaaaaaaaaaa/complete`, { method: 'POST', headers })).status).toBe(401);
    }
  });

  it('hostile input gets a clear 4xx and changes nothing', async () => {
    const before = (await (await fetch(`${reg.url}/repo`, { headers: { accept: COSMOS_ACCEPT } })).json()) as any;
    const cases: Array<[string, unknown, number, string]> = [
      ['dot-dot version', testBundle('evil', '..').manifest, 400, 'InvalidPackageVersion'],
      ['dot version', testBundle('evil', '.').manifest, 400, 'InvalidPackageVersion'],
      ['slash version', testBundle('evil', '1.0/../../x').manifest, 400, 'InvalidPackageVersion'],
      ['encoded slash', testBundle('evil', '1.0%2F..').manifest, 400, 'InvalidPackageVersion'],
      ['upper-case name', testBundle('Evil', '1.0').manifest, 400, 'InvalidPackageName'],
      ['unicode name', testBundle('evil\u0131', '1.0').manifest, 400, 'InvalidPackageName'],
      ['path name', testBundle('../evil', '1.0').manifest, 400, 'InvalidPackageName'],
      ['packaging 3.0', testBundle('evil', '1.0', {}, { packagingVersion: '3.0' }).manifest, 422, 'UnsupportedPackagingVersion'],
      ['schema violation', testBundle('evil', '1.0', {}, { maintainer: 42 }).manifest, 422, 'InvalidPackage'],
      ['not an object', 'manifest', 400, 'InvalidManifest'],
    ];
    for (const [label, manifest, status, type] of cases) {
      const res = await api(reg.url, 'POST', '/uploads', { manifest });
      expect({ label, status: res.status, type: res.json?.type }).toEqual({ label, status, type });
      expect(typeof res.json.message).toBe('string');
    }
    const lies = testBundle('liar', '1.0.0', { 'x.bin': randomBytes(100) });
    lies.manifest.assets[0].digest = `sha256:${'0'.repeat(64)}`;
    expect((await api(reg.url, 'POST', '/uploads', { manifest: lies.manifest })).status).toBe(400);
    const malformed = await fetch(`${reg.url}/uploads`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{"manifest":',
    });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as any).type).toBe('InvalidJson');
    const huge = await fetch(`${reg.url}/uploads`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ manifest: { pad: 'x'.repeat(6 * 1024 * 1024) } }),
    });
    expect(huge.status).toBe(413);
    expect((await api(reg.url, 'DELETE', '/package/not-there/1.0.0')).status).toBe(404);
    expect((await api(reg.url, 'POST', '/uploads/not-an-id/complete')).status).toBe(400);
    expect((await api(reg.url, 'POST', '/uploads/aaaaaaaaaaaaaaaaaaaaaaaaaa/complete')).status).toBe(404);
    const after = (await (await fetch(`${reg.url}/repo`, { headers: { accept: COSMOS_ACCEPT } })).json()) as any;
    expect(after).toEqual(before);
  });

  it('wrong bytes or sizes fail the upload; a squatter cannot block an honest upload', async () => {
    const name = unique('bytes');
    const asset = randomBytes(20_000);
    const digest = sha256(asset);
    // Digest mismatch: the upload fails with a clear reason and nothing is added.
    const bad = testBundle(name, '1.0.0', { 'f.bin': asset });
    const s1 = await api(reg.url, 'POST', '/uploads', { manifest: bad.manifest });
    await sendBlobs(reg.url, s1.json, () => randomBytes(20_000));
    const r1 = await completeUpload(reg.url, s1.json.id);
    expect(r1.status).toBe(422);
    expect(r1.json.type).toBe('BlobDigestMismatch');
    expect((await api(reg.url, 'GET', `/uploads/${s1.json.id}`)).json.status).toBe('Failed');
    // Nothing was added: describe tells the failed upload (status Failed), never an added version.
    expect((await api(reg.url, 'GET', `/package/${name}/1.0.0`)).json.status).toBe('Failed');
    // Size mismatch.
    const s2 = await api(reg.url, 'POST', '/uploads', { manifest: bad.manifest });
    await sendBlobs(reg.url, s2.json, () => randomBytes(10));
    expect((await completeUpload(reg.url, s2.json.id)).json.type).toBe('BlobSizeMismatch');
    // Missing blob: 422 BlobMissing, the upload stays open.
    const s3 = await api(reg.url, 'POST', '/uploads', { manifest: bad.manifest });
    const missing = await completeUpload(reg.url, s3.json.id);
    expect(missing.json.type).toBe('BlobMissing');
    // Squatter: wrong bytes under the digest in its own upload, never completed.
    const squat = await api(reg.url, 'POST', '/uploads', { manifest: testBundle(unique('squat'), '1.0.0', { 'f.bin': asset }).manifest });
    await sendBlobs(reg.url, squat.json, () => Buffer.alloc(20_000));
    await sendBlobs(reg.url, s3.json, () => asset);
    const honest = await completeUpload(reg.url, s3.json.id);
    expect(honest.status).toBe(200);
    const url = `${reg.url}/resource/${digest.slice(7)}/f.bin`;
    expect(Buffer.from(await (await fetch(url)).arrayBuffer()).equals(asset)).toBe(true);
  });

  it('forged, tampered and expired upload URLs are refused', async () => {
    const name = unique('sig');
    const bundle = testBundle(name, '1.0.0', { 'f.bin': randomBytes(1000) });
    const start = await api(reg.url, 'POST', '/uploads', { manifest: bundle.manifest });
    const url = targetUrl(reg.url, start.json.blobs[0].upload.url);
    const put = (u: string) =>
      fetch(u, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: randomBytes(1000) });
    const sig = driver === 'file' ? 'X-Signature' : 'X-Amz-Signature';
    const tampered = new URL(url);
    tampered.searchParams.set(sig, `${tampered.searchParams.get(sig)!.slice(0, -2)}00`);
    expect((await put(tampered.toString())).status).toBe(403);
    const repointed = new URL(url);
    repointed.pathname = repointed.pathname.replace(/blobs\/[0-9a-f]+$/, `blobs/${'a'.repeat(64)}`);
    expect((await put(repointed.toString())).status).toBe(403);
    const unsigned = new URL(url);
    unsigned.search = '';
    expect([401, 403]).toContain((await put(unsigned.toString())).status);
    if (driver === 'file') {
      const expired = new URL(url);
      expired.searchParams.set('X-Expires', '1000');
      expect((await put(expired.toString())).status).toBe(403);
    }
  });
  // Last: it makes the catalog big for every test after it.
  it('an index past the inline limit (256 KiB after gzip) with no public URL configured is answered inline: nothing a request names is stored', async () => {
    const catalog = new Catalog(store.another());
    const filler = randomBytes(45_000).toString('base64');
    // About 600 KB of base64 and as much repeated text (450 KB gzipped: gzip pays, lib/repo.ts gzipPays):
    // a redirect to a stored rendering when REGISTRY_PUBLIC_URL
    // is set (test/api/openapi.test.ts, test/api/repo.test.ts); the base here comes from the request.
    for (let i = 0; i < 10; i++) {
      const entry = catalogEntry('big-catalog', `1.${i}.0`);
      entry.package = { ...entry.package, description: `${i} ${filler.slice(i)} ${'a long and repetitive description. '.repeat(1_720)}` };
      await addVersion(catalog, entry);
    }
    for (const host of ['one.example', 'two.example']) {
      const res = await fetch(`${reg.url}/repo`, {
        headers: { accept: COSMOS_ACCEPT, 'accept-encoding': 'gzip', 'x-forwarded-host': host },
        redirect: 'manual',
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-encoding')).toBe('gzip');
      const etag = res.headers.get('etag')!;
      expect(etag).toMatch(/^"[^"]+"$/);
      const index = (await res.json()) as any;
      expect(index.packages.filter((p: any) => p.name === 'big-catalog')).toHaveLength(10);
      const again = await fetch(`${reg.url}/repo`, { headers: { accept: COSMOS_ACCEPT, 'if-none-match': etag, 'x-forwarded-host': host } });
      expect(again.status).toBe(304);
    }
    expect(await store.storage.list('rendered/')).toEqual([]);
  });
});
