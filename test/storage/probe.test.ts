/**
 * The capability probe: real stores pass (and the If-Match ETag form is found), stores
 * that ignore conditions are refused writes and reported Unhealthy with the cause.
 */
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../lib/catalog/catalog';
import { parseConfig } from '../../lib/config';
import { StoreUnavailableError } from '../../lib/errors';
import { health } from '../../lib/health';
import { keys } from '../../lib/keys';
import type { PutOptions, Storage } from '../../lib/storage/port';
import { readVerdict, runProbe, WriteGate } from '../../lib/storage/probe';
import { drivers, fileStore, makeS3Storage, randomPrefix } from '../support/stores';

/** A store that silently drops some conditions, like some S3 look-alikes do. */
function ignoring(inner: Storage, drop: 'ifNoneMatch' | 'ifMatch'): Storage {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'put') {
        return (key: string, body: Buffer | string, options: PutOptions = {}) => {
          const { [drop]: _dropped, ...rest } = options;
          return target.put(key, body, rest);
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe.each(drivers)('probe on $name storage', ({ make }) => {
  it('passes, stores its verdict once, and later gates read it without probing', async () => {
    const s = await make();
    const gate = new WriteGate(s.storage);
    const verdict = await gate.check();
    expect(verdict).toMatchObject({ ok: true, createOnly: true, compareAndSwap: true, etagForm: 'unquoted' });
    expect(await readVerdict(s.storage)).toEqual(verdict);
    expect(await s.storage.list('meta/probe-scratch/')).toEqual([]);
    const other = new WriteGate(s.another());
    expect(await other.check()).toEqual(verdict);
    await s.cleanup();
  });
});

describe('probe on stores that ignore conditions', () => {
  it.each(['ifNoneMatch', 'ifMatch'] as const)('refuses writes and reports Unhealthy when %s is ignored', async (drop) => {
    const s = await fileStore();
    const broken = ignoring(s.storage, drop);
    const gate = new WriteGate(broken);
    const error = await gate.check().catch((e) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error.message).toMatch(drop === 'ifNoneMatch' ? /If-None-Match/ : /If-Match|compare-and-swap/);
    const registry = { config: parseConfig({}), storage: broken, catalog: new Catalog(broken), gate };
    const answer = await health(registry);
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body).checks['/repo'].Unhealthy.message).toMatch(/Storage refuses writes/);
    await s.cleanup();
  });

  it('finds the unquoted form on Ceph RGW even when told to start with quoted ETags', async () => {
    const storage = makeS3Storage(randomPrefix('probe'));
    storage.conditionalWrites.etagForm = 'quoted';
    const verdict = await runProbe(storage);
    expect(verdict).toMatchObject({ ok: true, etagForm: 'unquoted' });
    await storage.delete(keys.probe());
  });
});
