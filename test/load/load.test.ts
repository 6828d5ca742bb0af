/**
 * Load through three instances on one RGW bucket/prefix (serverless offline, then the
 * production server), for a bounded
 * time: adds of distinct packages, racing adds of one version (identical and different
 * content), removes, and reads, spread over all instances. Then every instance's /repo must
 * equal what the acknowledged operations say, exactly:
 *
 *  - an add is *acknowledged* when it ends Added (200), *refused* on a definite 4xx
 *    (409 VersionAlreadyExists), *uncertain* otherwise (network error, 5xx, timeout);
 *  - a remove is acknowledged on 200 Removed, refused on 404 VersionNotFound, uncertain
 *    otherwise;
 *  - a version is listed iff an acknowledged add of it exists and no acknowledged remove came
 *    after it; a version whose only add was uncertain, or whose remove was uncertain, may be
 *    listed or not (both outcomes are accepted), but if listed, only with content that was
 *    sent for it; a refused add never shows; nothing that was never sent ever shows;
 *  - racing adds of one version: all acknowledged ones carry one content (exactly one wins;
 *    identical content is an idempotent success), and that content is what is listed;
 *  - every instance lists the same catalog.
 * Every operation is awaited before the final check (even past its timeout), so nothing
 * lands after the check. Read-your-writes is checked on the way: right after an
 * acknowledged add, another instance's /repo lists it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../server/harness';
import { startOffline } from '../support/offline';
import { s3Store } from '../support/stores';
import { addBundle, api, testBundle, type TestBundle } from '../support/upload';

const RUN_MS = 25_000;
const OP_TIMEOUT_MS = 30_000;
const REPO_ACCEPT = { accept: 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5' };

type Outcome = 'acked' | 'refused' | 'uncertain';
interface Op {
  kind: 'add' | 'remove';
  name: string;
  version: string;
  /** For adds: the description that tells contents apart. */
  content?: string;
  outcome: Outcome;
  /** Completion order among operations on the same version by the same actor (sequential per version). */
  at: number;
}

interface Host {
  url: string;
  stop(): Promise<void>;
}
let instances: Host[] = [];
let clock = 0;
const ops: Op[] = [];

function bundleOf(name: string, version: string, content: string): TestBundle {
  return testBundle(name, version, { 'asset.txt': Buffer.from(`${name}/${version}/${content}`) }, { description: content });
}

async function withTimeout<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), OP_TIMEOUT_MS)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
    // A timed-out operation may still land: keep waiting for it (outside the race) before the final check.
    pending.push(p.catch(() => undefined));
  }
}
const pending: Array<Promise<unknown>> = [];

async function add(url: string, name: string, version: string, content: string): Promise<Outcome> {
  let outcome: Outcome;
  try {
    const r = await withTimeout(addBundle(url, bundleOf(name, version, content)));
    outcome = r.status === 200 && r.json?.status === 'Added' ? 'acked' : r.status === 409 ? 'refused' : 'uncertain';
    if (r.status === 409) expect(r.json?.type).toBe('VersionAlreadyExists');
  } catch {
    outcome = 'uncertain';
  }
  ops.push({ kind: 'add', name, version, content, outcome, at: ++clock });
  return outcome;
}

async function remove(url: string, name: string, version: string): Promise<Outcome> {
  let outcome: Outcome;
  try {
    const r = await withTimeout(api(url, 'DELETE', `/package/${name}/${version}`));
    outcome = r.status === 200 ? 'acked' : r.status === 404 ? 'refused' : 'uncertain';
  } catch {
    outcome = 'uncertain';
  }
  ops.push({ kind: 'remove', name, version, outcome, at: ++clock });
  return outcome;
}

async function repo(url: string): Promise<Map<string, string>> {
  const r = await fetch(`${url}/repo`, { headers: REPO_ACCEPT });
  expect(r.status).toBe(200);
  const body = (await r.json()) as { packages: Array<{ name: string; version: string; description: string }> };
  return new Map(body.packages.map((p) => [`${p.name}@${p.version}`, p.description]));
}

// The same load through the functions under serverless offline and through the production server.
const hosts: Array<{ name: string; start: (env: Record<string, string>) => Promise<Host> }> = [
  { name: 'serverless offline', start: (env) => startOffline(env, 120_000) },
  { name: 'production server', start: (env) => startServer({ env, flags: ['--schedules', 'off'] }) },
];

