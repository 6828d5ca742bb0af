import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { validateBuildDefinition } from '../../lib/universe/validate';
import { onPackageSets } from '../support/package-sets';
import type { PackageDir } from '../support/reference';
import { onlyJson, runCli } from './run-cli';

let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'migrate-test-'));
});

/** The executable's migrate on each directory: 4.0/5.0 as they are, 2.0/3.0 refused, then upgraded. */
function migrateTests(dirs: PackageDir[], minimum: number) {
  it('finds the package directories', () => {
    expect(dirs.length).toBeGreaterThanOrEqual(minimum);
  });

  for (const { dir, name, revision } of dirs) {
    it(`${name}/${revision}`, async () => {
      const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
      const old = pkg.packagingVersion === '2.0' || pkg.packagingVersion === '3.0';
      const expected = join(out, `${pkg.name}-${pkg.version}.json`);
      if (old) {
        const refused = await runCli(['migrate', `--package-directory=${dir}`, `--output-directory=${out}`, '--json']);
        expect(refused.code).toBe(1);
        expect(refused.stdout).toBe('');
        expect(refused.stderr).toMatch(/^Error: .*packagingVersion/);
        expect(refused.stderr.split('\n')).toHaveLength(2);
      }
      const r = await runCli([
        'registry',
        'migrate',
        `--package-directory=${dir}`,
        `--output-directory=${out}`,
        '--json',
        ...(old ? ['--upgrade'] : []),
      ]);
      expect(r.code).toBe(0);
      expect(onlyJson(r.stdout)).toEqual({ name: expected });
      const written = JSON.parse(await readFile(expected, 'utf8'));
      const v = validateBuildDefinition(written);
      expect(v.ok ? [] : v.errors).toEqual([]);
      expect(written).not.toHaveProperty('selected');
      expect(written).not.toHaveProperty('releaseVersion');
      expect(written.name).toBe(pkg.name);

      const text = await runCli(['migrate', '--package-directory', dir, '--output-directory', out, ...(old ? ['--upgrade'] : [])]);
      expect(text.stdout).toBe(`Created DC/OS Build Definition ${expected}\n`);
    });
  }
}

onPackageSets(
  {
    fixtures: 'dcos-registry migrate on every package fixture (test/fixtures/universe)',
    reference: 'dcos-registry migrate on every real package directory',
    skipped: 'test/cli/migrate.test.ts (migrate on every real package directory)',
    minimum: { fixtures: 6, reference: 7 },
  },
  migrateTests,
);
