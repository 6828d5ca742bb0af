/**
 * Local asset files, confined. A package definition names its assets, but only the operator says
 * which directories local files may come from: by default the build definition's own directory
 * (build) or the package directory (migrate), plus each directory named with --allow-local-dir.
 * A definition naming `file:///etc/passwd`, `../../../../etc/hostname` or `/proc/self/environ`
 * would otherwise copy those bytes into a bundle that the registry then serves to anyone.
 *
 * Checked after realpath (so no symlink, in the file's path or its parents, leads out), and only
 * regular files (no directories, FIFOs that would block, devices). The file is then opened with
 * O_NOFOLLOW and checked again by fstat on the open descriptor, which is what gets read.
 */
import { constants, type ReadStream } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';

export class LocalAssetError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LocalAssetError';
  }
}

/** The directories local assets may come from, resolved once (realpath); each must exist. */
export async function allowedRoots(directories: readonly string[]): Promise<string[]> {
  const roots: string[] = [];
  for (const dir of directories) {
    let real: string;
    try {
      real = await realpath(dir);
    } catch (err) {
      throw new LocalAssetError(`local asset directory ${dir} cannot be used: ${(err as Error).message}`, { cause: err });
    }
    if (!(await stat(real)).isDirectory()) throw new LocalAssetError(`local asset directory ${dir} is not a directory`);
    if (!roots.includes(real)) roots.push(real);
  }
  return roots;
}

/** `child` lies under `root` (both absolute, normalised). */
function isInside(root: string, child: string): boolean {
  const rel = relative(root, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

export interface LocalFile {
  /** The real path that was opened. */
  readonly path: string;
  /** Which allowed root holds it. */
  readonly root: string;
  readonly size: number;
  /** A stream over the opened descriptor; it closes the descriptor when done or destroyed. */
  stream(): ReadStream;
  close(): Promise<void>;
}

/**
 * Opens the local asset `file` (absolute, or relative to `base`) if its real path lies inside one
 * of `roots` and it is a regular file. `uri` is what the definition said, for messages.
 */
export async function openLocalAsset(uri: string, file: string, base: string, roots: readonly string[]): Promise<LocalFile> {
  const wanted = isAbsolute(file) ? file : resolve(base, file);
  let real: string;
  try {
    real = await realpath(wanted);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new LocalAssetError(`local asset ${uri}: no such file ${wanted}`, { cause: err });
    throw new LocalAssetError(`local asset ${uri}: cannot read ${wanted}: ${(err as Error).message}`, { cause: err });
  }
  const root = roots.find((r) => isInside(r, real));
  if (root === undefined) {
    throw new LocalAssetError(
      `local asset ${uri} is ${real}, outside the directories local assets may come from (${roots.join(', ')}); ` +
        'copy it there, or name its directory with --allow-local-dir=DIR',
    );
  }
  // stat before open: opening a FIFO would block until a writer appears.
  const before = await stat(real);
  if (!before.isFile()) throw new LocalAssetError(`local asset ${uri} is not a regular file (${real})`);
  const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: Error) => {
    throw new LocalAssetError(`local asset ${uri}: cannot open ${real}: ${err.message}`, { cause: err });
  });
  const st = await handle.stat();
  if (!st.isFile() || st.ino !== before.ino || st.dev !== before.dev) {
    await handle.close();
    throw new LocalAssetError(`local asset ${uri} changed while it was opened (${real})`);
  }
  return {
    path: real,
    root,
    size: st.size,
    stream: () => handle.createReadStream({ autoClose: true }),
    close: () => handle.close().catch(() => undefined),
  };
}
