/**
 * The storage base layer, as distribution wraps its drivers: every store call of the
 * registry goes through it, once, applied at the composition root (lib/registry.ts). It
 * keeps what must hold whatever the driver:
 *
 * - key validation (one place: no empty, `.` or `..` segment, no control character or
 *   backslash, at most 1024 bytes, no leading `.`: reserved for the filesystem driver's
 *   own directories); a bad key never reaches a driver;
 * - the part-number limit (MAX_PART_NUMBER, S3's) on signing, receiving and assembling parts;
 * - counting and tracing of store requests per operation (signing a URL is local work, not
 *   a request): `requests()` and `counts()` are the figures the tests and the bench read,
 *   and each call is a debug log line with its duration and outcome;
 * - the signed-URL capability (`urls`): whether the store or the registry's /_store route
 *   answers the URLs, so no handler tests for a driver class.
 */
import { BadRequestError } from '../errors';
import { log } from '../log';
import {
  type Body,
  type ConditionalWrites,
  MAX_PART_NUMBER,
  type MultipartPart,
  type ObjectInfo,
  type ObjectStream,
  type PutOptions,
  type SignedUrls,
  type SignOptions,
  type Storage,
  type StoredObject,
} from './port';

/** A key the registry's key layout (lib/keys.ts) could not have built: a bug or an attack, never stored. */
export class InvalidKeyError extends Error {
  constructor(key: unknown) {
    super(`Invalid storage key: ${JSON.stringify(String(key)).slice(0, 200)}`);
    this.name = 'InvalidKeyError';
  }
}

/** The one key check: keys come from lib/keys.ts; this is defence in depth (the filesystem maps keys to paths). */
export function checkKey(key: string): string {
  const segments = typeof key === 'string' ? key.split('/') : [];
  if (
    typeof key !== 'string' ||
    key.length === 0 ||
    Buffer.byteLength(key) > 1024 ||
    /[\\\u0000-\u001f\u007f]/.test(key) ||
    segments.some((s) => s === '' || s === '.' || s === '..') ||
    segments[0].startsWith('.')
  ) {
    throw new InvalidKeyError(key);
  }
  return key;
}

/** A listing prefix: a key's leading part (it may end inside a segment or at a slash), or empty. */
export function checkPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  const cut = prefix.lastIndexOf('/');
  if (cut >= 0) checkKey(prefix.slice(0, cut));
  if (typeof prefix !== 'string' || prefix.startsWith('.') || /[\\\u0000-\u001f\u007f]/.test(prefix) || Buffer.byteLength(prefix) > 1024) {
    throw new InvalidKeyError(prefix);
  }
  return prefix;
}

/** Part numbers are 1..MAX_PART_NUMBER on every store (S3's limit). */
function checkPartNumber(partNumber: number): number {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw new BadRequestError(`Part number must be 1..${MAX_PART_NUMBER}, got ${partNumber}`, { partNumber }, 'InvalidPart');
  }
  return partNumber;
}

/** The store requests a storage makes, by operation. */
export type StoreOperation =
  | 'get'
  | 'getIfChanged'
  | 'getStream'
  | 'head'
  | 'put'
  | 'list'
  | 'delete'
  | 'copy'
  | 'createMultipart'
  | 'listParts'
  | 'completeMultipart'
  | 'abortMultipart'
  | 'receivePut'
  | 'receivePart';

export interface LayerOptions {
  /** Called after every store request (tests, the bench); the layer also logs it at debug level. */
  onRequest?: (event: { op: StoreOperation; key: string; ms: number; ok: boolean }) => void;
}

export class StorageLayer implements Storage {
  readonly kind: string;
  readonly urls: SignedUrls;
  readonly conditionalWrites?: ConditionalWrites;
  private readonly byOp = new Map<StoreOperation, number>();
  private total = 0;

