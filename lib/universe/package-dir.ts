/**
 * Universe package directory → build definition (what `dcos-registry migrate` does).
 *
 * A Universe package directory holds package.json (required), marathon.json.mustache,
 * config.json, resource.json and, before 4.0, command.json (all optional, as in Cosmos). The
 * build definition is package.json with `selected` and `releaseVersion` dropped (the registry
 * assigns releaseVersion; `selected` is a catalog curation flag) and the other files inlined:
 * the template as base64 under marathon.v2AppMustacheTemplate, config and resource as JSON.
 * Every other field passes through unchanged.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BadRequestError } from '../errors';
import type { BuildDefinition, BuildDefinitionV4 } from './types';
import { unsupportedPackagingVersionMessage, validateBuildDefinition } from './validate';

const PACKAGE_FILES = {
  package: 'package.json',
  marathon: 'marathon.json.mustache',
  config: 'config.json',
  resource: 'resource.json',
  command: 'command.json',
} as const;

/** Fields of package.json that a build definition does not carry. */
const DROPPED_FIELDS = ['selected', 'releaseVersion'] as const;

export interface MigrateOptions {
  /** Upgrade packagingVersion 2.0/3.0 to 4.0 (upgradeToV4) instead of refusing it. */
  upgrade?: boolean;
}

export interface MigrateResult {
  definition: BuildDefinition;
  /** What upgradeToV4 changed; empty when no upgrade was needed. */
  changes: string[];
  /** Things the author may want to act on after an upgrade; nothing was changed for them. */
  notes: string[];
}

export interface UpgradeResult {
  /** Not validated: validate with validateBuildDefinition. */
  definition: Record<string, unknown>;
  changes: string[];
  notes: string[];
}

/** Reads and validates a package directory; refuses packagingVersion below 4.0. */
export async function readPackageDirectory(dir: string): Promise<BuildDefinition> {
  return (await migratePackageDirectory(dir)).definition;
}

/** readPackageDirectory, optionally upgrading 2.0/3.0 packages, with the list of changes made. */
export async function migratePackageDirectory(dir: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  let raw = await assemblePackageDirectory(dir);
  const pv = raw.packagingVersion;
  let changes: string[] = [];
  let notes: string[] = [];
  if (pv === '2.0' || pv === '3.0') {
    if (!options.upgrade) {
      throw new BadRequestError(
        `${path.join(dir, PACKAGE_FILES.package)}: ${unsupportedPackagingVersionMessage(pv)}`,
        {
          packagingVersion: pv,
        },
        'UnsupportedPackagingVersion',
      );
    }
    ({ definition: raw, changes, notes } = upgradeToV4(raw));
  } else if (raw.command !== undefined) {
    throw new BadRequestError(
      `${path.join(dir, PACKAGE_FILES.command)}: packagingVersion ${String(pv)} has no command section: ` +
        'remove command.json and ship the CLI as binaries under resource.cli.binaries',
      undefined,
      'InvalidPackageDirectory',
    );
  }
  const result = validateBuildDefinition(raw);
  if (!result.ok) {
    throw new BadRequestError(`invalid package in ${dir}: ${result.errors.join('; ')}`, { errors: result.errors }, 'InvalidPackage');
  }
  return { definition: result.definition, changes, notes };
}

/**
 * The unvalidated build definition of a package directory, whatever its packagingVersion:
 * package.json minus selected/releaseVersion, plus the inlined files that exist.
 */
