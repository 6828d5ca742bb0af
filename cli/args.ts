/**
 * Argument parsing: `dcos-registry [registry] <verb> [flags]`, flags as in the original Package
 * Registry CLI (docs/cli.md) plus a few of ours. node:util parseArgs, strict: an unknown
 * flag is an error, never silently ignored.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export const VERBS = ['migrate', 'build', 'add', 'describe', 'remove', 'list', 'gc', 'activate', 'export', 'sync', 'mirror'] as const;
export type Verb = (typeof VERBS)[number];

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

const common: Options = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};
// The registry's service name under Admin Router (`<DCOS_URL>/service/<name>/`), as in the original CLI.
const service: Options = { name: { type: 'string' } };
const remote: Options = { url: { type: 'string' }, token: { type: 'string' }, ...service };
const coordinates: Options = { 'package-name': { type: 'string' }, 'package-version': { type: 'string' } };

export const VERB_OPTIONS: Record<Verb, Options> = {
  migrate: {
    ...common,
    ...service,
    'package-directory': { type: 'string' },
    'output-directory': { type: 'string' },
    upgrade: { type: 'boolean' },
    'allow-local-dir': { type: 'string', multiple: true },
  },
  build: {
    ...common,
    ...service,
    'build-definition-file': { type: 'string' },
    'output-directory': { type: 'string' },
    'allow-local-dir': { type: 'string', multiple: true },
    'allow-https-downgrade': { type: 'boolean' },
    'insecure-registry': { type: 'string', multiple: true },
    'docker-config': { type: 'string' },
    'ca-file': { type: 'string' },
  },
  add: { ...common, ...remote, 'dcos-file': { type: 'string' }, concurrency: { type: 'string' } },
  describe: { ...common, ...remote, ...coordinates },
  remove: { ...common, ...remote, ...coordinates },
  list: { ...common, ...remote },
  gc: { ...common, ...remote },
  activate: {
    ...common,
    ...service,
    token: { type: 'string' },
    options: { type: 'string' },
    'package-name': { type: 'string' },
    'repository-name': { type: 'string' },
  },
  export: { ...common, ...remote, ...coordinates, 'output-directory': { type: 'string' } },
  sync: {
    ...common,
    from: { type: 'string' },
    to: { type: 'string' },
    token: { type: 'string' },
    package: { type: 'string', multiple: true },
    delete: { type: 'boolean' },
    'work-directory': { type: 'string' },
  },
  mirror: {
    ...common,
    'repo-url': { type: 'string' },
    package: { type: 'string', multiple: true },
    'all-versions': { type: 'boolean' },
    'output-directory': { type: 'string' },
    upgrade: { type: 'boolean' },
    'allow-https-downgrade': { type: 'boolean' },
    'insecure-registry': { type: 'string', multiple: true },
    'docker-config': { type: 'string' },
    'ca-file': { type: 'string' },
  },
};

export const REQUIRED: Record<Verb, string[]> = {
  migrate: ['package-directory', 'output-directory'],
  build: ['build-definition-file', 'output-directory'],
  add: ['dcos-file'],
  describe: ['package-name', 'package-version'],
  remove: ['package-name', 'package-version'],
  list: [],
  gc: [],
  activate: [],
  export: ['package-name', 'package-version'],
  sync: ['from', 'to'],
  mirror: ['repo-url', 'output-directory'],
};

export type Parsed =
  | { kind: 'help'; verb?: Verb }
  | { kind: 'version' }
  | { kind: 'verb'; verb: Verb; flags: Record<string, string | boolean | string[] | undefined>; json: boolean };

export function parseCommandLine(argv: readonly string[]): Parsed {
  const args = [...argv];
  if (args[0] === 'registry') args.shift();
  const first = args[0];
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? args[1] : undefined;
    return { kind: 'help', verb: (VERBS as readonly string[]).includes(topic ?? '') ? (topic as Verb) : undefined };
  }
  if (first === '--version' || first === '-V' || first === 'version') return { kind: 'version' };
  if (!(VERBS as readonly string[]).includes(first)) {
    throw new UsageError(`unknown command ${JSON.stringify(first)}; commands: ${VERBS.join(', ')}`);
  }
  const verb = first as Verb;
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({ args: args.slice(1), options: VERB_OPTIONS[verb], strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(`${verb}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (values.help) return { kind: 'help', verb };
  for (const flag of REQUIRED[verb]) {
    if (typeof values[flag] !== 'string' || values[flag] === '') throw new UsageError(`${verb}: --${flag} is required`);
  }
  return { kind: 'verb', verb, flags: values as Record<string, string | boolean | string[] | undefined>, json: values.json === true };
}