describe.each(hosts)('three $name instances on one RGW prefix under load', ({ start }) => {
  beforeAll(async () => {
    const store = await s3Store();
    instances = await Promise.all([0, 1, 2].map(() => start(store.env)));
    ops.length = 0;
    pending.length = 0;
  }, 180_000);
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
  });

  it('every instance lists exactly what the acknowledged operations say', { timeout: 150_000 }, async () => {
    const deadline = Date.now() + RUN_MS;
    const at = (i: number) => instances[i % instances.length].url;
    const removable: Array<{ name: string; version: string }> = [];
    let ryw = 0;

    const adder = async (w: number) => {
      for (let i = 0; Date.now() < deadline; i++) {
        const name = `load-w${w}-p${i}`;
        if ((await add(at(w + i), name, '1.0.0', 'only')) !== 'acked') continue;
        // Read-your-writes: another instance lists it at once.
        expect((await repo(at(w + i + 1))).get(`${name}@1.0.0`)).toBe('only');
        ryw++;
        removable.push({ name, version: '1.0.0' });
      }
    };
    const racer = async () => {
      for (let j = 0; Date.now() < deadline; j++) {
        const name = `race-${j}`;
        // Two identical adds and one of other content, one through each instance, at once.
        await Promise.all([add(at(0), name, '1.0.0', 'same'), add(at(1), name, '1.0.0', 'same'), add(at(2), name, '1.0.0', 'other')]);
      }
    };
    const remover = async () => {
      for (let i = 0; Date.now() < deadline; i++) {
        const victim = removable.shift();
        if (!victim) {
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        await remove(at(i), victim.name, victim.version);
        // Some removed versions come back: a re-add after a remove is allowed.
        if (i % 3 === 0) await add(at(i + 1), victim.name, victim.version, 'readded');
      }
    };
    const reader = async () => {
      for (let i = 0; Date.now() < deadline; i++) await repo(at(i));
    };
    await Promise.all([adder(0), adder(1), adder(2), racer(), remover(), reader()]);
    await Promise.all(pending);

    // What the acknowledged operations say, version by version.
    const byVersion = new Map<string, Op[]>();
    for (const op of ops) byVersion.set(`${op.name}@${op.version}`, [...(byVersion.get(`${op.name}@${op.version}`) ?? []), op]);
    const listings = await Promise.all(instances.map((i) => repo(i.url)));
    for (const listing of listings.slice(1)) expect([...listing.entries()].sort()).toEqual([...listings[0].entries()].sort());
    const listed = listings[0];

    for (const [key, history] of byVersion) {
      const shown = listed.get(key);
      const adds = history.filter((o) => o.kind === 'add');
      const acked = adds.filter((o) => o.outcome === 'acked');
      // One content wins among racing adds (elsewhere a re-add after a remove may bring new content).
      if (key.startsWith('race-'))
        expect(new Set(acked.map((o) => o.content)).size, `${key}: acknowledged contents`).toBeLessThanOrEqual(1);
      const last = history
        .filter((o) => o.outcome !== 'refused')
        .sort((a, b) => a.at - b.at)
        .at(-1);
      if (shown !== undefined) {
        expect(
          adds.filter((o) => o.outcome !== 'refused').map((o) => o.content),
          `${key}: listed content was sent`,
        ).toContain(shown);
      }
      if (!last) {
        expect(shown, `${key}: only refused operations`).toBeUndefined();
      } else if (last.outcome === 'acked') {
        // Racing adds finish in any order; the listed content is the acknowledged one.
        if (last.kind === 'add') expect(shown, `${key}: acknowledged add`).toBe(acked.sort((a, b) => a.at - b.at).at(-1)!.content);
        else expect(shown, `${key}: acknowledged remove`).toBeUndefined();
      }
      // last.outcome === 'uncertain': either is fine (content checked above).
    }
    for (const key of listed.keys()) expect(byVersion.has(key), `${key} was never sent`).toBe(true);

    // The run did real work of every kind.
    const count = (kind: Op['kind'], outcome: Outcome) => ops.filter((o) => o.kind === kind && o.outcome === outcome).length;
    expect(count('add', 'acked')).toBeGreaterThan(10);
    expect(count('add', 'refused')).toBeGreaterThan(0);
    expect(count('remove', 'acked')).toBeGreaterThan(0);
    expect(ryw).toBeGreaterThan(5);
    console.log(
      `load: ${ops.length} operations; adds acked ${count('add', 'acked')}, refused ${count('add', 'refused')}, uncertain ${count('add', 'uncertain')}; removes acked ${count('remove', 'acked')}, uncertain ${count('remove', 'uncertain')}`,
    );
  });
});