export async function assemblePackageDirectory(dir: string): Promise<Record<string, unknown>> {
  const pkgText = await readText(dir, PACKAGE_FILES.package);
  if (pkgText === undefined) {
    throw new BadRequestError(
      `${path.join(dir, PACKAGE_FILES.package)} not found: not a Universe package directory`,
      undefined,
      'InvalidPackageDirectory',
    );
  }
  const pkg = parseObject(dir, PACKAGE_FILES.package, pkgText);
  const definition: Record<string, unknown> = { ...pkg };
  for (const field of DROPPED_FIELDS) delete definition[field];

  const template = await readBytes(dir, PACKAGE_FILES.marathon);
  if (template !== undefined) {
    if (template.length === 0) throw fileError(dir, PACKAGE_FILES.marathon, 'is empty');
    inline(definition, dir, 'marathon', PACKAGE_FILES.marathon, { v2AppMustacheTemplate: template.toString('base64') });
  }
  for (const [field, file] of [
    ['config', PACKAGE_FILES.config],
    ['resource', PACKAGE_FILES.resource],
    ['command', PACKAGE_FILES.command],
  ] as const) {
    const text = await readText(dir, file);
    if (text !== undefined) inline(definition, dir, field, file, parseObject(dir, file, text));
  }
  return definition;
}

/**
 * Upgrades a 2.0 or 3.0 build definition to 4.0: sets packagingVersion and removes `command`,
 * which 4.0 does not have (Cosmos installs a package's CLI from resource.cli.binaries instead).
 * The resource, marathon and config formats are the same in 3.0 and 4.0; 2.0's resource is a
 * subset. 4.0 and 5.0 definitions come back unchanged. The input is not modified.
 */
export function upgradeToV4(definition: Record<string, unknown>): UpgradeResult {
  const pv = definition.packagingVersion;
  if (pv === '4.0' || pv === '5.0') return { definition, changes: [], notes: [] };
  if (pv !== '2.0' && pv !== '3.0') {
    throw new BadRequestError(
      `cannot upgrade packagingVersion ${JSON.stringify(pv)}: only 2.0 and 3.0 upgrade to 4.0`,
      undefined,
      'UnsupportedPackagingVersion',
    );
  }
  const upgraded: Record<string, unknown> = { ...definition, packagingVersion: '4.0' satisfies BuildDefinitionV4['packagingVersion'] };
  const changes = [`packagingVersion: "${pv}" → "4.0"`];
  const notes: string[] = [];
  if ('command' in upgraded) {
    delete upgraded.command;
    const resource = upgraded.resource as { cli?: unknown } | undefined;
    changes.push(
      'removed "command" (a pip requirements list for the package CLI): 4.0 has no command section' +
        (resource?.cli ? '; resource.cli.binaries already provides the CLI' : ''),
    );
    if (!resource?.cli) notes.push('the package no longer installs a CLI subcommand: add resource.cli.binaries to ship one');
  }
  if (upgraded.upgradesFrom === undefined && upgraded.downgradesTo === undefined) {
    notes.push('upgradesFrom/downgradesTo are not set: DC/OS will not upgrade installed services to or from this version in place');
  }
  return { definition: upgraded, changes, notes };
}

function inline(definition: Record<string, unknown>, dir: string, field: string, file: string, value: unknown): void {
  if (field in definition) {
    throw fileError(dir, PACKAGE_FILES.package, `has a "${field}" field and ${file} exists too: keep only one of them`);
  }
  definition[field] = value;
}

function parseObject(dir: string, file: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw fileError(dir, file, `is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fileError(dir, file, 'must hold a JSON object');
  return value as Record<string, unknown>;
}

function fileError(dir: string, file: string, problem: string): BadRequestError {
  return new BadRequestError(`${path.join(dir, file)} ${problem}`, { file }, 'InvalidPackageDirectory');
}

async function readBytes(dir: string, file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path.join(dir, file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR' && file === PACKAGE_FILES.package) return undefined;
    throw fileError(dir, file, `cannot be read: ${(e as Error).message}`);
  }
}

async function readText(dir: string, file: string): Promise<string | undefined> {
  const bytes = await readBytes(dir, file);
  // Strip a UTF-8 byte order mark: some editors write one and JSON.parse rejects it.
  return bytes === undefined ? undefined : bytes.toString('utf8').replace(/^\uFEFF/, '');
}
