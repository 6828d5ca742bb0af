/**
 * Filesystem driver: the store is a directory (local storage or a mounted volume).
 *
 * One machine, but several processes may use the same root at once (serverless-offline
 * workers, several production server processes), so every guarantee is made with the
 * filesystem's own atomic operations, never with process memory:
 *
 *   <root>/<key>                  objects; keys map to paths (checkStoreKey keeps them inside)
 *   <root>/.tmp/<random>          every write lands here first, then is published by
 *                                 link (create-only: EEXIST means somebody else won) or
 *                                 rename (plain put, CAS, copy, multipart complete)
 *   <root>/.locks/<sha256(key)>   proper-lockfile lock taken by every replacing write or
 *                                 delete of key, so a CAS's compare and its rename are one step
 *   <root>/.multipart/<id>/       target (the key), and parts named by number (the layer keeps them 1..MAX_PART_NUMBER)
 *
 * ETag = hex(inode)-hex(size)-hex(mtime ns), from stat: no file is read to compute it. ext4
 * hands a freed inode to the next new file (measured: 198 of 200 rewrites), and kernels
 * before 6.13 keep mtime at tick granularity, so ino+size+mtime alone could repeat after
 * a few quick rewrites (ABA: a stale CAS would succeed). Every published file therefore
 * gets an explicit mtime from a microsecond clock that never goes backwards in this
 * process, and, under the key's lock, is strictly later than the mtime of the file it
 * replaces.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { BigIntStats, Dirent } from 'node:fs';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import lockfile from 'proper-lockfile';
import {
  AlreadyExistsError,
  BadRequestError,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  PreconditionFailedError,
} from '../errors';
import { keys } from '../keys';
import type { Body, MultipartPart, ObjectInfo, ObjectStream, PutOptions, SignedUrls, SignOptions, Storage, StoredObject } from './port';
import { checkKey as checkStoreKey, checkPrefix } from './layer';
import { checkSigningKey, parseSigningKeyText, signStoreUrl, verifyStoreRequest, type StoreGrant } from './signing';

const TMP = '.tmp';
const LOCKS = '.locks';
const MULTIPART = '.multipart';
/** S3's minimum size of every part but the last; enforced here too so code that works on files works on S3. */
const MIN_PART_SIZE = 5 * 1024 * 1024;
const UPLOAD_ID = /^[0-9a-f]{32}$/;
const COPY_CHUNK = 1024 * 1024;

export type { Body } from './port';

export interface FileStorageOptions {
  root: string;
  /**
   * HMAC key for signed URLs (at least 32 bytes), shared by every process: given (config),
   * or, when absent, the store's own key file (keys.signingKey(), created once, mode 0600).
   */
  signingKey?: Buffer | (() => Promise<Buffer>);
  /** Clock for signed URLs, ms since the epoch (tests). */
  now?: () => number;
}

function etagOf(st: BigIntStats): string {
  return `${st.ino.toString(16)}-${st.size.toString(16)}-${st.mtimeNs.toString(16)}`;
}

const unquote = (etag: string) => etag.replace(/^(W\/)?"(.*)"$/, '$2');

function hasCode(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as { code?: string }).code ?? '');
}

/** UTF-8 byte order, which is S3's listing order (JS `<` differs only beyond the BMP). */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

let lastStampUs = 0;
/**
 * Sets the file's mtime to a fresh microsecond timestamp, later than floorNs (the mtime of
 * the file being replaced). Steps of 4 µs survive the double → timespec conversion.
 */
async function stamp(file: string, floorNs?: bigint): Promise<void> {
  let us = Math.max(Math.floor((performance.timeOrigin + performance.now()) * 1000), lastStampUs + 4);
  if (floorNs !== undefined) us = Math.max(us, Number(floorNs / 1000n) + 4);
  lastStampUs = us;
  await fsp.utimes(file, us / 1e6, us / 1e6);
}

async function statOrUndefined(file: string): Promise<BigIntStats | undefined> {
  try {
    const st = await fsp.stat(file, { bigint: true });
    return st.isFile() ? st : undefined;
  } catch (err) {
    if (hasCode(err, 'ENOENT', 'ENOTDIR')) return undefined;
    throw err;
  }
}

async function unlinkQuietly(file: string): Promise<void> {
  await fsp.unlink(file).catch((err) => {
    if (!hasCode(err, 'ENOENT')) throw err;
  });
}

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
}

