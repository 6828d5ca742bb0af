/**
 * Every route answers the same on every runtime: each operation of docs/openapi.yaml (and
 * each GET path again with a trailing slash, /v2 and /v2/ included) sent to serverless
 * offline and to the production server over one store, comparing the status and the
 * headers clients act on. Values that name the runtime itself (Location's origin, request
 * ids, dates) are compared by presence.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_FORMAT, type BundleManifest } from '../../lib/bundle/manifest';
import * as mt from '../../lib/docker/media-types';
import { type ServerProcess, startServer } from '../server/harness';
import { packageMetadata, sha256 } from '../support/fixtures';
import { imageManifest } from '../support/oci';
import { type Offline, startOffline } from '../support/offline';
import { openApi } from '../support/openapi';
import { fileStore, type TestStore } from '../support/stores';
import { addBundle, auth } from '../support/upload';

const COSMOS_ACCEPT = 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4';
const COMPARED = [
  'content-security-policy',
  'content-type',
  'docker-distribution-api-version',
  'docker-content-digest',
  'cache-control',
  'content-disposition',
  'content-range',
  'x-content-type-options',
  'www-authenticate',
  'link',
];
const PRESENT = ['etag', 'location'];

interface Case {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** A package with one asset and one OCI image, so that every read route has something to find. */
function bundle(): { manifest: BundleManifest; blobs: Map<string, Buffer>; asset: string; assetHex: string; image: string } {
  const asset = Buffer.from(`asset ${randomBytes(8).toString('hex')}`);
  const config = Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64' }));
  const layer = randomBytes(2000);
  const image = imageManifest(config, [layer]).bytes;
  const blobs = new Map([asset, config, layer, image].map((b) => [sha256(b), b]));
  const reference = 'source.example.com/team/app:1.0';
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    package: packageMetadata('parity', '1.0.0', {
      resource: { assets: { uris: { 'asset-0': 'https://downloads.example.com/a.tgz' }, container: { docker: { app: reference } } } },
    }) as BundleManifest['package'],
    assets: [
      { uri: 'https://downloads.example.com/a.tgz', digest: sha256(asset) as `sha256:${string}`, size: asset.length, name: 'a.tgz' },
    ],
    images: [
      {
        reference,
        key: 'app',
        repository: 'team/app',
        tag: '1.0',
        manifestDigest: sha256(image) as `sha256:${string}`,
        mediaType: mt.OCI_MANIFEST,
      },
    ],
    blobs: [...blobs]
      .map(([digest, b]) => ({ digest: digest as `sha256:${string}`, size: b.length }))
      .sort((a, b) => (a.digest < b.digest ? -1 : 1)),
  };
  return { manifest, blobs, asset: 'a.tgz', assetHex: sha256(asset).slice(7), image: sha256(image) };
}

