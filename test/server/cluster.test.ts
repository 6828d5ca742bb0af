/**
 * Production mode: several server instances over one S3 (Ceph RGW) bucket/prefix, as
 * behind a load balancer. They agree on one catalog whatever instance took each write, and
 * proxy mode streams blobs above the Lambda payload limit (with ranges).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../support/fixtures';
import { s3Store, type TestStore } from '../support/stores';
import { addBundle, api, testBundle } from '../support/upload';
import { startServer, type ServerProcess } from './harness';

const COSMOS_ACCEPT =
  'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5,application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4';
const PUBLIC_URL = 'http://registry.site.test';
const MiB = 1024 * 1024;

describe('three instances on one S3 prefix', () => {
  let store: TestStore;
  let instances: ServerProcess[] = [];
  beforeAll(async () => {
    store = await s3Store();
    // Behind one load balancer every instance has the same public URL.
    instances = await Promise.all([1, 2, 3].map(() => startServer({ env: { ...store.env, REGISTRY_PUBLIC_URL: PUBLIC_URL } })));
  });
  afterAll(async () => {
    await Promise.all(instances.map((s) => s.stop()));
  });

  it('agree on the catalog after concurrent adds through all three', async () => {
    const bundles = Array.from({ length: 12 }, (_, i) =>
      testBundle(`multi-${i}-${randomBytes(3).toString('hex')}`, '1.0.0', { 'x.bin': randomBytes(1500) }),
    );
    const answers = await Promise.all(bundles.map((b, i) => addBundle(instances[i % 3].url, b)));
    for (const a of answers) expect(a.json).toMatchObject({ status: 'Added' });

    // Read-your-writes on every instance, and byte-identical indexes.
    const repos = await Promise.all(
      instances.map(async (s) => {
        const res = await fetch(`${s.url}/repo`, { headers: { accept: COSMOS_ACCEPT } });
        expect(res.status).toBe(200);
        return { etag: res.headers.get('etag'), body: await res.text() };
      }),
    );
    expect(new Set(repos.map((r) => r.body)).size).toBe(1);
    expect(new Set(repos.map((r) => r.etag)).size).toBe(1);
    const names = (JSON.parse(repos[0].body).packages as any[]).map((p) => p.name);
    for (const b of bundles) expect(names).toContain(b.manifest.package.name);
    // releaseVersion is assigned once, so every instance describes the same one.
    const described = await Promise.all(instances.map((s) => api(s.url, 'GET', `/package/${bundles[0].manifest.package.name}/1.0.0`)));
    expect(new Set(described.map((d) => JSON.stringify(d.json))).size).toBe(1);
  });

  it('let exactly one of concurrent adds of one name+version with different content win', async () => {
    const name = `race-${randomBytes(3).toString('hex')}`;
    const answers = await Promise.all(
      instances.map((s, i) => addBundle(s.url, testBundle(name, '1.0.0', { 'x.bin': randomBytes(1000 + i) }))),
    );
    const winners = answers.filter((a) => a.status === 200 && a.json?.status === 'Added');
    expect(winners).toHaveLength(1);
    for (const a of answers.filter((x) => !winners.includes(x))) expect(a.status).toBe(409);
    const listed = await Promise.all(instances.map((s) => api(s.url, 'GET', '/package')));
    for (const l of listed) expect(l.json.packages.find((p: any) => p.name === name).versions).toHaveLength(1);
  });
});

describe('proxy mode through the server (S3 not reachable by clients)', () => {
  let store: TestStore;
  let redirecting: ServerProcess;
  let proxying: ServerProcess;
  beforeAll(async () => {
    store = await s3Store();
    redirecting = await startServer({ env: store.env });
    proxying = await startServer({ env: { ...store.env, REGISTRY_DOWNLOADS: 'proxy' } });
  });
  afterAll(async () => {
    await redirecting?.stop();
    await proxying?.stop();
  });

  it('streams an asset above the Lambda payload limit, whole and by range, instead of redirecting', async () => {
    const name = `proxy-${randomBytes(3).toString('hex')}`;
    const asset = randomBytes(9 * MiB);
    const added = await addBundle(redirecting.url, testBundle(name, '1.0.0', { 'big.bin': asset }));
    expect(added.json).toMatchObject({ status: 'Added' });
    const path = `/resource/${sha256(asset).slice(7)}/big.bin`;

    const redirect = await fetch(`${redirecting.url}${path}`, { redirect: 'manual' });
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get('location')).toContain(process.env.REGISTRY_TEST_S3_ENDPOINT!);

    const whole = await fetch(`${proxying.url}${path}`, { redirect: 'manual' });
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-length')).toBe(String(asset.length));
    expect(whole.headers.get('etag')).toBe(`"${sha256(asset).slice(7)}"`);
    expect(Buffer.from(await whole.arrayBuffer()).equals(asset)).toBe(true);

    const start = 5 * MiB;
    const part = await fetch(`${proxying.url}${path}`, { headers: { range: `bytes=${start}-` }, redirect: 'manual' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes ${start}-${asset.length - 1}/${asset.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(asset.subarray(start))).toBe(true);

    const unknown = await fetch(`${proxying.url}/resource/${'0'.repeat(64)}/big.bin`, { redirect: 'manual' });
    expect(unknown.status).toBe(404);
  });
});