/** In-process queue per lock path, so this process's writers wait in line instead of polling the lock. */
const lockQueues = new Map<string, Promise<void>>();

export class FileStorage implements Storage {
  readonly kind = 'file';
  /** The "store" is the registry: its signed URLs are the registry's /_store route, answered through this driver. */
  readonly urls: SignedUrls = {
    servedBy: 'registry',
    endpoint: {
      verify: (request) => this.verifyStoreRequest(request),
      receivePut: (key, body, limit) => this.receivePut(key, body, limit),
      receivePart: (key, uploadId, n, body, limit) => this.receivePart(key, uploadId, n, body, limit),
    },
  };
  readonly root: string;
  private readonly keySource?: Buffer | (() => Promise<Buffer>);
  private key?: Promise<Buffer>;
  private readonly now: () => number;
  private ready?: Promise<void>;

  constructor(options: FileStorageOptions) {
    this.root = path.resolve(options.root);
    this.keySource = options.signingKey;
    this.now = options.now ?? Date.now;
  }

  /** The HMAC key, loaded once (a failed load is retried on the next call). */
  private signingKey(): Promise<Buffer> {
    const load = async () => {
      const source = this.keySource;
      if (Buffer.isBuffer(source)) return checkSigningKey(source, 'the configuration');
      if (source) return checkSigningKey(await source(), 'the configuration');
      return this.keyFile();
    };
    this.key ??= load().catch((error) => {
      this.key = undefined;
      throw error;
    });
    return this.key;
  }

