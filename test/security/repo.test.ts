/**
 * Hostile readers of GET /repo (issue 10, item 1): anonymous clients vary Host /
 * X-Forwarded-Host (the request's origin) and the dcos/x.y of User-Agent to make the registry
 * store one rendering of a large catalog per header value. Stored renderings are keyed only
 * by catalog content, repo version, encoding and the configured public URL, with the DC/OS
 * version mapped onto the catalog's own minDcosReleaseVersion thresholds; without a configured
 * public URL nothing is stored and the renderings held in memory are bounded per catalog state
 * (REGISTRY_REPO_RENDERINGS_PER_STATE). Both drivers, S3 on Ceph RGW.
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../lib/catalog/catalog';
import { addVersion } from '../../lib/catalog/ops';
import { ConfigError, parseConfig } from '../../lib/config';
import { collectGarbage } from '../../lib/gc';
import type { Response } from '../../lib/http/handler';
import { keys } from '../../lib/keys';
import type { Registry } from '../../lib/registry';
import { heldRenderings, type RepoRequest } from '../../lib/repo';
import type { Storage } from '../../lib/storage/port';
import { WriteGate } from '../../lib/storage/probe';
import { dcosVersionFromUserAgent, renderRepo, type RepoVersion } from '../../lib/universe/render';
import { compareVersions } from '../../lib/universe/version';
import { catalogEntry, sha256 } from '../support/fixtures';
import { drivers, type TestStore } from '../support/stores';
import { follow, viaLambda as repoAnswer } from '../repo/lambda-view';

const PUBLIC_URL = 'https://registry.site';
const REPO_TYPE = 'application/vnd.dcos.universe.repo+json';
const THRESHOLDS = ['1.10', '1.12', '2.0'];
/** DC/OS versions a flood cycles through: several fall between the same two thresholds. */
const DCOS = ['1.9', '1.10', '1.10.3', '1.11', '1.11.3', '1.12', '1.12.0', '1.13', '2.0', '2.1', '2.2.0', '3.0'];
const FLOOD = 60;

/** Answers as a Lambda gives them, redirecting past 256 KiB (the catalog below is about 400 KB). */
function registry(storage: Storage, env: Record<string, string> = {}): Registry {
  return {
    config: parseConfig({ REGISTRY_WRITE_TOKENS: 'x'.repeat(16), REGISTRY_REPO_INLINE_BYTES: String(256 * 1024), ...env }),
    storage,
    catalog: new Catalog(storage),
    gate: new WriteGate(storage),
  };
}

/**
 * About 136 KB of metadata per entry (80 KB of incompressible base64, then 56 KB of repeated text:
 * gzip keeps about 45%, so it pays), one asset each (so URLs show the base).
 */
function bigEntry(name: string, min?: string) {
  const entry = catalogEntry(name, '1.0.0');
  const uri = `https://upstream.example/${name}.tgz`;
  entry.assets = [{ uri, digest: sha256(name), size: 10, name: `${name}.tgz` }];
  entry.package = {
    ...entry.package,
    description: `${randomBytes(60_000).toString('base64')} ${'a long and repetitive description. '.repeat(1_600).slice(0, 56_000)}`,
    resource: { assets: { uris: { archive: uri } } },
    ...(min ? { minDcosReleaseVersion: min } : {}),
  };
  return entry;
}

/** Request i of an anonymous flood: its own Host, User-Agent, Accept and Accept-Encoding. */
function flooding(i: number): RepoRequest {
  const versions: RepoVersion[] = [['v5', 'v4', 'v3'], ['v4', 'v3'], ['v3']][i % 3] as RepoVersion[];
  return {
    origin: `http://host-${i}.attacker.test:${1000 + i}`,
    userAgent: i % 13 === 0 ? 'curl/8.0' : `cosmos/0.6.0 dcos/${DCOS[i % DCOS.length]}`,
    accept: versions.map((v) => `${REPO_TYPE};charset=utf-8;version=${v}`).join(','),
    acceptEncoding: i % 2 ? 'gzip' : 'identity',
  };
}