  constructor(
    readonly driver: Storage,
    private readonly options: LayerOptions = {},
  ) {
    this.kind = driver.kind;
    const urls = driver.urls;
    if (urls?.servedBy === 'registry') {
      const endpoint = urls.endpoint;
      this.urls = {
        servedBy: 'registry',
        endpoint: {
          verify: async (request) => endpoint.verify({ ...request, key: checkKey(request.key) }),
          receivePut: (key, body: Body, limit, size) =>
            this.call('receivePut', key, () => endpoint.receivePut(checkKey(key), body, limit, size)),
          receivePart: (key, uploadId, n, body: Body, limit, size) =>
            this.call('receivePart', key, () => endpoint.receivePart(checkKey(key), uploadId, checkPartNumber(n), body, limit, size)),
        },
      };
    } else {
      this.urls = { servedBy: 'store' };
    }
    // The driver's own If-Match form (S3): the capability probe (probe.ts) switches it through the layer.
    this.conditionalWrites = driver.conditionalWrites;
  }

  /** Store requests made through this layer so far. */
  requests(): number {
    return this.total;
  }

  /** Store requests so far, by operation (only those made at least once). */
  counts(): Partial<Record<StoreOperation, number>> {
    return Object.fromEntries(this.byOp);
  }

  private async call<T>(op: StoreOperation, key: string, run: () => Promise<T>): Promise<T> {
    this.total++;
    this.byOp.set(op, (this.byOp.get(op) ?? 0) + 1);
    // hrtime, not the global performance, whose first use loads perf_hooks (nine internal modules) in a cold function.
    const started = process.hrtime.bigint();
    let ok = false;
    try {
      const result = await run();
      ok = true;
      return result;
    } finally {
      const ms = Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10;
      log.debug('store request', { store: this.kind, op, key, ms, ok });
      this.options.onRequest?.({ op, key, ms, ok });
    }
  }

  async get(key: string): Promise<StoredObject> {
    checkKey(key);
    return this.call('get', key, () => this.driver.get(key));
  }

  async getIfChanged(key: string, etag: string | undefined): Promise<StoredObject | null> {
    checkKey(key);
    return this.call('getIfChanged', key, () => this.driver.getIfChanged(key, etag));
  }

  async getStream(key: string, range?: { start: number; end?: number }): Promise<ObjectStream> {
    checkKey(key);
    return this.call('getStream', key, () => this.driver.getStream(key, range));
  }

  async head(key: string): Promise<ObjectInfo> {
    checkKey(key);
    return this.call('head', key, () => this.driver.head(key));
  }

  async put(key: string, body: Buffer | string, options?: PutOptions): Promise<{ etag: string }> {
    checkKey(key);
    return this.call('put', key, () => this.driver.put(key, body, options));
  }

  async list(prefix: string, options?: { startAfter?: string; limit?: number }): Promise<ObjectInfo[]> {
    checkPrefix(prefix);
    return this.call('list', prefix, () => this.driver.list(prefix, options));
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    return this.call('delete', key, () => this.driver.delete(key));
  }

  async copy(source: string, target: string, options?: { ifSourceEtag?: string }): Promise<{ etag: string }> {
    checkKey(source);
    checkKey(target);
    return this.call('copy', target, () => this.driver.copy(source, target, options));
  }

  async signPut(key: string, options: SignOptions): Promise<string> {
    return this.driver.signPut(checkKey(key), options);
  }

  async signGet(key: string, options: SignOptions): Promise<string> {
    return this.driver.signGet(checkKey(key), options);
  }

  async signPart(key: string, uploadId: string, partNumber: number, options: SignOptions): Promise<string> {
    return this.driver.signPart(checkKey(key), uploadId, checkPartNumber(partNumber), options);
  }

  async createMultipart(key: string): Promise<string> {
    checkKey(key);
    return this.call('createMultipart', key, () => this.driver.createMultipart(key));
  }

  async listParts(key: string, uploadId: string): Promise<MultipartPart[]> {
    checkKey(key);
    return this.call('listParts', key, () => this.driver.listParts(key, uploadId));
  }

  async completeMultipart(key: string, uploadId: string, parts: MultipartPart[]): Promise<{ etag: string }> {
    checkKey(key);
    for (const part of parts) checkPartNumber(part.partNumber);
    return this.call('completeMultipart', key, () => this.driver.completeMultipart(key, uploadId, parts));
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    checkKey(key);
    return this.call('abortMultipart', key, () => this.driver.abortMultipart(key, uploadId));
  }
}

/** The layer over a driver (a storage that already is one is returned as it is: applied once). */
export function storageLayer(driver: Storage, options?: LayerOptions): StorageLayer {
  return driver instanceof StorageLayer && !options ? driver : new StorageLayer(driver, options);
}
