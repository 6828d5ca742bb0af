/**
 * `dcos-registry migrate`: package directory → build definition file `<name>-<version>.json`.
 *
 * Local assets (relative paths, absolute paths, file: URIs in resource.json) resolve against the
 * package directory and must lie inside it (or inside a directory the operator allowed): they are
 * copied beside the definition, into `<name>-<version>.assets/`, and the definition names the
 * copies by relative path, so `build` reads nothing outside the definition's own directory.
 *
 * Re-running migrate replaces the file and the copies (they are derived from the directory); the
 * output directory is created when missing; the definition is renamed into place last.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { migratePackageDirectory } from '../universe/package-dir';
import { locateAsset } from './download';
import { allowedRoots, openLocalAsset } from './local';
import { mapAssetUris } from './resources';

export interface MigrateFileOptions {
  packageDirectory: string;
  outputDirectory: string;
  /** Upgrade packagingVersion 2.0/3.0 packages to 4.0 instead of refusing them. */
  upgrade?: boolean;
  /** Directories besides the package directory that local assets may come from (--allow-local-dir). */
  allowLocalDirectories?: readonly string[];
}

export interface MigrateFileResult {
  path: string;
  changes: string[];
  notes: string[];
  /** Local assets copied beside the definition: what the package named → the copy's path. */
  copied: Array<{ uri: string; path: string }>;
}

/** rmdir from `dir` up to and including `top` (an ancestor of dir, or dir), stopping at the first that is not empty. */
async function removeEmptyDirectories(dir: string, top: string): Promise<void> {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (
      !(await rmdir(d).then(
        () => true,
        () => false,
      ))
    )
      return;
    if (d === resolve(top) || dirname(d) === d) return;
  }
}

export async function migrateToFile(opts: MigrateFileOptions): Promise<MigrateFileResult> {
  const { definition, changes, notes } = await migratePackageDirectory(opts.packageDirectory, { upgrade: opts.upgrade });
  const roots = await allowedRoots([opts.packageDirectory, ...(opts.allowLocalDirectories ?? [])]);
  const base = `${definition.name}-${definition.version}`;
  const path = join(opts.outputDirectory, `${base}.json`);
  const assetsDir = `${base}.assets`;
  const suffix = randomBytes(6).toString('hex');
  const stagingDir = join(opts.outputDirectory, `.${assetsDir}.partial-${suffix}`);
  const temp = `${path}.partial-${suffix}`;

  // The first directory this call creates, if any: a migrate that fails removes what it created.
  const created = await mkdir(opts.outputDirectory, { recursive: true });
  const copied: MigrateFileResult['copied'] = [];
  const byRealPath = new Map<string, string>();
  let done = false;
  try {
    const resource = (definition as { resource?: unknown }).resource;
    const mapped = await mapAssetUris(resource, async (uri) => {
      let where: ReturnType<typeof locateAsset>;
      try {
        where = locateAsset(uri, opts.packageDirectory);
      } catch {
        return uri; // not a local file; build reports unsupported schemes
      }
      if (!('file' in where)) return uri;
      const local = await openLocalAsset(uri, where.file, opts.packageDirectory, roots);
      try {
        const known = byRealPath.get(local.path);
        if (known) return known;
        const index = roots.indexOf(local.root);
        const segments = [...(index === 0 ? [] : [`local-dir-${index}`]), ...relative(local.root, local.path).split(sep)];
        const target = join(stagingDir, ...segments);
        await mkdir(dirname(target), { recursive: true });
        await pipeline(local.stream(), createWriteStream(target, { flags: 'wx' }));
        const newUri = [assetsDir, ...segments].join('/');
        byRealPath.set(local.path, newUri);
        copied.push({ uri, path: join(opts.outputDirectory, ...newUri.split('/')) });
        return newUri;
      } finally {
        await local.close();
      }
    });
    const written = resource === undefined ? definition : { ...definition, resource: mapped };
    await writeFile(temp, `${JSON.stringify(written, null, 2)}\n`);
    await rm(join(opts.outputDirectory, assetsDir), { recursive: true, force: true });
    if (copied.length > 0) await rename(stagingDir, join(opts.outputDirectory, assetsDir));
    await rename(temp, path);
    done = true;
  } finally {
    await rm(stagingDir, { recursive: true, force: true });
    await rm(temp, { force: true });
    if (!done && created) await removeEmptyDirectories(opts.outputDirectory, created);
  }
  return { path, changes, notes, copied };
}
