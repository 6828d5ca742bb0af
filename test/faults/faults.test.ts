/**
 * Crash safety and transient faults (docs/storage.md, "Crash points"), on both drivers: a writer
 * killed at each store call of a commit, then abandoned; transient store errors and lost
 * answers at each call; a slow writer; the upload service killed at each store call of
 * complete and resumed by a fresh instance. Afterwards, from a fresh instance: the catalog
 * is consistent (see consistency.ts) and nothing acknowledged is lost.
 */
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../lib/catalog/catalog';
import { addVersion, removeVersion } from '../../lib/catalog/ops';
import { AlreadyExistsError, ConflictError, VersionNotFoundError } from '../../lib/errors';
import { keys } from '../../lib/keys';
import { catalogEntry } from '../support/fixtures';
import { drivers, type TestStore } from '../support/stores';
import { expectConsistent, has, readLog } from './consistency';
import { FaultyStorage, KillError, transientErrors } from './faulty-storage';

/** More than any single commit makes here: the loops stop at the first k that is not reached. */
const MAX_CALLS = 40;

/**
 * A writer killed at its kth store call of `op`, for k = 1, 2, ... on a fresh store each time
 * (`seed` fills it; the writer has read the catalog before it is armed), until the op gets
 * through; `check` then looks at the store the dead writer left (`acked`: the op returned).
 * Returns the k that got through (0: none did within MAX_CALLS).
 */
async function killedAtEachCall(
  make: () => Promise<TestStore>,
  seed: (catalog: Catalog) => Promise<unknown>,
  op: (writer: Catalog) => Promise<unknown>,
  check: (store: TestStore, acked: boolean) => Promise<void>,
): Promise<number> {
  for (let k = 1; k <= MAX_CALLS; k++) {
    const store = await make();
    await seed(new Catalog(store.another()));
    const faulty = new FaultyStorage(store.another());
    const writer = new Catalog(faulty);
    await writer.read();
    faulty.armKill(k);
    let acked = false;
    try {
      await op(writer);
      acked = true;
    } catch (error) {
      expect(error).toBeInstanceOf(KillError);
    }
    await check(store, acked);
    await store.cleanup();
    if (acked) return k;
  }
  return 0;
}

