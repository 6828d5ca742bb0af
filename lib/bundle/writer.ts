/**
 * Writes a `.dcos` bundle: a zip with manifest.json first, then the OCI layout files, then every
 * blob STORED under blobs/sha256/<hex> in digest order. Deterministic: fixed timestamps and modes,
 * DOS timestamps only (no extra fields), fixed order, so the same inputs give the same bytes.
 * Blobs stream from the staging directory; the bundle never sits in memory.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { link, rename, stat, unlink } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { ZipFile } from 'yazl';
import { blobEntryName, checkManifest, type BundleManifest } from './manifest';
import { buildOciIndex, ociLayoutJson } from './oci';

/** Local-time constructor on purpose: yazl encodes DOS time from local fields, so any time zone gives 1980-01-01 00:00. */
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0);
const FILE_MODE = 0o100644;
const ENTRY_OPTIONS = { mtime: FIXED_MTIME, mode: FILE_MODE, forceDosTimestamp: true } as const;

export class BundleExistsError extends Error {
  constructor(path: string) {
    super(`${path} already exists`);
    this.name = 'BundleExistsError';
  }
}

/** The file name of a version's bundle: `<name>-<version>.dcos`. */
export const bundleFileName = (name: string, version: string) => `${name}-${version}.dcos`;

/**
 * BundleExistsError when `path` exists: checked before the work starts, so nobody waits for
 * gigabytes of downloads to learn it; writeBundle re-checks atomically when it writes.
 */
export async function refuseExistingBundle(path: string): Promise<void> {
  const exists = await stat(path).then(
    () => true,
    () => false,
  );
  if (exists) throw new BundleExistsError(path);
}

export interface WriteBundleOptions {
  manifest: BundleManifest;
  /** Path of the blob with this digest on disk (e.g. BlobStaging.blobPath). */
  blobPath: (digest: string) => string;
  outputPath: string;
  onProgress?: (event: { written: number; total: number }) => void;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Writes to `<outputPath>.partial`, then links it to outputPath (link fails if the target exists,
 * so a bundle is never overwritten, even by a concurrent build) and removes the partial file.
 */
export async function writeBundle(opts: WriteBundleOptions): Promise<void> {
  const { manifest, outputPath } = opts;
  checkManifest(manifest);
  if (await exists(outputPath)) throw new BundleExistsError(outputPath);

  const sizes = new Map<string, number>(manifest.blobs.map((b) => [b.digest, b.size]));
  for (const b of manifest.blobs) {
    const actual = (await stat(opts.blobPath(b.digest))).size;
    if (actual !== b.size) throw new Error(`staged blob ${b.digest} has ${actual} bytes, manifest says ${b.size}`);
  }
  const total = manifest.blobs.reduce((n, b) => n + b.size, 0);
  let written = 0;

  const zip = new ZipFile();
  zip.addBuffer(Buffer.from(JSON.stringify(manifest, null, 2) + '\n'), 'manifest.json', { ...ENTRY_OPTIONS, compress: true });
  zip.addBuffer(Buffer.from(ociLayoutJson()), 'oci-layout', { ...ENTRY_OPTIONS, compress: true });
  const index = buildOciIndex(manifest.images, (d) => sizes.get(d) ?? 0);
  zip.addBuffer(Buffer.from(JSON.stringify(index, null, 2) + '\n'), 'index.json', { ...ENTRY_OPTIONS, compress: true });
  for (const b of manifest.blobs) {
    zip.addReadStreamLazy(blobEntryName(b.digest), { ...ENTRY_OPTIONS, compress: false, size: b.size }, (cb) => {
      const s = createReadStream(opts.blobPath(b.digest));
      s.on('data', (chunk) => {
        written += chunk.length;
        opts.onProgress?.({ written, total });
      });
      cb(null, s);
    });
  }
  // yazl reports read errors on the ZipFile, not on its output stream: forward them so the pipeline fails.
  zip.on('error', (err: Error) => (zip.outputStream as unknown as { destroy(e: Error): void }).destroy(err));
  zip.end();

  const partial = `${outputPath}.partial`;
  try {
    await pipeline(zip.outputStream, createWriteStream(partial));
    try {
      await link(partial, outputPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new BundleExistsError(outputPath);
      // Filesystems without hard links: check, then rename (a narrow race, but never a partial file).
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV') throw err;
      if (await exists(outputPath)) throw new BundleExistsError(outputPath);
      await rename(partial, outputPath);
    }
  } finally {
    await unlink(partial).catch(() => undefined);
  }
}
