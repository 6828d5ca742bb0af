/**
 * The /v2 answers straight from lib/v2/serve.ts over a filesystem store: tag resolution
 * by commit order, disappearance on remove, Accept handling, HEAD, pagination, spec errors,
 * proxy mode and ranges. The real clients (skopeo through serverless offline) are in pull.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogVersion } from '../../lib/catalog/model';
import { addVersion, removeVersion } from '../../lib/catalog/ops';
import { parseConfig } from '../../lib/config';
import { MAX_PAGE, v2Answer, type V2Request } from '../../lib/v2/serve';
import * as mt from '../../lib/docker/media-types';
import { PROXY_LIMIT } from '../../lib/downloads';
import { keys } from '../../lib/keys';
import { createRegistry, type Registry } from '../../lib/registry';
import { catalogEntry, sha256 } from '../support/fixtures';
import { fileStore, type TestStore } from '../support/stores';

interface Image {
  manifest: Buffer;
  digest: string;
  blobs: Array<{ digest: string; bytes: Buffer }>;
}

function image(layerSizes = [1000, 3000], mediaType = mt.OCI_MANIFEST): Image {
  const config = Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', nonce: randomBytes(8).toString('hex') }));
  const layers = layerSizes.map((n) => randomBytes(n));
  const d = (b: Buffer) => ({ digest: sha256(b), size: b.length });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: mediaType === mt.OCI_MANIFEST ? mt.OCI_CONFIG : mt.DOCKER_CONFIG, ...d(config) },
      layers: layers.map((l) => ({ mediaType: mediaType === mt.OCI_MANIFEST ? mt.OCI_LAYER_GZIP : mt.DOCKER_LAYER_GZIP, ...d(l) })),
    }),
  );
  return { manifest, digest: sha256(manifest), blobs: [config, ...layers].map((bytes) => ({ digest: sha256(bytes), bytes })) };
}

let store: TestStore;
let registry: Registry;
const make = (env: Record<string, string> = {}) =>
  createRegistry(parseConfig({ ...store.env, REGISTRY_WRITE_TOKENS: 'x'.repeat(16), ...env }));

async function put(img: Image): Promise<void> {
  await registry.storage.put(keys.blob(img.digest), img.manifest).catch(() => undefined);
  for (const b of img.blobs) await registry.storage.put(keys.blob(b.digest), b.bytes).catch(() => undefined);
}

/** A catalog version carrying the given images as repository:tag (recorded blob lists unless `legacy`). */
async function addWith(
  name: string,
  version: string,
  images: Array<{ img: Image; repository: string; tag: string | null; legacy?: boolean; mediaType?: string }>,
): Promise<number> {
  for (const i of images) await put(i.img);
  const entry: Omit<CatalogVersion, 'seq'> = {
    ...catalogEntry(name, version, randomBytes(4).toString('hex')),
    images: images.map((i, n) => ({
      reference: `source.example.com/${i.repository}${i.tag ? `:${i.tag}` : `@${i.img.digest}`}`,
      key: `img${n}`,
      repository: i.repository,
      tag: i.tag,
      manifestDigest: i.img.digest,
      mediaType: i.mediaType ?? mt.OCI_MANIFEST,
      ...(i.legacy ? {} : { blobs: i.img.blobs.map((b) => b.digest) }),
    })),
    blobs: images
      .flatMap((i) => [
        { digest: i.img.digest, size: i.img.manifest.length },
        ...i.img.blobs.map((b) => ({ digest: b.digest, size: b.bytes.length })),
      ])
      .sort((a, b) => (a.digest < b.digest ? -1 : 1)),
  };
  return addVersion(registry.catalog, entry);
}

function req(path: string, headers: Record<string, string> = {}, method = 'GET'): V2Request {
  const [p, q] = path.split('?');
  return {
    method,
    path: p,
    query: Object.fromEntries(new URLSearchParams(q ?? '')),
    headers,
    origin: 'http://registry.test',
    requestId: 't',
  };
}

async function call(r: Registry, path: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await v2Answer(r, req(path, headers, method));
  const headersOut = res.headers as Record<string, string>;
  expect(headersOut['docker-distribution-api-version']).toBe('registry/2.0');
  const raw = res.isBase64Encoded ? Buffer.from(String(res.body), 'base64') : Buffer.from(String(res.body ?? ''));
  let json: any;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: headersOut, raw, json };
}

const ACCEPT_ALL = [mt.OCI_MANIFEST, mt.DOCKER_MANIFEST, mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST].join(', ');

beforeAll(async () => {
  store = await fileStore();
  registry = make();
});
afterAll(async () => store?.cleanup());

