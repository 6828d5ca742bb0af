/**
 * Where the tests find Universe package directories and schemas.
 *
 * - The project's own fixtures (test/fixtures/universe, written for this project) drive every
 *   suite: a fresh clone with nothing beside it runs them all.
 * - Real Universe packages and the official repo schemas are reachable only through
 *   UNIVERSE_REFERENCE_DIR (a directory holding packages/<name>/<revision>/ and schemas/, relative
 *   paths taken from the repository root). The cross-checks that need them run under
 *   `describe.skipIf(!REFERENCE_DIR)` with a title starting with REFERENCE_TITLE, and when the
 *   variable is unset each such file prints one line saying so (referenceSkipped). .ci/run sets it
 *   and fails when those cross-checks did not run.
 *
 * No vitest import here: bench/run.ts reads the same variable through this module.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '../..');
const FIXTURES_DIR = path.join(REPO_ROOT, 'test/fixtures/universe');
export const FIXTURE_PACKAGES_DIR = path.join(FIXTURES_DIR, 'packages');

/** The title prefix of every cross-check against the reference data; .ci/run counts these tests. */
export const REFERENCE_TITLE = 'Universe reference cross-check';

function referenceDir(): string | undefined {
  const raw = process.env.UNIVERSE_REFERENCE_DIR;
  if (!raw) return undefined;
  const dir = path.resolve(REPO_ROOT, raw);
  // Set but wrong is a mistake to report, not a reason to skip.
  for (const sub of ['packages', 'schemas']) {
    if (!existsSync(path.join(dir, sub))) throw new Error(`UNIVERSE_REFERENCE_DIR=${raw}: no ${sub}/ directory in ${dir}`);
  }
  return dir;
}

/** The resolved reference directory, or undefined when UNIVERSE_REFERENCE_DIR is unset. */
export const REFERENCE_DIR = referenceDir();

/**
 * Prints the one line that says a file's cross-checks were skipped (nothing when they run).
 * Call it once per file, next to the `describe.skipIf(!REFERENCE_DIR)` it explains.
 */
export function referenceSkipped(what: string): void {
  if (REFERENCE_DIR) return;
  process.stderr.write(`skipped: ${REFERENCE_TITLE}s of ${what}: UNIVERSE_REFERENCE_DIR is not set (real Universe packages)\n`);
}

export interface PackageDir {
  name: string;
  revision: number;
  dir: string;
  packagingVersion: string;
}

/** Every <name>/<revision> directory under a packages/ root, in a stable order. */
export function packageDirectories(root: string = FIXTURE_PACKAGES_DIR): PackageDir[] {
  const out: PackageDir[] = [];
  for (const name of readdirSync(root).sort()) {
    for (const rev of readdirSync(path.join(root, name)).sort((a, b) => Number(a) - Number(b))) {
      const dir = path.join(root, name, rev);
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { packagingVersion: string };
      out.push({ name, revision: Number(rev), dir, packagingVersion: pkg.packagingVersion });
    }
  }
  return out;
}

/** The reference package directories; only inside a cross-check (REFERENCE_DIR set). */
export function referencePackageDirectories(): PackageDir[] {
  return packageDirectories(path.join(requireReference(), 'packages'));
}

function requireReference(): string {
  if (!REFERENCE_DIR) throw new Error('UNIVERSE_REFERENCE_DIR is not set: call this only inside describe.skipIf(!REFERENCE_DIR)');
  return REFERENCE_DIR;
}

/**
 * Validators for the official v4/v5 repo index schemas (reference data). They are draft-04 style,
 * share their definitions through "vX-repo-definitions.json#/..." refs, and use "format": "uri".
 */
export async function officialRepoValidators() {
  const schemas = path.join(requireReference(), 'schemas');
  // Loaded here, not at the top: the read guard imports this module into every test file.
  const { default: Ajv } = await import('ajv');
  const { default: addFormats } = await import('ajv-formats');
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const load = (file: string) => JSON.parse(readFileSync(path.join(schemas, file), 'utf8')) as object;
  ajv.addSchema(load('vX-repo-definitions.json'), 'vX-repo-definitions.json');
  return { v4: ajv.compile(load('v4-repo-schema.json')), v5: ajv.compile(load('v5-repo-schema.json')) };
}
