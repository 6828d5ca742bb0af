import { readdirSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateBuildDefinition } from '../../lib/universe/validate';
import { onlyJson, runCli } from './run-cli';

const ROOT = '/work/shared/universe/packages';
const dirs = readdirSync(ROOT).flatMap((name) => readdirSync(join(ROOT, name)).map((rev) => join(ROOT, name, rev)));

let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'migrate-test-'));
});

describe('dcos-registry migrate on every real package directory', () => {
  it('finds the package directories', () => {
    expect(dirs.length).toBeGreaterThanOrEqual(7);
  });

  for (const dir of dirs) {
    it(dir, async () => {
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
});
