/**
 * A storage port that delegates to a real driver and misbehaves on chosen calls: throws
 * transient errors as the S3 driver surfaces them once its own retries are spent (plain
 * Errors: 503 SlowDown, ECONNRESET, a timeout), the domain ConflictError, delays a call, or
 * "kills" the process at the Nth store call: that call and every later one throw KillError,
 * so the instance that used it can do nothing more (it is then abandoned, as a dead
 * function's memory is). A fault may strike before the call reaches the store, or after
 * (the write landed but its answer was lost).
 *
 * It keeps the driver's capabilities, as lib/storage/layer.ts does: its `conditionalWrites`
 * (the same object, so the probe's switch reaches the driver) and its `urls` (the bytes a
 * signed /_store URL receives are store calls, faulted like the others; checking a signature
 * is local work and is not).
 */
import type { ConditionalWrites, SignedUrls, Storage, StoreEndpoint } from '../../lib/storage/port';

export class KillError extends Error {
  constructor(call: string) {
    super(`killed at ${call}`);
    this.name = 'KillError';
  }
}

export const transientErrors = {
  slowDown: () => Object.assign(new Error('SlowDown: Please reduce your request rate. (503)'), { name: 'SlowDown' }),
  reset: () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
  timeout: () => Object.assign(new Error('Connection timed out after 5000 ms'), { name: 'TimeoutError' }),
};

export interface Call {
  method: string;
  key: string;
  /** 1-based count of store calls since the storage was made (or reset). */
  n: number;
}

export interface Fault {
  /** Which calls it applies to. */
  when: (call: Call) => boolean;
  /** 'before': the call never reaches the store; 'after': it does, then the error is thrown. */
  at?: 'before' | 'after';
  error?: () => Error;
  delayMs?: number;
  /** Strike at most this many times (default: every matching call). */
  times?: number;
}

export class FaultyStorage implements Storage {
  readonly kind: string;
  readonly urls?: SignedUrls;
  readonly conditionalWrites?: ConditionalWrites;
  /** Every store call made, in order (for choosing kill points and for assertions). */
  readonly calls: Call[] = [];
  private faults: Array<Fault & { struck: number }> = [];
  private killAt = Infinity;
  private killed = false;

  constructor(private readonly inner: Storage) {
    this.kind = inner.kind;
    this.conditionalWrites = inner.conditionalWrites;
    const urls = inner.urls;
    this.urls = urls?.servedBy === 'registry' ? { servedBy: 'registry', endpoint: this.faulty(urls.endpoint) } : urls;
  }

  /** The driver's /_store endpoint with its receives run as store calls. */
  private faulty(endpoint: StoreEndpoint): StoreEndpoint {
    return {
      verify: (request) => endpoint.verify(request),
      receivePut: (key, ...rest) => this.run('receivePut', key, () => endpoint.receivePut(key, ...rest)),
      receivePart: (key, ...rest) => this.run('receivePart', key, () => endpoint.receivePart(key, ...rest)),
    };
  }

  /** Kill at the nth store call counted from now. */
  armKill(n: number): void {
    this.killAt = this.calls.length + n;
  }

  get wasKilled(): boolean {
    return this.killed;
  }

  /** Drop every injected fault (not a kill). */
  clear(): void {
    this.faults = [];
  }

  inject(fault: Fault): void {
    this.faults.push({ ...fault, struck: 0 });
  }

  private async run<T>(method: string, key: string, call: () => Promise<T>): Promise<T> {
    const c: Call = { method, key, n: this.calls.length + 1 };
    this.calls.push(c);
    if (this.killed || c.n >= this.killAt) {
      this.killed = true;
      throw new KillError(`${method} ${key} (call ${c.n})`);
    }
    const fault = this.faults.find((f) => f.when(c) && f.struck < (f.times ?? Infinity));
    if (fault) fault.struck++;
    if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault?.error && (fault.at ?? 'before') === 'before') throw fault.error();
    const result = await call();
    if (fault?.error && fault.at === 'after') throw fault.error();
    return result;
  }

  get: Storage['get'] = (key) => this.run('get', key, () => this.inner.get(key));
  getIfChanged: Storage['getIfChanged'] = (key, etag) => this.run('getIfChanged', key, () => this.inner.getIfChanged(key, etag));
  getStream: Storage['getStream'] = (key, range) => this.run('getStream', key, () => this.inner.getStream(key, range));
  head: Storage['head'] = (key) => this.run('head', key, () => this.inner.head(key));
  put: Storage['put'] = (key, body, options) => this.run('put', key, () => this.inner.put(key, body, options));
  list: Storage['list'] = (prefix, options) => this.run('list', prefix, () => this.inner.list(prefix, options));
  delete: Storage['delete'] = (key) => this.run('delete', key, () => this.inner.delete(key));
  copy: Storage['copy'] = (source, target, options) => this.run('copy', target, () => this.inner.copy(source, target, options));
  createMultipart: Storage['createMultipart'] = (key) => this.run('createMultipart', key, () => this.inner.createMultipart(key));
  listParts: Storage['listParts'] = (key, id) => this.run('listParts', key, () => this.inner.listParts(key, id));
  completeMultipart: Storage['completeMultipart'] = (key, id, parts) =>
    this.run('completeMultipart', key, () => this.inner.completeMultipart(key, id, parts));
  abortMultipart: Storage['abortMultipart'] = (key, id) => this.run('abortMultipart', key, () => this.inner.abortMultipart(key, id));
  // Signing is local work, never faulted (a dead process signs nothing, but signs nothing harmful either).
  signPut: Storage['signPut'] = (key, o) => this.inner.signPut(key, o);
  signGet: Storage['signGet'] = (key, o) => this.inner.signGet(key, o);
  signPart: Storage['signPart'] = (key, id, n, o) => this.inner.signPart(key, id, n, o);
}