  /**
   * The store's key file: created create-only with mode 0600 (every process of the machine
   * agrees on the first one written), tightened to 0600 if an older version left it readable
   * to others, and refused (naming the file) when it does not hold a hex key of 32+ bytes.
   */
  private async keyFile(): Promise<Buffer> {
    await this.init();
    const file = this.pathOf(keys.signingKey());
    await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const temp = this.tempPath();
    await fsp.writeFile(temp, `${randomBytes(32).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
    try {
      await fsp.link(temp, file).catch((err) => {
        if (!hasCode(err, 'EEXIST')) throw err;
      });
    } finally {
      await unlinkQuietly(temp);
    }
    const fh = await fsp.open(file, 'r');
    try {
      if (((await fh.stat()).mode & 0o077) !== 0) await fh.chmod(0o600);
      return parseSigningKeyText(await fh.readFile('utf8'), file);
    } finally {
      await fh.close();
    }
  }

  /* ---------------- reads ---------------- */

  async get(key: string): Promise<StoredObject> {
    const { fh, st } = await this.openRead(key);
    try {
      const body = await fh.readFile();
      return { key, size: body.length, etag: etagOf(st), body };
    } finally {
      await fh.close();
    }
  }

  async getIfChanged(key: string, etag: string | undefined): Promise<StoredObject | null> {
    // Unchanged costs one stat, not an open, fstat and close (every warm request revalidates the catalog this way).
    if (etag !== undefined) {
      const st = await statOrUndefined(this.pathOf(key));
      if (st && unquote(etag) === etagOf(st)) return null;
    }
    const { fh, st } = await this.openRead(key);
    try {
      if (etag !== undefined && unquote(etag) === etagOf(st)) return null;
      const body = await fh.readFile();
      return { key, size: body.length, etag: etagOf(st), body };
    } finally {
      await fh.close();
    }
  }

  async getStream(key: string, range?: { start: number; end?: number }): Promise<ObjectStream> {
    const { fh, st } = await this.openRead(key);
    const size = Number(st.size);
    const info = { key, size, etag: etagOf(st) };
    if (!range) return { ...info, stream: fh.createReadStream() };
    const end = Math.min(range.end ?? size - 1, size - 1);
    if (!Number.isSafeInteger(range.start) || range.start < 0 || range.start > end) {
      await fh.close();
      throw new BadRequestError('Range not satisfiable', { start: range.start, end: range.end, size }, 'InvalidRange');
    }
    // As on S3, size counts the bytes in this answer; range.total is the object's size.
    const stream = fh.createReadStream({ start: range.start, end });
    return { ...info, size: end - range.start + 1, stream, range: { start: range.start, end, total: size } };
  }

  async head(key: string): Promise<ObjectInfo> {
    const st = await statOrUndefined(this.pathOf(key));
    if (!st) throw new NotFoundError(key);
    return { key, size: Number(st.size), etag: etagOf(st) };
  }

  async list(prefix: string, options: { startAfter?: string; limit?: number } = {}): Promise<ObjectInfo[]> {
    checkPrefix(prefix);
    const cut = prefix.lastIndexOf('/');
    const out: ObjectInfo[] = [];
    await this.walk(prefix.slice(0, cut + 1), prefix.slice(cut + 1), options.startAfter, options.limit ?? Infinity, out);
    return out;
  }

  /* ---------------- writes ---------------- */

  async put(key: string, body: Buffer | string, options: PutOptions = {}): Promise<{ etag: string }> {
    checkStoreKey(key);
    const temp = await this.writeTemp(typeof body === 'string' ? Buffer.from(body) : body);
    try {
      if (options.ifNoneMatch === '*') return { etag: await this.publishNew(temp, key) };
      return { etag: await this.publish(temp, key, { ifMatch: options.ifMatch }) };
    } finally {
      await unlinkQuietly(temp);
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.pathOf(key);
    await this.withKeyLock(key, async () => {
      await fsp.unlink(file).catch((err) => {
        if (!hasCode(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) throw err;
      });
    });
  }

  async copy(source: string, target: string, options: { ifSourceEtag?: string } = {}): Promise<{ etag: string }> {
    const src = this.pathOf(source);
    checkStoreKey(target);
    await this.init();
    const temp = this.tempPath();
    try {
      // A hard link snapshots the source inode atomically: a concurrent replace of the
      // source cannot slip other bytes in after the etag check. Files are never changed in
      // place, so target and source may share the inode.
      let linked = true;
      try {
        await fsp.link(src, temp);
      } catch (err) {
        if (hasCode(err, 'ENOENT', 'ENOTDIR')) throw new NotFoundError(source);
        if (!hasCode(err, 'EPERM', 'EXDEV', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK')) throw err;
        linked = false;
        await this.copyByFd(source, temp, options.ifSourceEtag);
      }
      if (linked) {
        const st = await fsp.stat(temp, { bigint: true });
        if (options.ifSourceEtag !== undefined && etagOf(st) !== unquote(options.ifSourceEtag)) throw new PreconditionFailedError(source);
      }
      return { etag: await this.publish(temp, target, { restamp: !linked }) };
    } finally {
      await unlinkQuietly(temp);
    }
  }

  /* ---------------- signed URLs (served by the registry's /_store route) ---------------- */

  async signPut(key: string, options: SignOptions): Promise<string> {
    return signStoreUrl(options.origin, { method: 'PUT', key: checkStoreKey(key), expires: this.expiry(options) }, await this.signingKey());
  }

  async signGet(key: string, options: SignOptions): Promise<string> {
    const params = {
      method: 'GET' as const,
      key: checkStoreKey(key),
      expires: this.expiry(options),
      filename: options.filename,
      contentType: options.contentType,
      contentEncoding: options.contentEncoding,
    };
    return signStoreUrl(options.origin, params, await this.signingKey());
  }

  async signPart(key: string, uploadId: string, partNumber: number, options: SignOptions): Promise<string> {
    if (!UPLOAD_ID.test(uploadId)) throw new NotFoundError(`upload ${uploadId}`);
    const params = { method: 'PUT' as const, key: checkStoreKey(key), expires: this.expiry(options), uploadId, partNumber };
    return signStoreUrl(options.origin, params, await this.signingKey());
  }

  /** Checks a request to /_store/<key> (ForbiddenError when forged or expired). */
  async verifyStoreRequest(request: { method: string; key: string; query: Record<string, string | undefined> }): Promise<StoreGrant> {
    return verifyStoreRequest({ ...request, secret: await this.signingKey(), now: this.now() });
  }

  /** Server side of a signed PUT: an unconditional put of a streamed body. */
  async receivePut(key: string, body: Body, limitBytes: number): Promise<{ etag: string; size: number }> {
    checkStoreKey(key);
    const temp = await this.writeTemp(body, limitBytes);
    try {
      const size = Number((await fsp.stat(temp, { bigint: true })).size);
      return { etag: await this.publish(temp, key, {}), size };
    } finally {
      await unlinkQuietly(temp);
    }
  }

  /** Server side of a signed part PUT. NotFoundError when the upload is unknown or aborted. */
  async receivePart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Body,
    limitBytes: number,
  ): Promise<{ etag: string; size: number }> {
    const dir = await this.uploadDir(key, uploadId);
    const temp = await this.writeTemp(body, limitBytes);
    try {
      await stamp(temp);
      const st = await fsp.stat(temp, { bigint: true });
      await fsp.rename(temp, path.join(dir, String(partNumber))).catch((err) => {
        throw hasCode(err, 'ENOENT') ? new NotFoundError(`upload ${uploadId}`) : err;
      });
      return { etag: etagOf(st), size: Number(st.size) };
    } finally {
      await unlinkQuietly(temp);
    }
  }

  /* ---------------- multipart ---------------- */

  async createMultipart(key: string): Promise<string> {
    checkStoreKey(key);
    await this.init();
    const id = randomBytes(16).toString('hex');
    // Built aside and renamed in, so an upload dir always has its target file.
    const staging = this.tempPath();
    await fsp.mkdir(staging);
    await fsp.writeFile(path.join(staging, 'target'), key);
    await fsp.rename(staging, path.join(this.root, MULTIPART, id));
    return id;
  }

  async listParts(key: string, uploadId: string): Promise<MultipartPart[]> {
    const dir = await this.uploadDir(key, uploadId);
    const names = (
      await fsp.readdir(dir).catch((err) => {
        throw hasCode(err, 'ENOENT') ? new NotFoundError(`upload ${uploadId}`) : err;
      })
    ).filter((n) => /^[1-9]\d{0,4}$/.test(n));
    const parts: MultipartPart[] = [];
    for (const name of names) {
      const st = await statOrUndefined(path.join(dir, name));
      if (st) parts.push({ partNumber: Number(name), etag: etagOf(st), size: Number(st.size) });
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async completeMultipart(key: string, uploadId: string, parts: MultipartPart[]): Promise<{ etag: string }> {
    const dir = await this.uploadDir(key, uploadId);
    if (parts.length === 0) throw new BadRequestError('A multipart upload needs at least one part', undefined, 'InvalidPart');
    const temp = this.tempPath();
    const out = await fsp.open(temp, 'wx');
    try {
      try {
        for (const [i, part] of parts.entries()) {
          if (i > 0 && part.partNumber <= parts[i - 1].partNumber)
            throw new BadRequestError('Parts must be in ascending order', undefined, 'InvalidPartOrder');
          await this.appendPart(out, dir, part, i === parts.length - 1);
        }
        await out.sync();
      } finally {
        await out.close();
      }
      const etag = await this.publish(temp, key, {});
      await this.removeUploadDir(dir);
      return { etag };
    } finally {
      await unlinkQuietly(temp);
    }
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    let dir: string;
    try {
      dir = await this.uploadDir(key, uploadId);
    } catch (err) {
      if (err instanceof NotFoundError) return;
      throw err;
    }
    await this.removeUploadDir(dir);
  }

  /* ---------------- internals ---------------- */

  private pathOf(key: string): string {
    return path.join(this.root, ...checkStoreKey(key).split('/'));
  }

  /** A root this driver creates is 0700: the store holds the signing key and unverified uploads. */
  private init(): Promise<void> {
    this.ready ??= fsp
      .mkdir(this.root, { recursive: true, mode: 0o700 })
      .then(() => Promise.all([TMP, LOCKS, MULTIPART].map((d) => fsp.mkdir(path.join(this.root, d), { recursive: true, mode: 0o700 }))))
      .then(
        () => undefined,
        (err) => {
          this.ready = undefined;
          throw err;
        },
      );
    return this.ready;
  }

  private tempPath(): string {
    return path.join(this.root, TMP, `${process.pid}-${randomBytes(12).toString('hex')}`);
  }

  private expiry(options: SignOptions): number {
    if (!Number.isFinite(options.expiresIn) || options.expiresIn <= 0) throw new RangeError('expiresIn must be positive');
    // A base path is allowed (registry behind a reverse proxy at /something): the route is <origin>/_store/.
    // No origin: a reference relative to the registry's base (SignOptions.origin).
    if (options.origin !== undefined && !/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(options.origin))
      throw new RangeError(`origin must be scheme://host[:port][/path], got ${options.origin}`);
    return Math.floor(this.now() / 1000) + Math.ceil(options.expiresIn);
  }

  /** Opens key for reading; etag from the open file, so body and etag always agree. */
  private async openRead(key: string): Promise<{ fh: FileHandle; st: BigIntStats }> {
    let fh: FileHandle;
    try {
      fh = await fsp.open(this.pathOf(key), 'r');
    } catch (err) {
      if (hasCode(err, 'ENOENT', 'ENOTDIR')) throw new NotFoundError(key, { cause: err });
      throw err;
    }
    const st = await fh.stat({ bigint: true });
    if (!st.isFile()) {
      await fh.close();
      throw new NotFoundError(key);
    }
    return { fh, st };
  }

  /** Writes body to a new temp file (synced to disk); PayloadTooLargeError past limitBytes. */
  private async writeTemp(body: Body, limitBytes = Infinity): Promise<string> {
    await this.init();
    const temp = this.tempPath();
    const fh = await fsp.open(temp, 'wx');
    try {
      if (body instanceof Uint8Array) {
        if (body.length > limitBytes) throw new PayloadTooLargeError(`Body exceeds ${limitBytes} bytes`);
        await writeAll(fh, body);
      } else {
        let total = 0;
        for await (const chunk of body) {
          total += chunk.length;
          if (total > limitBytes) throw new PayloadTooLargeError(`Body exceeds ${limitBytes} bytes`);
          await writeAll(fh, typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
        }
      }
      await fh.sync();
      await fh.close();
      return temp;
    } catch (err) {
      await fh.close().catch(() => undefined);
      await unlinkQuietly(temp);
      throw err;
    }
  }

  /** Create-only: link fails with EEXIST when the key exists, atomically across processes. */
  private async publishNew(temp: string, key: string): Promise<string> {
    const dest = this.pathOf(key);
    await stamp(temp);
    const etag = etagOf(await fsp.stat(temp, { bigint: true }));
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    try {
      await fsp.link(temp, dest);
    } catch (err) {
      if (hasCode(err, 'EEXIST')) throw new AlreadyExistsError(key);
      throw err;
    }
    return etag;
  }

  /**
   * Replaces key with temp under the key's lock, so the ifMatch compare and the rename are
   * one step for every process. restamp: false keeps the mtime of a hard-linked copy.
   */
  private async publish(temp: string, key: string, opts: { ifMatch?: string; restamp?: boolean }): Promise<string> {
    const dest = this.pathOf(key);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    return this.withKeyLock(key, async (assertHeld) => {
      const current = await statOrUndefined(dest);
      if (opts.ifMatch !== undefined && (!current || etagOf(current) !== unquote(opts.ifMatch))) throw new PreconditionFailedError(key);
      if (opts.restamp !== false) await stamp(temp, current?.mtimeNs);
      const etag = etagOf(await fsp.stat(temp, { bigint: true }));
      assertHeld();
      await fsp.rename(temp, dest);
      return etag;
    });
  }

  private async withKeyLock<T>(key: string, fn: (assertHeld: () => void) => Promise<T>): Promise<T> {
    await this.init();
    const lockPath = path.join(this.root, LOCKS, createHash('sha256').update(key).digest('hex'));
    const previous = lockQueues.get(lockPath) ?? Promise.resolve();
    let done!: () => void;
    const tail = previous.then(() => new Promise<void>((resolve) => (done = resolve)));
    lockQueues.set(lockPath, tail);
    await previous;
    try {
      let compromised: Error | undefined;
      let release: () => Promise<void>;
      try {
        release = await lockfile.lock(lockPath, {
          realpath: false,
          stale: 10_000,
          retries: { retries: 300, factor: 1.3, minTimeout: 2, maxTimeout: 50, randomize: true },
          // The default throws from a timer and kills the process; fail the write instead.
          onCompromised: (err) => {
            compromised = err;
          },
        });
      } catch (err) {
        if (hasCode(err, 'ELOCKED')) throw new ConflictError(key, { cause: err });
        throw err;
      }
      try {
        return await fn(() => {
          if (compromised) throw new ConflictError(key, { cause: compromised });
        });
      } finally {
        await release().catch(() => undefined);
      }
    } finally {
      done();
      if (lockQueues.get(lockPath) === tail) lockQueues.delete(lockPath);
    }
  }

  /** Listing in byte order: entries sorted with a '/' after directory names, so a walk is already ordered. */
  private async walk(dirKey: string, namePrefix: string, after: string | undefined, limit: number, out: ObjectInfo[]): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await fsp.readdir(path.join(this.root, ...dirKey.split('/')), { withFileTypes: true });
    } catch (err) {
      if (hasCode(err, 'ENOENT', 'ENOTDIR')) return;
      throw err;
    }
    const items = entries
      .filter((e) => e.name.startsWith(namePrefix) && !(dirKey === '' && e.name.startsWith('.')) && (e.isFile() || e.isDirectory()))
      .map((e) => ({ dir: e.isDirectory(), key: dirKey + e.name + (e.isDirectory() ? '/' : '') }))
      .map((item) => ({ ...item, bytes: Buffer.from(item.key) }))
      .sort((a, b) => Buffer.compare(a.bytes, b.bytes));
    for (const item of items) {
      if (out.length >= limit) return;
      if (item.dir) {
        // Every key below starts with item.key: skip the subtree when all of them sort before startAfter.
        if (after !== undefined && compareBytes(item.key, after) < 0 && !after.startsWith(item.key)) continue;
        await this.walk(item.key, '', after, limit, out);
      } else {
        if (after !== undefined && compareBytes(item.key, after) <= 0) continue;
        const st = await statOrUndefined(path.join(this.root, ...item.key.split('/')));
        if (st) out.push({ key: item.key, size: Number(st.size), etag: etagOf(st) });
      }
    }
  }

