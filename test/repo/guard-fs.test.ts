/**
 * The read guard (test/support/guard-fs.ts, a setup file of every test) is installed and sees what
 * it must: a read outside the repository is recorded with its call and caller; reads inside the
 * repository, the temp directory and node_modules are not.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAllowed, takeViolations } from '../support/guard-fs';
import { REPO_ROOT } from '../support/reference';

// Beside the repository, where a neighbouring checkout would be: never part of a fresh clone.
const BESIDE = path.resolve(REPO_ROOT, '..', 'guard-fs-probe-not-there');

describe.skipIf(process.env.REGISTRY_TEST_GUARD_FS === '0')('fs read guard', () => {
  it('records reads beside the repository, by any of the guarded calls, with the caller', async () => {
    expect(existsSync(BESIDE)).toBe(false);
    expect(() => statSync(path.join(BESIDE, 'x'))).toThrow();
    await expect(readFile(path.join(BESIDE, 'package.json'))).rejects.toThrow();
    await expect(readdir(BESIDE)).rejects.toThrow();
    const seen = takeViolations();
    expect(seen.map((v) => [v.call, v.path])).toEqual([
      ['fs.existsSync', BESIDE],
      ['fs.statSync', path.join(BESIDE, 'x')],
      ['fs.promises.readFile', path.join(BESIDE, 'package.json')],
      ['fs.promises.readdir', BESIDE],
    ]);
    expect(seen[0].at).toContain('guard-fs.test.ts');
  });

  it('lets the repository, node_modules, the temp directory and relative paths through', () => {
    readFileSync(path.join(REPO_ROOT, 'package.json'));
    readFileSync(path.join(REPO_ROOT, 'node_modules/ajv/package.json'));
    existsSync(path.join(tmpdir(), 'guard-fs-probe'));
    existsSync('package.json');
    expect(takeViolations()).toEqual([]);
  });

  it('allows the system files Node needs and nothing else of the machine', () => {
    expect(isAllowed('/etc/ssl/certs/ca-certificates.crt')).toBe(true);
    expect(isAllowed('/dev/null')).toBe(true);
    expect(isAllowed(`/proc/${process.pid}/status`)).toBe(true);
    expect(isAllowed('/etc/passwd')).toBe(false);
    expect(isAllowed('/proc/1/environ')).toBe(false);
    expect(isAllowed(`${REPO_ROOT}-other/x`)).toBe(false);
  });
});
