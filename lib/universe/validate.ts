/**
 * Validation of Universe package metadata with the precompiled validators in ./generated
 * (see scripts/compile-schemas.ts). The packaging version picks the schema, so a 5.0 package
 * gets 5.0 messages instead of a oneOf's "must match exactly one schema"; versions this
 * registry does not take (2.0, 3.0) get a message that says how to upgrade.
 */
import type { ErrorObject } from 'ajv';
import validatePackageV4 from './generated/package-v4';
import validatePackageV5 from './generated/package-v5';
import validateBuildDefinitionSchema from './generated/build-definition';
import type { BuildDefinition, PackageEntry } from './types';

const SUPPORTED_PACKAGING_VERSIONS = ['4.0', '5.0'] as const;
/** A long list of schema errors hides the first, usually the real, one. */
export const MAX_ERRORS = 10;

/**
 * Bounds on JSON a client or a package author sends, checked before any validator or
 * recursive walk (ajv, canonical JSON) sees it: a 100,000-deep object overflows their stacks.
 * Universe packages nest about a dozen levels. Strings may be as long as a request body
 * (5 MiB; metadata of several MB is legitimate and tested); the bound is for callers that
 * are not behind the body limit (in-process, build definitions).
 */
export const JSON_LIMITS = Object.freeze({ depth: 64, stringLength: 5 * 1024 * 1024, arrayLength: 100_000, objectKeys: 10_000 });

/**
 * The first way `value` breaks the bounds, as "<path>: <problem>", or undefined. Iterative,
 * so it cannot overflow the stack itself.
 */
export function jsonBoundsProblem(value: unknown, limits: typeof JSON_LIMITS = JSON_LIMITS): string | undefined {
  type Node = { value: unknown; depth: number; parent?: Node; key?: string | number };
  const where = (n: Node): string => {
    const keys: Array<string | number> = [];
    for (let at: Node | undefined = n; at?.parent; at = at.parent) keys.push(at.key!);
    return keys.length ? `/${keys.reverse().join('/')}`.slice(0, 200) : '(root)';
  };
  const stack: Node[] = [{ value, depth: 0 }];
  while (stack.length) {
    const node = stack.pop()!;
    const v = node.value;
    if (typeof v === 'string') {
      if (v.length > limits.stringLength) return `${where(node)}: a string of ${v.length} characters is longer than ${limits.stringLength}`;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (node.depth >= limits.depth) return `${where(node)}: nests deeper than ${limits.depth} levels`;
    if (Array.isArray(v)) {
      if (v.length > limits.arrayLength) return `${where(node)}: an array of ${v.length} items is longer than ${limits.arrayLength}`;
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth: node.depth + 1, parent: node, key: i });
      continue;
    }
    const keys = Object.keys(v);
    if (keys.length > limits.objectKeys) return `${where(node)}: an object with ${keys.length} keys has more than ${limits.objectKeys}`;
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i];
      if (k.length > limits.stringLength) return `${where(node)}: a key of ${k.length} characters is longer than ${limits.stringLength}`;
      stack.push({ value: (v as Record<string, unknown>)[k], depth: node.depth + 1, parent: node, key: k });
    }
  }
  return undefined;
}

export type PackageValidation = { ok: true; entry: PackageEntry } | { ok: false; errors: string[] };
export type BuildDefinitionValidation = { ok: true; definition: BuildDefinition } | { ok: false; errors: string[] };

type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

/** A repo index entry (releaseVersion optional, selected allowed), packagingVersion 4.0 or 5.0. */
export function validatePackage(entry: unknown): PackageValidation {
  const problem = jsonBoundsProblem(entry) ?? packagingVersionProblem(entry);
  if (problem) return { ok: false, errors: [problem] };
  const validate = (entry as { packagingVersion: string }).packagingVersion === '4.0' ? validatePackageV4 : validatePackageV5;
  const errors = run(validate, entry);
  return errors ? { ok: false, errors } : { ok: true, entry: entry as PackageEntry };
}