describe.each(drivers)('faults on $name storage', ({ make }) => {
  it('a writer killed at each store call of an add leaves a consistent catalog; a retry completes it once', {
    timeout: 180_000,
  }, async () => {
    const reached = await killedAtEachCall(
      make,
      (seeder) => addVersion(seeder, catalogEntry('kept', '1.0.0')),
      (writer) => addVersion(writer, catalogEntry('victim', '1.0.0')),
      async (store, acked) => {
        const state = await expectConsistent(store.another());
        expect(has(state, 'kept', '1.0.0')).toBe(true);
        if (acked) expect(has(state, 'victim', '1.0.0')).toBe(true);
        // The client's retry (another instance) succeeds, and the version is added exactly once.
        await addVersion(new Catalog(store.another()), catalogEntry('victim', '1.0.0'));
        const log = await readLog(store.another());
        expect(log.filter((e) => e.op === 'add' && e.entry.name === 'victim')).toHaveLength(1);
        expect(has(await expectConsistent(store.another()), 'victim', '1.0.0')).toBe(true);
      },
    );
    // Every call of the commit was a kill point before one got through: at least GET snapshot, GET log, PUT log, PUT chunk, PUT snapshot.
    expect(reached).toBeGreaterThanOrEqual(5);
  });

  it('a writer killed at each store call of a remove leaves a consistent catalog', { timeout: 180_000 }, async () => {
    const reached = await killedAtEachCall(
      make,
      async (seeder) => {
        await addVersion(seeder, catalogEntry('gone', '1.0.0'));
        await addVersion(seeder, catalogEntry('stays', '1.0.0'));
      },
      (writer) => removeVersion(writer, 'gone', '1.0.0'),
      async (store, acked) => {
        const state = await expectConsistent(store.another());
        expect(has(state, 'stays', '1.0.0')).toBe(true);
        if (acked) expect(has(state, 'gone', '1.0.0')).toBe(false);
        // A retry by the client: Removed, or VersionNotFound when the dead writer's entry had committed it.
        await removeVersion(new Catalog(store.another()), 'gone', '1.0.0').catch((e) => expect(e).toBeInstanceOf(VersionNotFoundError));
        expect(has(await expectConsistent(store.another()), 'gone', '1.0.0')).toBe(false);
      },
    );
    expect(reached).toBeGreaterThanOrEqual(5);
  });

  it.each(Object.keys(transientErrors) as Array<keyof typeof transientErrors>)(
    'a transient %s at each store call of a commit, before or after it lands: never acknowledged wrongly, the retry succeeds once',
    async (kind) => {
      for (const at of ['before', 'after'] as const) {
        for (let k = 1; k <= 8; k++) {
          const store = await make();
          const faulty = new FaultyStorage(store.another());
          const writer = new Catalog(faulty);
          await writer.read();
          const target = faulty.calls.length + k;
          faulty.inject({ when: (c) => c.n === target, at, error: transientErrors[kind], times: 1 });
          const entry = catalogEntry('flaky', '1.0.0');
          let acked = false;
          try {
            await addVersion(writer, entry);
            acked = true;
          } catch (error) {
            expect((error as Error).message).toBe(transientErrors[kind]().message);
          }
          faulty.clear();
          const state = await expectConsistent(store.another());
          if (acked) expect(has(state, 'flaky', '1.0.0')).toBe(true);
          // The same instance retries (as the client's retry of complete would): added exactly once.
          await addVersion(writer, entry);
          const log = await readLog(store.another());
          expect(log.filter((e) => e.op === 'add' && e.entry.name === 'flaky')).toHaveLength(1);
          expect(has(await expectConsistent(store.another()), 'flaky', '1.0.0')).toBe(true);
          await store.cleanup();
        }
      }
    },
    120_000,
  );

  it('a lost answer to the create-only log PUT (the retry answers 412/409 for our own entry) is recognised: one entry, acknowledged', async () => {
    for (const error of [() => new AlreadyExistsError('log'), () => new ConflictError('log')]) {
      const store = await make();
      const faulty = new FaultyStorage(store.another());
      faulty.inject({ when: (c) => c.method === 'put' && c.key === keys.logEntry(1), at: 'after', error, times: 1 });
      await addVersion(new Catalog(faulty), catalogEntry('lost', '1.0.0'));
      const log = await readLog(store.another());
      expect(log).toHaveLength(1);
      expect(has(await expectConsistent(store.another()), 'lost', '1.0.0')).toBe(true);
      // Same for a remove: it reports Removed, not VersionNotFound for its own success.
      faulty.inject({ when: (c) => c.method === 'put' && c.key === keys.logEntry(2), at: 'after', error, times: 1 });
      await removeVersion(new Catalog(faulty), 'lost', '1.0.0');
      expect(await readLog(store.another())).toHaveLength(2);
      await store.cleanup();
    }
  });

  it('conflicts on the snapshot CAS and a slow writer overtaken by others: every acknowledged add is there', async () => {
    const store = await make();
    const slow = new FaultyStorage(store.another());
    // The slow writer's snapshot PUT waits while others commit; its CAS then fails and it rolls forward.
    slow.inject({ when: (c) => c.method === 'put' && c.key === keys.snapshot(), delayMs: 300, times: 1 });
    const conflicted = new FaultyStorage(store.another());
    conflicted.inject({
      when: (c) => c.method === 'put' && c.key === keys.snapshot(),
      error: () => new ConflictError('snapshot'),
      times: 2,
    });
    const others = Array.from({ length: 4 }, (_, i) => addVersion(new Catalog(store.another()), catalogEntry(`fast-${i}`, '1.0.0')));
    await Promise.all([
      addVersion(new Catalog(slow), catalogEntry('slow', '1.0.0')),
      addVersion(new Catalog(conflicted), catalogEntry('conflicted', '1.0.0')),
      ...others,
    ]);
    const state = await expectConsistent(store.another());
    for (const name of ['slow', 'conflicted', 'fast-0', 'fast-1', 'fast-2', 'fast-3']) expect(has(state, name, '1.0.0')).toBe(true);
    expect(state.seq).toBe(6);
    await store.cleanup();
  });
});
