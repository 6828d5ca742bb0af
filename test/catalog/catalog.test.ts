/**
 * The commit protocol against every driver, the S3 one on the real Ceph RGW: many
 * independent writers (each with its own driver and catalog instance, as separate
 * processes would have), racing adds, removes, crashes between steps, O(1) reads.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../lib/catalog/catalog';
import { find, releaseVersions, type LogEntry } from '../../lib/catalog/model';
import { addVersion, addVersions, removeVersion } from '../../lib/catalog/ops';
import { AlreadyExistsError, VersionExistsError, VersionNotFoundError } from '../../lib/errors';
import { keys } from '../../lib/keys';
import { storageLayer } from '../../lib/storage/layer';
import { catalogEntry } from '../support/fixtures';
import { drivers, type TestStore } from '../support/stores';

describe.each(drivers)('catalog on $name storage', ({ make }) => {
  const stores: TestStore[] = [];
  afterAll(() => Promise.all(stores.map((s) => s.cleanup())));

  /** A fresh catalog namespace per test: a new store each time. */
  async function fresh(): Promise<TestStore> {
    const s = await make();
    stores.push(s);
    return s;
  }

  it('starts empty and reads with one store request', async () => {
    const s = await fresh();
    const store = storageLayer(s.another());
    const c = new Catalog(store);
    const { state } = await c.read();
    expect(state).toEqual({ seq: 0, versions: [] });
    expect(store.requests()).toBe(1);
  });

  it('acknowledged adds are visible on every other instance (read-your-writes)', async () => {
    const s = await fresh();
    const writer = new Catalog(s.another());
    const reader = new Catalog(s.another());
    await reader.read();
    await addVersion(writer, catalogEntry('alpha', '1.0.0'));
    const { state } = await reader.read();
    expect(find(state, 'alpha', '1.0.0')?.seq).toBe(1);
  });

  it('16 writers on 4 instances: every acknowledged add is there, in one total order', async () => {
    const s = await fresh();
    const catalogs = Array.from({ length: 4 }, () => new Catalog(s.another()));
    const acked: string[] = [];
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        for (let i = 0; i < 3; i++) {
          await addVersion(catalogs[w % 4], catalogEntry(`pkg-w${w}`, `1.${i}.0`));
          acked.push(`pkg-w${w}@1.${i}.0`);
        }
      }),
    );
    const { state } = await new Catalog(s.another()).read();
    expect(state.seq).toBe(48);
    expect(state.versions.map((v) => `${v.name}@${v.version}`).sort()).toEqual(acked.sort());
    // One total order: seqs 1..48, each used exactly once, each log entry present.
    expect(state.versions.map((v) => v.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 48 }, (_, i) => i + 1));
    const log = await s.storage.list(keys.logPrefix());
    expect(log.map((o) => keys.seqOf(o.key))).toEqual(Array.from({ length: 48 }, (_, i) => i + 1));
  });

  it('racing adds of one version: identical content all succeed with one entry; different content: exactly one wins', async () => {
    const s = await fresh();
    const same = await Promise.all(
      Array.from({ length: 16 }, () => addVersion(new Catalog(s.another()), catalogEntry('same', '1.0.0', 'x'))),
    );
    expect(new Set(same)).toEqual(new Set([1]));
    const results = await Promise.allSettled(
      Array.from({ length: 16 }, (_, i) => addVersion(new Catalog(s.another()), catalogEntry('diff', '1.0.0', `content-${i}`))),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(15);
    for (const l of lost) expect(l.reason).toBeInstanceOf(VersionExistsError);
    const { state } = await new Catalog(s.another()).read();
    expect(state.seq).toBe(2);
  });

  it('concurrent adds and removes lose nothing', async () => {
    const s = await fresh();
    const c0 = new Catalog(s.another());
    for (let i = 0; i < 8; i++) await addVersion(c0, catalogEntry('base', `0.${i}.0`));
    await Promise.all([
      ...Array.from({ length: 8 }, (_, i) => removeVersion(new Catalog(s.another()), 'base', `0.${i}.0`)),
      ...Array.from({ length: 8 }, (_, i) => addVersion(new Catalog(s.another()), catalogEntry('new', `2.${i}.0`))),
    ]);
    const { state } = await new Catalog(s.another()).read();
    expect(state.versions.map((v) => `${v.name}@${v.version}`).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `new@2.${i}.0`));
    expect(state.seq).toBe(24);
    await expect(removeVersion(c0, 'base', '0.1.0')).rejects.toBeInstanceOf(VersionNotFoundError);
  });

  it('a writer killed after its log entry and before the snapshot leaves a consistent catalog', async () => {
    const s = await fresh();
    const c = new Catalog(s.another());
    await addVersion(c, catalogEntry('one', '1.0.0'));
    // The "dead" writer got seq 2 in the log and never advanced the snapshot.
    const orphan: LogEntry = { seq: 2, op: 'add', entry: { ...catalogEntry('two', '1.0.0'), seq: 2 } };
    await s.storage.put(keys.logEntry(2), JSON.stringify(orphan), { ifNoneMatch: '*' });
    const reader = new Catalog(s.another());
    expect((await reader.read()).state.seq).toBe(1); // not acknowledged: may be invisible
    // The next writer validates against it and rolls the snapshot over it.
    await expect(addVersion(new Catalog(s.another()), catalogEntry('two', '1.0.0', 'other'))).rejects.toBeInstanceOf(VersionExistsError);
    await addVersion(new Catalog(s.another()), catalogEntry('three', '1.0.0'));
    const { state } = await reader.read();
    expect(state.seq).toBe(3);
    expect(state.versions.map((v) => v.name).sort()).toEqual(['one', 'three', 'two']);
    // settle() alone also rolls forward over a dead writer's entry.
    const orphan4: LogEntry = { seq: 4, op: 'remove', name: 'one', version: '1.0.0', removedAt: new Date().toISOString() };
    await s.storage.put(keys.logEntry(4), JSON.stringify(orphan4), { ifNoneMatch: '*' });
    await new Catalog(s.another()).settle();
    expect((await reader.read()).state.versions.map((v) => v.name).sort()).toEqual(['three', 'two']);
  });

  it('reads cost one store request whatever the catalog size; a commit a bounded number', async () => {
    const s = await fresh();
    const wStore = storageLayer(s.another());
    const w = new Catalog(wStore);
    const commitCosts: number[] = [];
    for (let i = 0; i < 40; i++) {
      const before = wStore.requests();
      await addVersion(w, catalogEntry(`p${i % 5}x`, `1.${i}.0`));
      commitCosts.push(wStore.requests() - before);
    }
    const rStore = storageLayer(s.another());
    const r = new Catalog(rStore);
    await r.read();
    // Cold: the snapshot and each of its chunks (at most PARTITIONS, whatever the size).
    expect(rStore.requests()).toBeLessThanOrEqual(1 + 5);
    let before = rStore.requests();
    for (let i = 0; i < 5; i++) await r.read();
    expect(rStore.requests() - before).toBe(5);
    // After another instance's commit: the snapshot and the one chunk that changed.
    await addVersion(w, catalogEntry('p0x', '9.0.0'));
    before = rStore.requests();
    const { state } = await r.read();
    expect(rStore.requests() - before).toBe(2);
    expect(state.versions).toHaveLength(41);
    // Single writer, no contention: GET snapshot, GET next log (missing), PUT log, PUT chunk, PUT snapshot.
    expect(Math.max(...commitCosts)).toBeLessThanOrEqual(5);
  });

  it('a create-only log write that landed but answered 412 (retried request) counts as ours', async () => {
    const s = await fresh();
    await addVersion(new Catalog(s.another()), catalogEntry('lost', '1.0.0'));
    const inner = s.another();
    const flaky = Object.create(inner) as typeof inner;
    let tripped = false;
    flaky.put = async (key, body, options) => {
      const result = await inner.put(key, body, options);
      if (!tripped && key.startsWith(keys.logPrefix())) {
        tripped = true;
        throw new AlreadyExistsError(key); // the response was lost; the SDK's retry got 412
      }
      return result;
    };
    await removeVersion(new Catalog(flaky), 'lost', '1.0.0');
    expect(tripped).toBe(true);
    const { state } = await new Catalog(s.another()).read();
    expect(state).toMatchObject({ seq: 2, versions: [] });
  });

  it('a bulk add commits many versions in one entry, all or nothing', async () => {
    const s = await fresh();
    const c = new Catalog(s.another());
    await addVersions(
      c,
      Array.from({ length: 300 }, (_, i) => catalogEntry(`bulk-${i % 30}`, `1.${i}.0`)),
    );
    await expect(addVersions(c, [catalogEntry('bulk-new', '1.0.0'), catalogEntry('bulk-0', '1.0.0', 'other')])).rejects.toBeInstanceOf(
      VersionExistsError,
    );
    const { state } = await new Catalog(s.another()).read();
    expect(state.seq).toBe(1);
    expect(state.versions).toHaveLength(300);
    expect(find(state, 'bulk-new', '1.0.0')).toBeUndefined();
  });

  it('releaseVersion follows version order, not commit order, and survives re-adds', async () => {
    const s = await fresh();
    const c = new Catalog(s.another());
    await addVersion(c, catalogEntry('rv', '2.0.0'));
    await addVersion(c, catalogEntry('rv', '1.10.0'));
    await addVersion(c, catalogEntry('rv', '1.9.0'));
    await removeVersion(c, 'rv', '1.10.0');
    await addVersion(c, catalogEntry('rv', '1.10.0', 'again'));
    const { state } = await c.read();
    const rv = releaseVersions(state);
    const of = (v: string) => rv.get(find(state, 'rv', v)!);
    expect([of('1.9.0'), of('1.10.0'), of('2.0.0')]).toEqual([0, 1, 2]);
  });
});