  private async copyByFd(source: string, temp: string, ifSourceEtag: string | undefined): Promise<void> {
    const { fh, st } = await this.openRead(source);
    try {
      if (ifSourceEtag !== undefined && etagOf(st) !== unquote(ifSourceEtag)) throw new PreconditionFailedError(source);
      const out = await fsp.open(temp, 'wx');
      try {
        const buf = Buffer.allocUnsafe(COPY_CHUNK);
        for (let pos = 0; ; ) {
          const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
          if (bytesRead === 0) break;
          await writeAll(out, buf.subarray(0, bytesRead));
          pos += bytesRead;
        }
        await out.sync();
      } finally {
        await out.close();
      }
    } finally {
      await fh.close();
    }
  }

  /** The upload's directory, after checking that it exists and belongs to key. */
  private async uploadDir(key: string, uploadId: string): Promise<string> {
    checkStoreKey(key);
    if (!UPLOAD_ID.test(uploadId)) throw new NotFoundError(`upload ${uploadId}`);
    const dir = path.join(this.root, MULTIPART, uploadId);
    const target = await fsp.readFile(path.join(dir, 'target'), 'utf8').catch((err) => {
      if (hasCode(err, 'ENOENT')) return undefined;
      throw err;
    });
    if (target !== key) throw new NotFoundError(`upload ${uploadId}`);
    return dir;
  }