async function rendered(storage: Storage): Promise<Array<{ key: string; size: number }>> {
  return (await storage.list(keys.renderedPrefix())).map((o) => ({ key: o.key, size: o.size }));
}

/** The document a client following the answer ends up with. */
async function document(storage: Storage, res: Response, base: string): Promise<any> {
  return (await follow(storage, res, base)).doc;
}

/** What the answer must be: the catalog rendered for exactly this client, as before. */
async function expected(reg: Registry, req: RepoRequest, repoVersion: RepoVersion, base: string) {
  const { state } = await reg.catalog.read();
  return renderRepo(state, {
    repoVersion,
    publicUrl: base,
    dockerHost: new URL(base).host,
    dcosVersion: dcosVersionFromUserAgent(req.userAgent),
  });
}

const negotiated = (res: Response) => /version=(v\d)/.exec(String(res.headers!['content-type']))![1] as RepoVersion;

describe('REGISTRY_REPO_RENDERINGS_PER_STATE', () => {
  it('defaults to 4, takes 1..64, refuses anything else by name', () => {
    expect(parseConfig({}).repoRenderingsPerState).toBe(4);
    expect(parseConfig({ REGISTRY_REPO_RENDERINGS_PER_STATE: '1' }).repoRenderingsPerState).toBe(1);
    expect(parseConfig({ REGISTRY_REPO_RENDERINGS_PER_STATE: '64' }).repoRenderingsPerState).toBe(64);
    for (const bad of ['0', '65', '-1', '2.5', 'many']) {
      expect(() => parseConfig({ REGISTRY_REPO_RENDERINGS_PER_STATE: bad })).toThrow(ConfigError);
      expect(() => parseConfig({ REGISTRY_REPO_RENDERINGS_PER_STATE: bad })).toThrow(/REGISTRY_REPO_RENDERINGS_PER_STATE/);
    }
  });
});

