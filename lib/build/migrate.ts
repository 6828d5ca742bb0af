/**
 * `dcos-registry migrate`: package directory → build definition file `<name>-<version>.json`.
 * Re-running migrate replaces the file (it is derived from the directory); the write is atomic.
 */
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { migratePackageDirectory } from '../universe/package-dir';

export interface MigrateFileOptions {
  packageDirectory: string;
  outputDirectory: string;
  /** Upgrade packagingVersion 2.0/3.0 packages to 4.0 instead of refusing them. */
  upgrade?: boolean;
}

export async function migrateToFile(opts: MigrateFileOptions): Promise<{ path: string; changes: string[]; notes: string[] }> {
  const { definition, changes, notes } = await migratePackageDirectory(opts.packageDirectory, { upgrade: opts.upgrade });
  const path = join(opts.outputDirectory, `${definition.name}-${definition.version}.json`);
  const temp = `${path}.partial`;
  await writeFile(temp, JSON.stringify(definition, null, 2) + '\n');
  await rename(temp, path);
  return { path, changes, notes };
}