  /** Appends one listed part, read from the fd whose etag was checked. */
  private async appendPart(out: FileHandle, dir: string, part: MultipartPart, last: boolean): Promise<void> {
    const invalid = () =>
      new BadRequestError(`Part ${part.partNumber} is missing or its etag does not match`, { partNumber: part.partNumber }, 'InvalidPart');
    let fh: FileHandle;
    try {
      fh = await fsp.open(path.join(dir, String(part.partNumber)), 'r');
    } catch (err) {
      if (hasCode(err, 'ENOENT')) throw invalid();
      throw err;
    }
    try {
      const st = await fh.stat({ bigint: true });
      if (etagOf(st) !== unquote(part.etag)) throw invalid();
      if (!last && st.size < BigInt(MIN_PART_SIZE)) {
        throw new BadRequestError(`Part ${part.partNumber} is smaller than 5 MiB`, { partNumber: part.partNumber }, 'EntityTooSmall');
      }
      const buf = Buffer.allocUnsafe(COPY_CHUNK);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        await writeAll(out, buf.subarray(0, bytesRead));
      }
    } finally {
      await fh.close();
    }
  }

  /** Moved out of .multipart first, so a part arriving during the removal fails cleanly. */
  private async removeUploadDir(dir: string): Promise<void> {
    const doomed = this.tempPath();
    try {
      await fsp.rename(dir, doomed);
    } catch (err) {
      if (hasCode(err, 'ENOENT')) return;
      throw err;
    }
    await fsp.rm(doomed, { recursive: true, force: true });
  }
}