describe.each(drivers)('/repo under a header flood on $name storage', ({ make }) => {
  let store: TestStore;
  beforeAll(async () => {
    store = await make();
    // About 680 KB of JSON (300 KB gzipped): past the default inline limit
    // (256 KiB after gzip), so a configured deployment answers it from stored renderings.
    const catalog = new Catalog(store.another());
    for (const [i, min] of [undefined, ...THRESHOLDS, '1.10.0'].entries()) await addVersion(catalog, bigEntry(`flood-${i}`, min));
  }, 120_000);
  afterAll(async () => {
    await store?.cleanup();
  });

  it('without a configured public URL (the default) nothing is stored: answers come inline from a bounded memory', async () => {
    const reg = registry(store.another());
    const before = await rendered(store.storage);
    for (let i = 0; i < FLOOD; i++) {
      const req = flooding(i);
      const res = await repoAnswer(reg, req);
      expect(res.statusCode).toBe(200);
      expect(res.headers!['content-encoding']).toBe(i % 2 ? 'gzip' : undefined);
      // Each client still gets its own base in the URLs (it is the only one known), and its own filter.
      expect(await document(store.storage, res, req.origin)).toEqual(await expected(reg, req, negotiated(res), req.origin));
      expect(heldRenderings(reg)).toBeLessThanOrEqual(4);
    }
    expect(await rendered(store.storage)).toEqual(before);
    // The 304 of a header-derived answer still works (its ETag names that base).
    const req = flooding(7);
    const etag = String((await repoAnswer(reg, req)).headers!.etag);
    expect((await repoAnswer(reg, { ...req, ifNoneMatch: etag })).statusCode).toBe(304);
    expect(
      (await repoAnswer(reg, { ...flooding(8), accept: req.accept, acceptEncoding: req.acceptEncoding, ifNoneMatch: etag })).statusCode,
    ).toBe(200);
  });

  it('the bound is the setting: one rendering per state held with REGISTRY_REPO_RENDERINGS_PER_STATE=1', async () => {
    const reg = registry(store.another(), { REGISTRY_REPO_RENDERINGS_PER_STATE: '1' });
    for (let i = 0; i < 12; i++) {
      expect((await repoAnswer(reg, flooding(i))).statusCode).toBe(200);
      expect(heldRenderings(reg)).toBe(1);
    }
  });

  it('with a configured public URL, stored renderings are keyed by content, repo version and DC/OS threshold only, and answers are unchanged', async () => {
    const reg = registry(store.another(), { REGISTRY_PUBLIC_URL: PUBLIC_URL });
    const before = new Set((await rendered(store.storage)).map((o) => o.key));
    const where = new Map<string, string>();
    for (let i = 0; i < FLOOD; i++) {
      const req = flooding(i);
      const res = await repoAnswer(reg, req);
      expect([200, 307]).toContain(res.statusCode);
      // The configured base, whatever the request said, and the same document as before the change.
      expect(await document(store.storage, res, PUBLIC_URL)).toEqual(await expected(reg, req, negotiated(res), PUBLIC_URL));
      if (res.statusCode === 307) {
        // dcos/1.10 and dcos/1.11.3 see the same packages: one shared rendering per threshold interval.
        const version = dcosVersionFromUserAgent(req.userAgent)?.replace(/(\.0)+$/, '');
        const interval = version ? THRESHOLDS.filter((t) => compareVersions(t, version) <= 0).length : THRESHOLDS.length;
        const share = `${negotiated(res)} ${interval} ${flooding(i).acceptEncoding}`;
        const path = new URL(String(res.headers!.location)).pathname;
        expect(where.get(share) ?? path).toBe(path);
        where.set(share, path);
      }
    }
    expect(new Set(where.values()).size).toBe(where.size);
    const added = (await rendered(store.storage)).filter((o) => !before.has(o.key));
    // At most one per repo version, threshold interval and encoding (the catalog has 3 distinct thresholds).
    expect(added.length).toBeGreaterThan(0);
    expect(added.length).toBeLessThanOrEqual(3 * (THRESHOLDS.length + 1) * 2);
    for (const o of added) {
      const raw = (await store.storage.get(o.key)).body;
      const body = (o.key.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
      expect(body).not.toContain('attacker');
      expect(body).toContain(PUBLIC_URL);
    }
    // Another instance under the same flood writes nothing new.
    const again = registry(store.another(), { REGISTRY_PUBLIC_URL: PUBLIC_URL });
    for (let i = 0; i < FLOOD; i++) await repoAnswer(again, { ...flooding(i), origin: `http://other-${i}.attacker.test` });
    expect((await rendered(store.storage)).length).toBe(before.size + added.length);
  });

  it('garbage collection still takes the renderings of a replaced catalog state', async () => {
    const reg = registry(store.another(), { REGISTRY_PUBLIC_URL: PUBLIC_URL });
    for (let i = 0; i < 12; i++) await repoAnswer(reg, flooding(i));
    const old = await rendered(store.storage);
    expect(old.length).toBeGreaterThan(0);
    await addVersion(new Catalog(store.another()), bigEntry('flood-late', '1.11'));
    const res = await repoAnswer(reg, flooding(0)); // curl: every package, identity: past the inline limit
    expect(res.statusCode).toBe(307);
    let clock = Date.now();
    const gc = () => collectGarbage(registry(store.another(), { REGISTRY_PUBLIC_URL: PUBLIC_URL }), { graceMs: 60_000, now: () => clock });
    await gc();
    clock += 61_000;
    expect((await gc()).renderedDeleted).toBe(old.length);
    const left = await rendered(store.storage);
    expect(left.length).toBeGreaterThan(0);
    for (const o of left) expect(old.map((x) => x.key)).not.toContain(o.key);
  });
});