describe('/v2 served from the catalog', () => {
  it('answers the base route and an empty catalog', async () => {
    expect(await call(registry, '/v2/')).toMatchObject({ status: 200, json: {} });
    expect(await call(registry, '/v2')).toMatchObject({ status: 200, json: {} });
  });

  it('serves manifests by tag and digest with the stored bytes and headers; HEAD has the length only', async () => {
    const img = image();
    await addWith('tagged', '1.0.0', [{ img, repository: 'team/app', tag: 'v1' }]);
    for (const ref of ['v1', img.digest]) {
      const r = await call(registry, `/v2/team/app/manifests/${ref}`, { accept: ACCEPT_ALL });
      expect(r.status).toBe(200);
      expect(r.raw.equals(img.manifest)).toBe(true);
      expect(r.headers['content-type']).toBe(mt.OCI_MANIFEST);
      expect(r.headers['docker-content-digest']).toBe(img.digest);
      expect(r.headers['content-length']).toBe(String(img.manifest.length));
      expect(r.headers.etag).toBe(`"${img.digest}"`);
      const h = await call(registry, `/v2/team/app/manifests/${ref}`, { accept: ACCEPT_ALL }, 'HEAD');
      expect(h).toMatchObject({ status: 200, raw: Buffer.alloc(0) });
      expect(h.headers['content-length']).toBe(String(img.manifest.length));
      expect(h.headers['docker-content-digest']).toBe(img.digest);
    }
    expect((await call(registry, '/v2/team/app/manifests/v1', { 'if-none-match': `"${img.digest}"` })).status).toBe(304);
  });

  it('serves the stored manifest whatever the Accept header says (gateways keep one of several Accept headers)', async () => {
    const img = image([10]);
    await addWith('accept', '1.0.0', [{ img, repository: 'accept/oci', tag: 'v1' }]);
    for (const accept of [mt.OCI_INDEX, `${mt.DOCKER_MANIFEST}, ${mt.DOCKER_MANIFEST_LIST}`, '']) {
      const r = await call(registry, '/v2/accept/oci/manifests/v1', accept ? { accept } : {});
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe(mt.OCI_MANIFEST);
      expect(r.raw.equals(img.manifest)).toBe(true);
    }
  });

  it('a tag names the manifest of the most recently added version; remove falls back, then the repository vanishes', async () => {
    const a = image([100]);
    const b = image([200]);
    await addWith('first', '1.0.0', [{ img: a, repository: 'shared/img', tag: 'latest' }]);
    await addWith('second', '1.0.0', [{ img: b, repository: 'shared/img', tag: 'latest' }]);
    const digestOf = async () => (await call(registry, '/v2/shared/img/manifests/latest')).headers['docker-content-digest'];
    expect(await digestOf()).toBe(b.digest);
    // a's blobs stay while the version that carries them is added
    expect((await call(registry, `/v2/shared/img/blobs/${a.blobs[1].digest}`)).status).toBe(307);

    await removeVersion(registry.catalog, 'second', '1.0.0');
    expect(await digestOf()).toBe(a.digest);
    const gone = await call(registry, `/v2/shared/img/blobs/${b.blobs[1].digest}`);
    expect(gone.status).toBe(404);
    expect(gone.json.errors[0].code).toBe('BLOB_UNKNOWN');
    expect((await call(registry, `/v2/shared/img/manifests/${b.digest}`)).json.errors[0].code).toBe('MANIFEST_UNKNOWN');

    // re-adding the older one after a newer one: the newest add wins the tag
    await addWith('second', '1.0.0', [{ img: b, repository: 'shared/img', tag: 'latest' }]);
    expect(await digestOf()).toBe(b.digest);
    await removeVersion(registry.catalog, 'first', '1.0.0');
    await removeVersion(registry.catalog, 'second', '1.0.0');
    const unknown = await call(registry, '/v2/shared/img/manifests/latest');
    expect(unknown.status).toBe(404);
    expect(unknown.json.errors[0]).toMatchObject({ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' });
    expect((await call(registry, '/v2/_catalog')).json.repositories).not.toContain('shared/img');
  });

  it('blobs: redirect to a signed store URL with the digest; HEAD answers the size; only blobs of the repository', async () => {
    const img = image([5000]);
    const other = image([10]);
    await addWith('blobs', '1.0.0', [
      { img, repository: 'blob/one', tag: 'v1' },
      { img: other, repository: 'blob/two', tag: 'v1' },
    ]);
    const layer = img.blobs[1];
    const r = await call(registry, `/v2/blob/one/blobs/${layer.digest}`);
    expect(r.status).toBe(307);
    expect(r.headers.location).toMatch(/^http:\/\/registry\.test\/_store\/blobs\/sha256\//);
    expect(r.headers['docker-content-digest']).toBe(layer.digest);
    const h = await call(registry, `/v2/blob/one/blobs/${layer.digest}`, {}, 'HEAD');
    expect(h.status).toBe(200);
    expect(h.headers['content-length']).toBe(String(layer.bytes.length));
    // the manifest itself is a blob of the repository too
    expect((await call(registry, `/v2/blob/one/blobs/${img.digest}`, {}, 'HEAD')).status).toBe(200);
    // a blob of another repository is unknown here
    const foreign = await call(registry, `/v2/blob/one/blobs/${other.blobs[1].digest}`);
    expect(foreign).toMatchObject({ status: 404, json: { errors: [{ code: 'BLOB_UNKNOWN' }] } });
  });

  it('images committed without blob lists: blobs found by reading their manifest', async () => {
    const img = image([300, 400]);
    await addWith('legacy', '1.0.0', [{ img, repository: 'old/img', tag: 'v1', legacy: true }]);
    const fresh = make(); // another instance: nothing cached
    for (const b of img.blobs)
      expect((await call(fresh, `/v2/old/img/blobs/${b.digest}`, {}, 'HEAD')).headers['content-length']).toBe(String(b.bytes.length));
    expect((await call(fresh, `/v2/old/img/blobs/sha256:${'0'.repeat(64)}`)).status).toBe(404);
  });

  it('proxy mode: small blobs inline, ranges as 206 (416 outside), big whole blobs still redirect', async () => {
    const img = image([PROXY_LIMIT + 10, 3000]);
    await addWith('proxy', '1.0.0', [{ img, repository: 'proxy/img', tag: 'v1' }]);
    const proxy = make({ REGISTRY_DOWNLOADS: 'proxy' });
    const [, big, small] = img.blobs;
    const s = await call(proxy, `/v2/proxy/img/blobs/${small.digest}`);
    expect(s.status).toBe(200);
    expect(s.raw.equals(small.bytes)).toBe(true);
    expect(s.headers['content-length']).toBe(String(small.bytes.length));
    const part = await call(proxy, `/v2/proxy/img/blobs/${big.digest}`, { range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-199/${big.bytes.length}`);
    expect(part.raw.equals(big.bytes.subarray(100, 200))).toBe(true);
    const tail = await call(proxy, `/v2/proxy/img/blobs/${small.digest}`, { range: 'bytes=-10' });
    expect(tail.raw.equals(small.bytes.subarray(small.bytes.length - 10))).toBe(true);
    expect((await call(proxy, `/v2/proxy/img/blobs/${small.digest}`, { range: `bytes=${small.bytes.length}-` })).status).toBe(416);
    const whole = await call(proxy, `/v2/proxy/img/blobs/${big.digest}`);
    expect(whole.status).toBe(307);
  });

  it('tags/list and _catalog page with n/last and a Link header', async () => {
    const imgs = ['a', 'b', 'c', 'd', 'e'].map(() => image([10]));
    await addWith(
      'paged',
      '1.0.0',
      imgs.map((img, i) => ({ img, repository: 'page/img', tag: `t${i}` })),
    );
    const all = await call(registry, '/v2/page/img/tags/list');
    expect(all.json).toEqual({ name: 'page/img', tags: ['t0', 't1', 't2', 't3', 't4'] });
    expect(all.headers.link).toBeUndefined();
    const p1 = await call(registry, '/v2/page/img/tags/list?n=2');
    expect(p1.json.tags).toEqual(['t0', 't1']);
    expect(p1.headers.link).toBe('</v2/page/img/tags/list?n=2&last=t1>; rel="next"');
    const p3 = await call(registry, '/v2/page/img/tags/list?n=2&last=t3');
    expect(p3.json.tags).toEqual(['t4']);
    expect(p3.headers.link).toBeUndefined();
    expect((await call(registry, '/v2/page/img/tags/list?n=-1')).json.errors[0].code).toBe('PAGINATION_NUMBER_INVALID');
    const cat = await call(registry, '/v2/_catalog?n=1');
    expect(cat.json.repositories).toHaveLength(1);
    expect(cat.headers.link).toMatch(/^<\/v2\/_catalog\?n=1&last=[^>]+>; rel="next"$/);
    const names: string[] = [];
    let next = '/v2/_catalog?n=2';
    for (let i = 0; i < 50 && next; i++) {
      const page = await call(registry, next);
      names.push(...page.json.repositories);
      next = page.headers.link ? /^<([^>]+)>/.exec(page.headers.link)![1] : '';
    }
    expect(names).toEqual((await call(registry, '/v2/_catalog')).json.repositories);
    expect(names).toEqual([...names].sort());
    expect(MAX_PAGE).toBeGreaterThanOrEqual(100);
  });

  it('spec errors for bad names, digests and methods', async () => {
    expect((await call(registry, '/v2/UPPER/manifests/v1')).json.errors[0].code).toBe('NAME_INVALID');
    expect((await call(registry, '/v2/UPPER/manifests/v1')).status).toBe(400);
    expect((await call(registry, '/v2/team/app/blobs/sha256:xyz')).status).toBe(400);
    expect((await call(registry, '/v2/team/app/blobs/sha256:xyz')).json.errors[0].code).toBe('DIGEST_INVALID');
    expect((await call(registry, '/v2/team/app/manifests/md5:abc')).json.errors[0].code).toBe('DIGEST_INVALID');
    expect((await call(registry, '/v2/team/app/manifests/nope')).json.errors[0]).toMatchObject({
      code: 'MANIFEST_UNKNOWN',
      detail: { tag: 'nope' },
    });
    expect((await call(registry, '/v2/team/app/manifests/v1', {}, 'DELETE')).json.errors[0].code).toBe('UNSUPPORTED');
    expect((await call(registry, '/v2/team/app/whatever')).status).toBe(404);
  });
});
