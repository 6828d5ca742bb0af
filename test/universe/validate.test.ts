import { describe, expect, it } from 'vitest';
import { MAX_ERRORS, validateBuildDefinition, validatePackage } from '../../lib/universe/validate';
import { timeServer } from './time-server';

const template = Buffer.from('{"id": "{{service.name}}"}').toString('base64');
const base = {
  ...timeServer,
  marathon: { v2AppMustacheTemplate: template },
  config: { type: 'object', properties: {} },
  resource: {
    assets: { uris: { jar: 'https://example.com/a.jar' }, container: { docker: { img: 'example/time:1' } } },
    images: { 'icon-small': 'https://example.com/s.png', screenshots: ['https://example.com/1.png'] },
    cli: {
      binaries: {
        linux: {
          'x86-64': { kind: 'executable', url: 'https://example.com/cli', contentHash: [{ algo: 'sha256', value: 'ab'.repeat(32) }] },
        },
      },
    },
  },
};

function errorsOf(entry: unknown): string[] {
  const r = validatePackage(entry);
  if (r.ok) throw new Error('expected the entry to be invalid');
  return r.errors;
}

describe('validatePackage', () => {
  it('accepts a 4.0 entry, with or without releaseVersion and selected, and returns it as is', () => {
    expect(validatePackage(base)).toEqual({ ok: true, entry: base });
    const entry = { ...base, releaseVersion: 3, selected: true };
    const r = validatePackage(entry);
    expect(r.ok && r.entry).toBe(entry);
  });

  it('accepts a 5.0 entry with a manager, and refuses manager in 4.0', () => {
    expect(validatePackage({ ...base, packagingVersion: '5.0', manager: { packageName: 'beta-mke', minPackageVersion: '1.0' } }).ok).toBe(
      true,
    );
    expect(errorsOf({ ...base, manager: { packageName: 'beta-mke' } })).toEqual(['(root): unknown property "manager"']);
    expect(errorsOf({ ...base, packagingVersion: '5.0', manager: {} })).toEqual(["/manager: must have required property 'packageName'"]);
  });

  it('explains bad names', () => {
    for (const name of ['Time-Server', 'time_server', '-time', 'time-', 'a', '1time', 'x'.repeat(65)]) {
      const errors = errorsOf({ ...base, name });
      expect(errors.length, name).toBe(1);
      expect(errors[0], name).toMatch(/^\/name: must/);
    }
    expect(errorsOf({ ...base, name: 'time_server' })[0]).toContain('^[a-z][a-z0-9-]*[a-z0-9]$');
  });

  it('refuses dot-only and otherwise bad versions', () => {
    for (const version of ['.', '..', '...', '1.0/..', '1.0 beta', '', 'v'.repeat(65)]) {
      const errors = errorsOf({ ...base, version });
      expect(errors, version).toHaveLength(1);
      expect(errors[0], version).toMatch(/^\/version: must/);
    }
    expect(errorsOf({ ...base, version: '..' })[0]).toContain('not only of dots');
    for (const version of ['1.0.', '.1', 'v1', '2.4.0-1.1.0', 'a..b']) expect(validatePackage({ ...base, version }).ok, version).toBe(true);
  });

  it('reports missing required fields by name', () => {
    for (const field of ['name', 'version', 'maintainer', 'description', 'tags']) {
      const entry: Record<string, unknown> = { ...base };
      delete entry[field];
      expect(errorsOf(entry)).toEqual([`(root): must have required property '${field}'`]);
    }
  });

  it('reports wrong types with the path to the value', () => {
    expect(errorsOf({ ...base, framework: 'yes' })).toEqual(['/framework: must be boolean']);
    expect(errorsOf({ ...base, tags: 'http' })).toEqual(['/tags: must be array']);
    expect(errorsOf({ ...base, tags: ['has space'] })).toEqual(['/tags/0: a tag must be non-empty and contain no whitespace']);
    expect(errorsOf({ ...base, releaseVersion: '1' })).toEqual(['/releaseVersion: must be integer']);
    expect(errorsOf({ ...base, config: [] })).toEqual(['/config: must be object']);
    expect(errorsOf({ ...base, marathon: { v2AppMustacheTemplate: 'not base64!' } })).toEqual([
      '/marathon/v2AppMustacheTemplate: must be base64-encoded',
    ]);
    expect(errorsOf({ ...base, resource: { ...base.resource, assets: { uris: { jar: 42 } } } })).toEqual([
      '/resource/assets/uris/jar: must be string',
    ]);
    expect(
      errorsOf({
        ...base,
        resource: {
          cli: { binaries: { linux: { 'x86-64': { kind: 'tarball', url: 'u', contentHash: [{ algo: 'sha256', value: 'xyz' }] } } } },
        },
      }),
    ).toEqual([
      '/resource/cli/binaries/linux/x86-64/kind: must be one of "executable", "zip"',
      '/resource/cli/binaries/linux/x86-64/contentHash/0/value: must match pattern "^[a-fA-F0-9]{64}$"',
    ]);
    expect(errorsOf({ ...base, licenses: [{ name: 'MIT', url: 'file:///etc/passwd' }] })).toEqual([
      '/licenses/0/url: must match pattern "^https?://"',
    ]);
  });

  it('names unknown properties', () => {
    expect(errorsOf({ ...base, command: { pip: ['x'] } })).toEqual(['(root): unknown property "command"']);
    expect(errorsOf({ ...base, resource: { assets: { urls: {} } } })).toEqual(['/resource/assets: unknown property "urls"']);
  });

  it('refuses 3.0 and 2.0 with what to change', () => {
    const [v3] = errorsOf({ ...base, packagingVersion: '3.0', command: { pip: [] } });
    expect(v3).toMatch(/^packagingVersion 3\.0 is not supported: .*upgrade to 4\.0/);
    expect(v3).toContain('set "packagingVersion": "4.0"');
    expect(v3).toContain('remove "command"');
    expect(v3).toContain('migrate --upgrade');
    const [v2] = errorsOf({ ...base, packagingVersion: '2.0' });
    expect(v2).toMatch(/^packagingVersion 2\.0 is not supported: .*upgrade to 4\.0/);
    expect(v2).toContain('"version" match');
  });

  it('refuses a missing, mistyped or unknown packagingVersion and non-objects', () => {
    const { packagingVersion: _, ...noPv } = base;
    expect(errorsOf(noPv)[0]).toContain("required property 'packagingVersion'");
    expect(errorsOf({ ...base, packagingVersion: 4 })).toEqual(['/packagingVersion: must be a string, "4.0" or "5.0"']);
    expect(errorsOf({ ...base, packagingVersion: '6.0' })).toEqual(['/packagingVersion: "6.0" is not supported: must be "4.0" or "5.0"']);
    for (const value of [null, [], 'x', 1, undefined]) expect(errorsOf(value)).toEqual(['(root): must be a JSON object']);
  });

  it('reports several problems at once, at most MAX_ERRORS lines', () => {
    const few = errorsOf({ ...base, name: 'X', framework: 1, foo: 1 });
    expect(few).toHaveLength(3);
    const many: Record<string, unknown> = { ...base };
    for (let i = 0; i < 30; i++) many[`extra${i}`] = i;
    const errors = errorsOf(many);
    expect(errors).toHaveLength(MAX_ERRORS);
    expect(errors[MAX_ERRORS - 1]).toBe(`... and ${30 - (MAX_ERRORS - 1)} more problems`);
  });
});

