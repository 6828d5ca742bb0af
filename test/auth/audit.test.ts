/** The audit log (lib/audit.ts) on both drivers: append-only records, read back in time order, paged. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAudit, recordWrite } from '../../lib/audit';
import { AlreadyExistsError } from '../../lib/errors';
import { drivers, type TestStore } from '../support/stores';

for (const driver of drivers) {
  describe(`audit log (${driver.name})`, () => {
    let store: TestStore;
    beforeAll(async () => {
      store = await driver.make();
    });
    afterAll(() => store?.cleanup());

    it('records who, what, when and which instance; reads them back in time order, in pages', async () => {
      const t0 = Date.UTC(2026, 11, 1, 1, 2, 3, 4);
      const k1 = await recordWrite(
        store.storage,
        { subject: 'alice', action: 'upload.start', name: 'hello', version: '1.0.0', uploadId: 'u1' },
        new Date(t0),
      );
      // Another instance writes later records (and two in the same millisecond).
      const other = store.another();
      await recordWrite(other, { subject: 'ci-bot', action: 'package.remove', name: 'hello', version: '1.0.0' }, new Date(t0 + 1000));
      await recordWrite(other, { subject: 'ci-bot', action: 'gc' }, new Date(t0 + 1000));
      expect(k1).toBe(`audit/20261201T010203004Z-${k1.slice(-21, -5)}.json`);

      const all = await readAudit(store.another());
      expect(all.next).toBeUndefined();
      expect(all.entries.map((e) => [e.subject, e.action])).toEqual([
        ['alice', 'upload.start'],
        ...(all.entries[1].action === 'gc'
          ? [
              ['ci-bot', 'gc'],
              ['ci-bot', 'package.remove'],
            ]
          : [
              ['ci-bot', 'package.remove'],
              ['ci-bot', 'gc'],
            ]),
      ]);
      expect(all.entries[0]).toMatchObject({ at: new Date(t0).toISOString(), name: 'hello', version: '1.0.0', uploadId: 'u1', key: k1 });
      expect(all.entries[0].instance).toMatch(/^.+\/\d+\/[a-f0-9]{8}$/);

      const first = await readAudit(store.storage, { limit: 2 });
      expect(first.entries).toHaveLength(2);
      expect(first.next).toBe(first.entries[1].key);
      const second = await readAudit(store.storage, { limit: 2, after: first.next });
      expect(second.entries).toHaveLength(1);
      expect(second.next).toBeUndefined();
      await expect(readAudit(store.storage, { after: 'catalog/log/' })).rejects.toThrow(/bad audit cursor/);
    });

    it('records are create-only: an existing key is never overwritten', async () => {
      const key = await recordWrite(store.storage, { subject: 'alice', action: 'gc' });
      await expect(store.storage.put(key, '{}', { ifNoneMatch: '*' })).rejects.toBeInstanceOf(AlreadyExistsError);
    });
  });
}
