/**
 * No machine paths in the tree: a path of one machine (a home directory, a work folder) in a
 * tracked file breaks the fresh clone elsewhere. Lists every offending file:line.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../support/reference';

// Built from parts so that this file does not match itself.
const MACHINE_DIRS = ['work', 'root', 'home'].map((d) => `/${d}/`);
const PATTERN = new RegExp(`(^|[^\\w.~-])(${MACHINE_DIRS.map((d) => d.replace(/\//g, '\\/')).join('|')})`);

/** Lines where such a path is an example value, not a place on a machine: [file, text on the line]. */
const EXAMPLES: Array<[string, string]> = [
  // defaultDockerConfigPath is computed from a given HOME: the test passes made-up homes.
  ['test/docker/auth-parsing.test.ts', `HOME: '${MACHINE_DIRS[2]}u'`],
];

/** This file names the patterns it looks for. */
const SELF = 'test/repo/machine-paths.test.ts';

function trackedFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return out.split('\0').filter(Boolean);
}

it(`no tracked file names a machine path (${MACHINE_DIRS.join(', ')})`, () => {
  const files = trackedFiles();
  expect(files.length).toBeGreaterThan(100);
  expect(files).toContain(SELF);
  const found: string[] = [];
  for (const file of files) {
    if (file === SELF) continue;
    const full = path.join(REPO_ROOT, file);
    if (!lstatSync(full, { throwIfNoEntry: false })?.isFile()) continue; // symlinks, deleted files
    const bytes = readFileSync(full);
    if (bytes.includes(0)) continue; // binary
    const lines = bytes.toString('utf8').split('\n');
    for (const [i, line] of lines.entries()) {
      if (!PATTERN.test(line)) continue;
      if (EXAMPLES.some(([f, text]) => f === file && line.includes(text))) continue;
      found.push(`${file}:${i + 1}: ${line.trim().slice(0, 160)}`);
    }
  }
  expect(found).toEqual([]);
});

it('the check finds a machine path where one is written', () => {
  expect(PATTERN.test(`const ROOT = '${MACHINE_DIRS[0]}shared/universe/packages';`)).toBe(true);
  expect(PATTERN.test(`cd ${MACHINE_DIRS[2]}someone/src`)).toBe(true);
  expect(PATTERN.test("path.join(os.tmpdir(), 'x')")).toBe(false);
  expect(PATTERN.test(`https://example.com${MACHINE_DIRS[2]}index.html`)).toBe(false);
});
