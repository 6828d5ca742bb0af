/**
 * One set of tests run on both sets of Universe package directories: the project's fixtures
 * (test/fixtures/universe, always) and, as a Universe reference cross-check, the real packages
 * under UNIVERSE_REFERENCE_DIR (one line says they were skipped when it is unset; reference.ts).
 * Each suite that checks every package directory declares itself through this, so none forgets
 * the skipped line or the title that .ci/run counts.
 */
import { describe } from 'vitest';
import {
  type PackageDir,
  packageDirectories,
  REFERENCE_DIR,
  REFERENCE_TITLE,
  referencePackageDirectories,
  referenceSkipped,
} from './reference';

export interface PackageSets {
  /** Title of the suite over the fixtures. */
  fixtures: string;
  /** Title of the cross-check over the real packages (after REFERENCE_TITLE). */
  reference: string;
  /** What the skipped line names when UNIVERSE_REFERENCE_DIR is unset. */
  skipped: string;
  /** The least the tests must find in each set (they assert it). */
  minimum: { fixtures: number; reference: number };
}

export function onPackageSets(sets: PackageSets, tests: (dirs: PackageDir[], minimum: number) => void): void {
  describe(sets.fixtures, () => tests(packageDirectories(), sets.minimum.fixtures));
  referenceSkipped(sets.skipped);
  describe.skipIf(!REFERENCE_DIR)(`${REFERENCE_TITLE}: ${sets.reference}`, () => {
    tests(REFERENCE_DIR ? referencePackageDirectories() : [], sets.minimum.reference);
  });
}