describe('parity: serverless offline and the production server answer every route the same', () => {
  let store: TestStore;
  let offline: Offline;
  let server: ServerProcess;
  let b: ReturnType<typeof bundle>;
  /** Signed /_store paths, taken from a redirect (the signature binds the key, not the origin). */
  let storeGet = '';

  beforeAll(async () => {
    store = await fileStore();
    [offline, server] = await Promise.all([startOffline(store.env), startServer({ env: store.env })]);
    b = bundle();
    const added = await addBundle(server.url, b);
    expect(added.status).toBe(200);
    const redirect = await fetch(`${server.url}/resource/${b.assetHex}/${b.asset}`, { redirect: 'manual' });
    const location = new URL(redirect.headers.get('location')!);
    storeGet = `${location.pathname}${location.search}`;
  }, 180_000);
  afterAll(async () => {
    await Promise.all([offline?.stop(), server?.stop()]);
    await store?.cleanup();
  });

  /** Concrete requests for each documented operation ("GET /v2/{proxy}": several). */
  function cases(): Record<string, Case[]> {
    const unknownId = 'a'.repeat(26);
    const blob = `/v2/team/app/blobs/${b.image}`;
    const forgedStore = storeGet.replace(/X-Signature=[^&]+/i, `X-Signature=${'0'.repeat(64)}`);
    const manifestJson = JSON.stringify({ manifest: {} });
    return {
      'GET /': [
        { method: 'GET', path: '/' },
        { method: 'GET', path: '/', headers: { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' } },
      ],
      'GET /health': [{ method: 'GET', path: '/health' }],
      'GET /repo': [
        { method: 'GET', path: '/repo', headers: { accept: COSMOS_ACCEPT } },
        { method: 'GET', path: '/repo', headers: { accept: 'text/html' } },
      ],
      'POST /uploads': [
        { method: 'POST', path: '/uploads', headers: { 'content-type': 'application/json' }, body: manifestJson },
        { method: 'POST', path: '/uploads', headers: { ...auth, 'content-type': 'application/json' }, body: manifestJson },
        { method: 'POST', path: '/uploads', headers: { ...auth, 'content-type': 'application/json' }, body: '{' },
      ],
      'GET /uploads/{id}': [
        { method: 'GET', path: `/uploads/${unknownId}` },
        { method: 'GET', path: `/uploads/${unknownId}`, headers: auth },
        { method: 'GET', path: '/uploads/BAD', headers: auth },
      ],
      'DELETE /uploads/{id}': [
        { method: 'DELETE', path: `/uploads/${unknownId}` },
        { method: 'DELETE', path: `/uploads/${unknownId}`, headers: auth },
      ],
      'POST /uploads/{id}/complete': [
        { method: 'POST', path: `/uploads/${unknownId}/complete` },
        { method: 'POST', path: `/uploads/${unknownId}/complete`, headers: auth },
      ],
      'GET /package': [{ method: 'GET', path: '/package' }],
      'GET /package/{name}/{version}': [
        { method: 'GET', path: '/package/parity/1.0.0' },
        { method: 'GET', path: '/package/parity/9.9.9' },
      ],
      'DELETE /package/{name}/{version}': [
        { method: 'DELETE', path: '/package/parity/9.9.9' },
        { method: 'DELETE', path: '/package/parity/9.9.9', headers: auth },
      ],
      'POST /gc': [{ method: 'POST', path: '/gc' }],
      'GET /audit': [
        { method: 'GET', path: '/audit' },
        { method: 'GET', path: '/audit?limit=2', headers: auth },
        { method: 'GET', path: '/audit?limit=0', headers: auth },
      ],
      'GET /resource/{digest}/{name}': [
        { method: 'GET', path: `/resource/${b.assetHex}/${b.asset}` },
        { method: 'GET', path: `/resource/${'0'.repeat(64)}/${b.asset}` },
      ],
      'HEAD /resource/{digest}/{name}': [{ method: 'HEAD', path: `/resource/${b.assetHex}/${b.asset}` }],
      'GET /v2': [{ method: 'GET', path: '/v2' }],
      'GET /v2/{proxy}': [
        { method: 'GET', path: '/v2/_catalog' },
        { method: 'GET', path: '/v2/_catalog?n=1' },
        { method: 'GET', path: '/v2/team/app/tags/list' },
        { method: 'GET', path: '/v2/team/app/manifests/1.0', headers: { accept: mt.OCI_MANIFEST } },
        { method: 'GET', path: `/v2/team/app/manifests/${b.image}` },
        { method: 'GET', path: '/v2/team/app/manifests/nope' },
        { method: 'GET', path: blob },
        { method: 'GET', path: '/v2/no/such/tags/list' },
      ],
      'HEAD /v2/{proxy}': [
        { method: 'HEAD', path: '/v2/team/app/manifests/1.0' },
        { method: 'HEAD', path: blob },
      ],
      'GET /_store/{key}': [
        { method: 'GET', path: storeGet },
        { method: 'GET', path: storeGet, headers: { range: 'bytes=0-3' } },
        { method: 'GET', path: forgedStore },
      ],
      'GET /ui': [{ method: 'GET', path: '/ui' }],
      'GET /ui/packages/{name}': [
        { method: 'GET', path: '/ui/packages/parity' },
        { method: 'GET', path: '/ui/packages/parity?version=9.9.9' },
        { method: 'GET', path: '/ui/packages/nope' },
      ],
      'GET /ui/assets/{file}': [
        { method: 'GET', path: '/ui/assets/app.js' },
        { method: 'GET', path: '/ui/assets/nope.css' },
      ],
      'PUT /_store/{key}': [{ method: 'PUT', path: forgedStore, headers: { 'content-type': 'application/octet-stream' }, body: 'x' }],
    };
  }

  async function answer(base: string, c: Case) {
    const res = await fetch(`${base}${c.path}`, { method: c.method, headers: c.headers, body: c.body, redirect: 'manual' });
    const empty = (await res.arrayBuffer()).byteLength === 0;
    const out: Record<string, string | number | boolean | null> = { status: res.status, empty };
    for (const h of COMPARED) out[h] = res.headers.get(h);
    for (const h of PRESENT) out[`${h} present`] = res.headers.has(h);
    // hapi (serverless-offline) appends `; charset=utf-8` to JSON types; API Gateway does not.
    out['content-type'] = (out['content-type'] as string | null)?.replace(/;\s*charset=utf-8/i, '') ?? null;
    return out;
  }

  async function compare(c: Case) {
    const label = `${c.method} ${c.path}${c.headers?.authorization ? ' (token)' : ''}`;
    const [a, s] = [await answer(offline.url, c), await answer(server.url, c)];
    // hapi's default when an answer sets no Cache-Control (API Gateway adds none): the app's own values must match.
    if (a['cache-control'] === 'no-cache' && s['cache-control'] === null) a['cache-control'] = null;
    // hapi again: an empty answer without a type gets application/json.
    if (a.empty && a['content-type'] === 'application/json' && s['content-type'] === null) a['content-type'] = null;
    expect({ label, ...s }).toEqual({ label, ...a });
    return a.status as number;
  }

  it('walks every operation of docs/openapi.yaml', async () => {
    const all = cases();
    const documented = openApi()
      .operations.map((o) => `${o.method} ${o.template}`)
      .sort();
    expect(Object.keys(all).sort()).toEqual(documented);
    for (const list of Object.values(all)) for (const c of list) await compare(c);
  });

  it('answers every read path the same with a trailing slash, /v2/ included', async () => {
    const reads = Object.values(cases())
      .flat()
      .filter((c) => c.method === 'GET' || c.method === 'HEAD')
      .filter((c) => !c.path.startsWith('/_store/') && c.path !== '/' && !c.path.includes('?'));
    expect(reads.map((c) => c.path)).toContain('/v2');
    for (const c of reads) await compare({ ...c, path: `${c.path}/` });
    // And the Docker base itself, as every client asks it.
    expect(await compare({ method: 'GET', path: '/v2/' })).toBe(200);
  });
});
