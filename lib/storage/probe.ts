/**
 * Capability probe (docs/storage.md, "Capability probe"): before an instance writes, it must know that the
 * store really enforces create-only writes (If-None-Match: *) and compare-and-swap
 * (If-Match), and which If-Match ETag form it accepts. The probe costs several
 * conditional writes, so it runs lazily before the first write, never on reads, and its
 * verdict is kept in the store (meta/probe.json) with an expiry for every instance.
 */
import { randomBytes } from 'node:crypto';
import { AlreadyExistsError, PreconditionFailedError, NotFoundError, StoreUnavailableError } from '../errors';
import { keys } from '../keys';
import type { EtagForm, Storage } from './port';

export interface Verdict {
  ok: boolean;
  createOnly: boolean;
  compareAndSwap: boolean;
  etagForm: EtagForm;
  checkedAt: string;
  expiresAt: string;
  reason?: string;
}

const TTL_MS = 24 * 3600 * 1000;

async function refused(write: () => Promise<unknown>, expected: new (...a: never[]) => Error): Promise<boolean> {
  try {
    await write();
    return false;
  } catch (error) {
    if (error instanceof expected) return true;
    throw error;
  }
}

/** Run the probe against the store. Leaves nothing behind but the scratch key's deletion. */
export async function runProbe(storage: Storage, now = new Date()): Promise<Verdict> {
  // A store whose If-Match form can be switched (S3: RGW wants unquoted, R2 quoted) says so on the port.
  const conditions = storage.conditionalWrites;
  const key = keys.probeScratch(randomBytes(8).toString('hex'));
  const verdict = (fields: Partial<Verdict>): Verdict => ({
    ok: false,
    createOnly: false,
    compareAndSwap: false,
    etagForm: conditions?.etagForm ?? 'unquoted',
    checkedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + TTL_MS).toISOString(),
    ...fields,
  });
  try {
    const first = await storage.put(key, 'a', { ifNoneMatch: '*' });
    if (!(await refused(() => storage.put(key, 'b', { ifNoneMatch: '*' }), AlreadyExistsError))) {
      return verdict({ reason: 'the store ignores If-None-Match: * (create-only writes are not enforced)' });
    }
    if (!(await refused(() => storage.put(key, 'c', { ifMatch: 'no-such-etag-0000' }), PreconditionFailedError))) {
      return verdict({ createOnly: true, reason: 'the store ignores If-Match (compare-and-swap is not enforced)' });
    }
    // The right etag must be accepted, in one of the two forms.
    let second: { etag: string } | undefined;
    const forms: EtagForm[] = conditions ? [conditions.etagForm, conditions.etagForm === 'quoted' ? 'unquoted' : 'quoted'] : ['unquoted'];
    for (const form of forms) {
      if (conditions) conditions.etagForm = form;
      try {
        second = await storage.put(key, 'd', { ifMatch: first.etag });
        break;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
      }
    }
    if (!second) return verdict({ createOnly: true, reason: 'the store refuses If-Match with the current ETag in every form' });
    if (!(await refused(() => storage.put(key, 'e', { ifMatch: first.etag }), PreconditionFailedError))) {
      return verdict({ createOnly: true, reason: 'the store accepts If-Match with a stale ETag (compare-and-swap is not enforced)' });
    }
    return verdict({ ok: true, createOnly: true, compareAndSwap: true });
  } finally {
    await storage.delete(key).catch(() => undefined);
  }
}

/** Read the stored verdict (one GET); undefined when none was ever written. */
export async function readVerdict(storage: Storage): Promise<Verdict | undefined> {
  try {
    return JSON.parse((await storage.get(keys.probe())).body.toString('utf8')) as Verdict;
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/**
 * Gate for every write path: returns once the store is known to enforce conditions,
 * probing (and storing the verdict) when no fresh verdict exists. Throws
 * StoreUnavailableError naming the cause when the store cannot be trusted.
 */
export class WriteGate {
  private verdict?: Verdict;
  private pending?: Promise<Verdict>;

  constructor(
    private readonly storage: Storage,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async check(): Promise<Verdict> {
    if (!this.verdict || Date.parse(this.verdict.expiresAt) < this.now().getTime()) {
      this.pending ??= this.load().finally(() => (this.pending = undefined));
      this.verdict = await this.pending;
    }
    if (!this.verdict.ok) throw new StoreUnavailableError(`Storage refuses writes: ${this.verdict.reason}`);
    return this.verdict;
  }

  private async load(): Promise<Verdict> {
    const stored = await readVerdict(this.storage);
    if (stored && Date.parse(stored.expiresAt) > this.now().getTime()) {
      if (this.storage.conditionalWrites) this.storage.conditionalWrites.etagForm = stored.etagForm;
      return stored;
    }
    const fresh = await runProbe(this.storage, this.now());
    await this.storage.put(keys.probe(), JSON.stringify(fresh), { contentType: 'application/json' });
    return fresh;
  }
}
