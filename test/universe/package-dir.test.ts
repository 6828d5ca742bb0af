import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BadRequestError } from '../../lib/errors';
import { assemblePackageDirectory, migratePackageDirectory, readPackageDirectory, upgradeToV4 } from '../../lib/universe/package-dir';
import { FIXTURE_PACKAGES_DIR } from '../support/reference';
import { timeServer } from './time-server';

const tmpRoot = mkdtempSync(path.join(tmpdir(), 'universe-pkgdir-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

let counter = 0;
/** A package directory with the given files (string content, written as is). */
function makeDir(files: Record<string, string>): string {
  const dir = path.join(tmpRoot, String(counter++));
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const pkg = {
  ...timeServer,
  selected: true,
  releaseVersion: 7,
  framework: false,
  lastUpdated: 1534278059,
  upgradesFrom: ['*'],
};
const template = '{\n  "id": "{{service.name}}",\n  "cmd": "echo ✓ {{resource.assets.uris.jar}}"\n}\n';
const config = { type: 'object', properties: { service: { type: 'object', properties: { name: { type: 'string', default: 'ts' } } } } };
const resource = { assets: { uris: { jar: 'https://example.com/a.jar' } } };
const fullFiles = () => ({
  'package.json': JSON.stringify(pkg),
  'marathon.json.mustache': template,
  'config.json': JSON.stringify(config),
  'resource.json': JSON.stringify(resource),
});

async function rejection(p: Promise<unknown>): Promise<BadRequestError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BadRequestError);
  return e as BadRequestError;
}

describe('readPackageDirectory', () => {
  it('inlines the files, drops selected and releaseVersion, keeps every other field unchanged', async () => {
    const def = await readPackageDirectory(makeDir(fullFiles()));
    const { selected: _s, releaseVersion: _r, ...kept } = pkg;
    expect(def).toEqual({ ...kept, marathon: { v2AppMustacheTemplate: expect.any(String) }, config, resource });
    expect(Buffer.from(def.marathon!.v2AppMustacheTemplate, 'base64').toString('utf8')).toBe(template);
  });

  it('encodes the template bytes exactly, as a full package fixture shows', async () => {
    const dir = path.join(FIXTURE_PACKAGES_DIR, 'greeter/3');
    const def = await readPackageDirectory(dir);
    expect(Buffer.from(def.marathon!.v2AppMustacheTemplate, 'base64')).toEqual(readFileSync(path.join(dir, 'marathon.json.mustache')));
    expect(def.resource).toEqual(JSON.parse(readFileSync(path.join(dir, 'resource.json'), 'utf8')));
    expect(def.config).toEqual(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')));
  });

  it('is deterministic', async () => {
    const dir = makeDir(fullFiles());
    expect(JSON.stringify(await readPackageDirectory(dir))).toBe(JSON.stringify(await readPackageDirectory(dir)));
  });

  it('treats every file but package.json as optional, as Cosmos does', async () => {
    const def = await readPackageDirectory(makeDir({ 'package.json': JSON.stringify(pkg) }));
    expect(def).not.toHaveProperty('marathon');
    expect(def).not.toHaveProperty('config');
    expect(def).not.toHaveProperty('resource');
  });

  it('says when package.json or the directory is missing', async () => {
    const e = await rejection(readPackageDirectory(makeDir({ 'config.json': '{}' })));
    expect(e.message).toMatch(/package\.json not found: not a Universe package directory$/);
    expect(e.type).toBe('InvalidPackageDirectory');
    expect((await rejection(readPackageDirectory(path.join(tmpRoot, 'nope')))).message).toContain('package.json not found');
  });

  it.each(['package.json', 'config.json', 'resource.json'])('names %s when it is not valid JSON', async (file) => {
    const dir = makeDir({ ...fullFiles(), [file]: '{"a": 1,' });
    const e = await rejection(readPackageDirectory(dir));
    expect(e.message).toContain(path.join(dir, file));
    expect(e.message).toContain('is not valid JSON');
    expect(e.data).toEqual({ file });
  });

  it('names a file that holds JSON but not an object', async () => {
    const e = await rejection(readPackageDirectory(makeDir({ ...fullFiles(), 'resource.json': '[]' })));
    expect(e.message).toMatch(/resource\.json must hold a JSON object$/);
  });

  it('accepts a UTF-8 byte order mark', async () => {
    expect((await readPackageDirectory(makeDir({ ...fullFiles(), 'config.json': '\uFEFF' + JSON.stringify(config) }))).config).toEqual(
      config,
    );
  });

  it('refuses an empty template and a field given twice', async () => {
    expect((await rejection(readPackageDirectory(makeDir({ ...fullFiles(), 'marathon.json.mustache': '' })))).message).toMatch(
      /marathon\.json\.mustache is empty$/,
    );
    const twice = makeDir({ ...fullFiles(), 'package.json': JSON.stringify({ ...pkg, config: {} }) });
    expect((await rejection(readPackageDirectory(twice))).message).toContain('has a "config" field and config.json exists too');
  });

  it('reports schema errors with the directory', async () => {
    const dir = makeDir({ ...fullFiles(), 'package.json': JSON.stringify({ ...pkg, name: 'Time_Server', tags: 'x' }) });
    const e = await rejection(readPackageDirectory(dir));
    expect(e.type).toBe('InvalidPackage');
    expect(e.message).toContain(`invalid package in ${dir}: /name: must`);
    expect(e.data?.errors).toEqual([expect.stringMatching(/^\/name: must/), '/tags: must be array']);
  });

  it('refuses command.json in a 4.0 package with what to do', async () => {
    const e = await rejection(readPackageDirectory(makeDir({ ...fullFiles(), 'command.json': '{"pip": []}' })));
    expect(e.message).toContain('command.json: packagingVersion 4.0 has no command section');
    expect(e.message).toContain('resource.cli.binaries');
  });

  it.each(['2.0', '3.0'])('refuses packagingVersion %s naming what to change', async (pv) => {
    const dir = makeDir({ ...fullFiles(), 'package.json': JSON.stringify({ ...pkg, packagingVersion: pv }) });
    const e = await rejection(readPackageDirectory(dir));
    expect(e.type).toBe('UnsupportedPackagingVersion');
    expect(e.message).toContain(`packagingVersion ${pv} is not supported`);
    expect(e.message).toContain('set "packagingVersion": "4.0"');
    expect(e.message).toContain('migrate --upgrade');
  });
});

describe('upgradeToV4', () => {
  it('upgrades the 3.0 package fixture: packagingVersion, command removed, nothing else touched', async () => {
    const dir = path.join(FIXTURE_PACKAGES_DIR, 'greeter/0');
    const raw = await assemblePackageDirectory(dir);
    expect(raw.packagingVersion).toBe('3.0');
    expect(raw.command).toBeDefined();
    const before = structuredClone(raw);
    const { definition, changes, notes } = upgradeToV4(raw);
    expect(raw).toEqual(before); // input not modified
    const { command: _c, ...rest } = before;
    expect(definition).toEqual({ ...rest, packagingVersion: '4.0' });
    expect(changes).toEqual([
      'packagingVersion: "3.0" → "4.0"',
      'removed "command" (a pip requirements list for the package CLI): 4.0 has no command section; resource.cli.binaries already provides the CLI',
    ]);
    expect(notes).toEqual([expect.stringContaining('upgradesFrom/downgradesTo are not set')]);
  });

  it('upgrades the 2.0 package fixture through migratePackageDirectory', async () => {
    const { definition, changes } = await migratePackageDirectory(path.join(FIXTURE_PACKAGES_DIR, 'clockwork/0'), { upgrade: true });
    expect(definition.packagingVersion).toBe('4.0');
    expect(definition.name).toBe('clockwork');
    expect(changes).toEqual(['packagingVersion: "2.0" → "4.0"']);
  });

  it('notes a lost CLI when command goes and no binaries replace it', () => {
    const { changes, notes } = upgradeToV4({ ...pkg, packagingVersion: '3.0', command: { pip: ['x'] } });
    expect(changes[1]).toBe('removed "command" (a pip requirements list for the package CLI): 4.0 has no command section');
    expect(notes).toContain('the package no longer installs a CLI subcommand: add resource.cli.binaries to ship one');
    expect(notes.some((n) => n.includes('upgradesFrom'))).toBe(false); // pkg sets upgradesFrom
  });

  it('leaves 4.0 and 5.0 alone and refuses anything else', () => {
    const v4 = { ...pkg };
    expect(upgradeToV4(v4)).toEqual({ definition: v4, changes: [], notes: [] });
    expect(upgradeToV4({ ...pkg, packagingVersion: '5.0' }).changes).toEqual([]);
    expect(() => upgradeToV4({ ...pkg, packagingVersion: '1.0' })).toThrow('cannot upgrade packagingVersion "1.0"');
    expect(() => upgradeToV4({ name: 'x' })).toThrow(BadRequestError);
  });

  it('still validates after upgrading: a 2.0 version the 4.0 pattern refuses is reported', async () => {
    const dir = makeDir({ ...fullFiles(), 'package.json': JSON.stringify({ ...pkg, packagingVersion: '2.0', version: '1.0 final' }) });
    const e = await rejection(migratePackageDirectory(dir, { upgrade: true }));
    expect(e.message).toMatch(/\/version: must/);
  });
});
