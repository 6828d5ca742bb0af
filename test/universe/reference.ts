/**
 * The Universe reference data beside the clone (shared/universe, see its PROVENANCE.md): real
 * package directories and the official schemas. Read at test time only; never copied into the
 * project. Missing data fails the tests instead of skipping them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

export const UNIVERSE = path.resolve(__dirname, '../../../shared/universe');
export const PACKAGES_DIR = path.join(UNIVERSE, 'packages');
export const SCHEMAS_DIR = path.join(UNIVERSE, 'schemas');

export interface PackageDir {
  name: string;
  revision: number;
  dir: string;
  packagingVersion: string;
}

/** Every <name>/<revision> directory, in a stable order. */
export function packageDirectories(): PackageDir[] {
  const out: PackageDir[] = [];
  for (const name of readdirSync(PACKAGES_DIR).sort()) {
    for (const rev of readdirSync(path.join(PACKAGES_DIR, name)).sort()) {
      const dir = path.join(PACKAGES_DIR, name, rev);
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { packagingVersion: string };
      out.push({ name, revision: Number(rev), dir, packagingVersion: pkg.packagingVersion });
    }
  }
  return out;
}

/**
 * Validators for the official v4/v5 repo index schemas. They are draft-04 style, share their
 * definitions through "vX-repo-definitions.json#/..." refs, and use "format": "uri".
 */
export function officialRepoValidators() {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const load = (file: string) => JSON.parse(readFileSync(path.join(SCHEMAS_DIR, file), 'utf8')) as object;
  ajv.addSchema(load('vX-repo-definitions.json'), 'vX-repo-definitions.json');
  return { v4: ajv.compile(load('v4-repo-schema.json')), v5: ajv.compile(load('v5-repo-schema.json')) };
}