describe('validateBuildDefinition', () => {
  it('accepts 4.0 and 5.0 definitions', () => {
    expect(validateBuildDefinition(base)).toEqual({ ok: true, definition: base });
    expect(validateBuildDefinition({ ...base, packagingVersion: '5.0', manager: { packageName: 'x-y' } }).ok).toBe(true);
  });

  it('refuses releaseVersion and selected, which only repo entries carry', () => {
    expect(validateBuildDefinition({ ...base, releaseVersion: 1 })).toEqual({
      ok: false,
      errors: ['(root): unknown property "releaseVersion"'],
    });
    expect(validateBuildDefinition({ ...base, packagingVersion: '5.0', selected: false })).toEqual({
      ok: false,
      errors: ['(root): unknown property "selected"'],
    });
  });

  it('applies the branch of its packagingVersion only, without "must match then schema" noise', () => {
    expect(validateBuildDefinition({ ...base, manager: { packageName: 'x-y' } })).toEqual({
      ok: false,
      errors: ['(root): unknown property "manager"'],
    });
    expect(validateBuildDefinition({ ...base, name: 'Bad', tags: [1] })).toEqual({
      ok: false,
      errors: [expect.stringMatching(/^\/name: must/), '/tags/0: must be string'],
    });
  });

  it('refuses 3.0 with the upgrade hint', () => {
    const r = validateBuildDefinition({ ...base, packagingVersion: '3.0' });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors[0]).toContain('packagingVersion 3.0 is not supported');
  });
});
