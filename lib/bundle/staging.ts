/**
 * A temporary, content-addressed blob directory used while a bundle is built: every blob (asset,
 * image manifest, config, layer) lands here once under its digest, so identical layers and assets
 * are stored once, and the writer streams them into the zip afterwards. Nothing is held in memory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rename, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

export type BlobBody = Uint8Array | NodeJS.ReadableStream | AsyncIterable<Uint8Array> | WebReadableStream<Uint8Array>;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

class BlobVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlobVerificationError';
  }
}

function toReadable(body: BlobBody): Readable {
  if (body instanceof Uint8Array) return Readable.from([body]);
  if (body instanceof Readable) return body;
  if (typeof (body as WebReadableStream).getReader === 'function') return Readable.fromWeb(body as WebReadableStream<Uint8Array>);
  return Readable.from(body as AsyncIterable<Uint8Array>);
}

export class BlobStaging {
  private constructor(readonly dir: string) {}

  static async create(parent = tmpdir()): Promise<BlobStaging> {
    return new BlobStaging(await mkdtemp(join(parent, 'dcos-bundle-')));
  }

  blobPath(digest: string): string {
    if (!DIGEST_RE.test(digest)) throw new BlobVerificationError(`not a sha256 digest: ${digest}`);
    return join(this.dir, digest.slice(7));
  }

  async hasBlob(digest: string): Promise<boolean> {
    try {
      await stat(this.blobPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  async size(digest: string): Promise<number> {
    return (await stat(this.blobPath(digest))).size;
  }

  open(digest: string): Readable {
    return createReadStream(this.blobPath(digest));
  }

  /**
   * Stores a blob of known digest and size; fails (and keeps nothing) if the bytes disagree.
   * Writers race harmlessly: each writes its own temp file and the rename is atomic.
   */
  async writeBlob(digest: string, size: number, body: BlobBody): Promise<void> {
    this.blobPath(digest); // rejects a malformed digest before any byte is read
    const got = await this.addStream(body, { expectedSize: size });
    if (got.digest !== digest) {
      await unlink(this.blobPath(got.digest)).catch(() => undefined);
      throw new BlobVerificationError(`blob digest mismatch: expected ${digest}, got ${got.digest}`);
    }
  }

  /** Stores a blob of unknown digest (an asset being downloaded) and returns its digest and size. */
  async addStream(
    body: BlobBody,
    opts: { expectedSize?: number; onBytes?: (n: number) => void } = {},
  ): Promise<{ digest: string; size: number }> {
    const temp = join(this.dir, `.tmp-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (opts.expectedSize !== undefined && size > opts.expectedSize) {
          cb(new BlobVerificationError(`blob larger than its declared size ${opts.expectedSize}`));
          return;
        }
        hash.update(chunk);
        opts.onBytes?.(chunk.length);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(toReadable(body), meter, createWriteStream(temp));
      if (opts.expectedSize !== undefined && size !== opts.expectedSize) {
        throw new BlobVerificationError(`blob size mismatch: expected ${opts.expectedSize}, got ${size}`);
      }
      const digest = `sha256:${hash.digest('hex')}`;
      await rename(temp, this.blobPath(digest));
      return { digest, size };
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
