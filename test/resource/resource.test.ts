/**
 * GET/HEAD /resource/<digest>/<name> through the real `serverless offline`, on both drivers
 * (S3 = Ceph RGW): redirect mode, proxy mode (ranges, the 4 MB cap), conditional requests,
 * and signed URLs naming REGISTRY_S3_PUBLIC_ENDPOINT.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROXY_LIMIT } from '../../lib/downloads';
import { sha256 } from '../support/fixtures';
import { startOffline, type Offline } from '../support/offline';
import { drivers, s3Store, type TestStore } from '../support/stores';
import { addBundle, testBundle } from '../support/upload';

const COSMOS_ACCEPT = 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4';
const unique = (p: string) => `${p}-${randomBytes(3).toString('hex')}`;

/** Adds a package with these files; returns each file's served URL from /repo. */
async function addFiles(reg: Offline, files: Record<string, Buffer>): Promise<Record<string, string>> {
  const name = unique('res');
  const added = await addBundle(reg.url, testBundle(name, '1.0.0', files));
  expect(added.status).toBe(200);
  const repo = (await (await fetch(`${reg.url}/repo`, { headers: { accept: COSMOS_ACCEPT } })).json()) as any;
  const uris: Record<string, string> = repo.packages.find((p: any) => p.name === name).resource.assets.uris;
  return Object.fromEntries(Object.keys(files).map((f, i) => [f, uris[`asset-${i}`]]));
}

describe.each(drivers)('/resource on $name storage', ({ name: driver, make }) => {
  let store: TestStore;
  let redirect: Offline;
  let proxy: Offline;
  const small = randomBytes(70_000);
  const big = randomBytes(PROXY_LIMIT + 1000);
  let urls: Record<string, string>;
  beforeAll(async () => {
    store = await make();
    [redirect, proxy] = await Promise.all([startOffline(store.env), startOffline({ ...store.env, REGISTRY_DOWNLOADS: 'proxy' })]);
    urls = await addFiles(redirect, { 'small file.tgz': small, 'big.bin': big });
  }, 180_000);
  afterAll(async () => {
    await Promise.all([redirect?.stop(), proxy?.stop()]);
    await store?.cleanup();
  });

  it('serves a stable URL with the original file name: a redirect whose target answers 200 with the bytes', async () => {
    const url = urls['small file.tgz'];
    expect(url).toBe(`${redirect.url}/resource/${sha256(small).slice(7)}/small%20file.tgz`);
    const r = await fetch(url, { redirect: 'manual' });
    expect(r.status).toBe(307);
    const location = r.headers.get('location')!;
    if (driver === 's3') expect(location.startsWith(`${store.env.REGISTRY_S3_ENDPOINT}/`)).toBe(true);
    else expect(location.startsWith(`${redirect.url}/_store/`)).toBe(true);
    const final = await fetch(url);
    expect(final.status).toBe(200);
    expect(Number(final.headers.get('content-length'))).toBe(small.length);
    expect(Buffer.from(await final.arrayBuffer()).equals(small)).toBe(true);
  });

  it('HEAD answers the size, ETag and immutable caching without a redirect; If-None-Match gets 304', async () => {
    const url = urls['small file.tgz'];
    const head = await fetch(url, { method: 'HEAD', redirect: 'manual' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(small.length);
    expect(head.headers.get('etag')).toBe(`"${sha256(small).slice(7)}"`);
    expect(head.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const etag = head.headers.get('etag')!;
    const again = await fetch(url, { headers: { 'if-none-match': etag }, redirect: 'manual' });
    expect(again.status).toBe(304);
    const other = await fetch(url, { headers: { 'if-none-match': '"other"' }, redirect: 'manual' });
    expect(other.status).toBe(307);
  });

  it("an unknown digest or a name that is not the asset's is 404 ResourceNotFound", async () => {
    for (const path of [`/resource/${'0'.repeat(64)}/x.tgz`, `/resource/${sha256(small).slice(7)}/other.tgz`]) {
      const r = await fetch(`${redirect.url}${path}`, { redirect: 'manual' });
      expect(r.status).toBe(404);
      expect(((await r.json()) as any).type).toBe('ResourceNotFound');
    }
  });

  it('proxy mode: the bytes with Content-Length, Range as 206, 416 outside; a blob over 4 MB still redirects', async () => {
    const smallPath = new URL(urls['small file.tgz']).pathname;
    const whole = await fetch(`${proxy.url}${smallPath}`, { redirect: 'manual' });
    expect(whole.status).toBe(200);
    expect(Number(whole.headers.get('content-length'))).toBe(small.length);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await whole.arrayBuffer()).equals(small)).toBe(true);

    const part = await fetch(`${proxy.url}${smallPath}`, { headers: { range: 'bytes=1000-1999' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 1000-1999/${small.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(small.subarray(1000, 2000))).toBe(true);
    const outside = await fetch(`${proxy.url}${smallPath}`, { headers: { range: `bytes=${small.length + 5}-` } });
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe(`bytes */${small.length}`);

    const bigPath = new URL(urls['big.bin']).pathname;
    const bigAnswer = await fetch(`${proxy.url}${bigPath}`, { redirect: 'manual' });
    expect(bigAnswer.status).toBe(307);
    // …but a range of it fits in one answer
    const tail = await fetch(`${proxy.url}${bigPath}`, { headers: { range: 'bytes=-100' } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(big.subarray(big.length - 100))).toBe(true);
    const followed = await fetch(`${proxy.url}${bigPath}`);
    expect(followed.status).toBe(200);
    expect(Number(followed.headers.get('content-length'))).toBe(big.length);
  }, 60_000);
});

/** A TCP forwarder to the store: another address of it, as a NAT or proxy in front of it would be. */
async function forwarder(target: URL): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('REGISTRY_S3_PUBLIC_ENDPOINT', () => {
  let store: TestStore;
  let reg: Offline;
  let publicStore: Awaited<ReturnType<typeof forwarder>>;
  beforeAll(async () => {
    store = await s3Store();
    // The functions reach RGW at its own address; clients are told another one. (Not
    // "localhost": this RGW has no `rgw dns name`, so it would take that Host as a bucket.)
    publicStore = await forwarder(new URL(store.env.REGISTRY_S3_ENDPOINT));
    reg = await startOffline({ ...store.env, REGISTRY_S3_PUBLIC_ENDPOINT: publicStore.url });
  }, 120_000);
  afterAll(async () => {
    await reg?.stop();
    await publicStore?.close();
    await store?.cleanup();
  });

  it('signed download URLs name the public endpoint, and the store accepts them there', async () => {
    const bytes = randomBytes(5000);
    const urls = await addFiles(reg, { 'pub.bin': bytes });
    const r = await fetch(urls['pub.bin'], { redirect: 'manual' });
    expect(r.status).toBe(307);
    const location = r.headers.get('location')!;
    expect(location.startsWith(`${publicStore.url}/`)).toBe(true);
    expect(location.startsWith(`${store.env.REGISTRY_S3_ENDPOINT}/`)).toBe(false);
    const final = await fetch(location);
    expect(final.status).toBe(200);
    expect(Buffer.from(await final.arrayBuffer()).equals(bytes)).toBe(true);
  }, 60_000);
});