/** A build definition: a repo entry without releaseVersion and selected. */
export function validateBuildDefinition(definition: unknown): BuildDefinitionValidation {
  const problem = jsonBoundsProblem(definition) ?? packagingVersionProblem(definition);
  if (problem) return { ok: false, errors: [problem] };
  const errors = run(validateBuildDefinitionSchema, definition);
  return errors ? { ok: false, errors } : { ok: true, definition: definition as BuildDefinition };
}

/**
 * What a 2.0/3.0 package must change to become 4.0. Shared with package-dir.ts so that the
 * CLI's migrate and the registry's add say the same thing.
 */
export function unsupportedPackagingVersionMessage(packagingVersion: string): string {
  const steps = [
    'set "packagingVersion": "4.0"',
    'remove "command" (4.0 has no pip command; ship CLI binaries under resource.cli.binaries)',
  ];
  if (packagingVersion === '2.0') steps.push('make "version" match ^[-a-zA-Z0-9.]+$');
  return (
    `packagingVersion ${packagingVersion} is not supported: this registry accepts 4.0 and 5.0; ` +
    `upgrade to 4.0: ${steps.join(', ')}; \`dcos-registry migrate --upgrade\` does this for a package directory`
  );
}

function packagingVersionProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return '(root): must be a JSON object';
  const pv = (value as Record<string, unknown>).packagingVersion;
  if (pv === undefined) return '(root): must have required property \'packagingVersion\' ("4.0" or "5.0")';
  if (typeof pv !== 'string') return '/packagingVersion: must be a string, "4.0" or "5.0"';
  if ((SUPPORTED_PACKAGING_VERSIONS as readonly string[]).includes(pv)) return undefined;
  if (pv === '2.0' || pv === '3.0') return unsupportedPackagingVersionMessage(pv);
  return `/packagingVersion: ${JSON.stringify(pv)} is not supported: must be "4.0" or "5.0"`;
}

function run(validate: Validator, data: unknown): string[] | undefined {
  if (validate(data)) return undefined;
  const messages: string[] = [];
  for (const error of validate.errors ?? []) {
    // "must match then schema" only repeats the errors found inside the branch.
    if (error.keyword === 'if') continue;
    const message = formatError(error);
    if (!messages.includes(message)) messages.push(message);
  }
  if (messages.length === 0) messages.push('(root): does not match the schema');
  if (messages.length <= MAX_ERRORS) return messages;
  return [...messages.slice(0, MAX_ERRORS - 1), `... and ${messages.length - (MAX_ERRORS - 1)} more problems`];
}

function formatError(error: ErrorObject): string {
  const where = error.instancePath || '(root)';
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return `${where}: unknown property "${String(params.additionalProperty)}"`;
    case 'unevaluatedProperties':
      return `${where}: unknown property "${String(params.unevaluatedProperty)}"`;
    case 'enum':
      return `${where}: must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `${where}: must be ${JSON.stringify(params.allowedValue)}`;
    case 'pattern':
      if (error.schemaPath.endsWith('/packageName/pattern')) {
        return `${where}: must be lowercase letters, digits and hyphens, start with a letter and end with a letter or digit (^[a-z][a-z0-9-]*[a-z0-9]$)`;
      }
      if (error.schemaPath.endsWith('/packageVersion/pattern')) {
        return `${where}: must consist of letters, digits, "-" and "." (^[-a-zA-Z0-9.]+$) and not only of dots`;
      }
      if (error.schemaPath.endsWith('/base64String/pattern')) return `${where}: must be base64-encoded`;
      if (error.schemaPath.endsWith('/tags/items/pattern')) return `${where}: a tag must be non-empty and contain no whitespace`;
      return `${where}: ${error.message ?? 'is invalid'}`;
    default:
      return `${where}: ${error.message ?? 'is invalid'}`;
  }
}
