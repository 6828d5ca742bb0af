/**
 * Every verb of the CLI, described once: its summary, its flags (type, placeholder, default, help,
 * required or not) and its handler. Argument parsing (args.ts), `--help` (help.ts), bash completion
 * (completion.ts), the dispatch (main.ts) and the synopsis lines of docs/cli.md (checked by
 * test/cli/verbs.test.ts) are all derived from VERB_TABLE. Adding a verb is one entry here (plus its
 * handler in commands.ts and its `### <verb>` section in docs/cli.md). No verb takes positional
 * arguments: the parser refuses them.
 */
import { exportCommand, mirrorCommand, syncCommand } from './airgap';
import { activate, add, audit, build, describe, gc, list, migrate, remove, type CommandContext, type CommandResult } from './commands';

export interface FlagSpec {
  type: 'string' | 'boolean';
  /** One line of help. */
  help: string;
  /** The value's placeholder in help and docs (string flags only). */
  arg?: string;
  /** What applies when the flag is absent, as help shows it: `(default <default>)`. The handler (or lib/) applies it. */
  default?: string;
  /** Repeatable: the value is a list. */
  multiple?: boolean;
  short?: string;
  /** A usage error when missing or empty. */
  required?: boolean;
}

export interface VerbSpec {
  summary: string;
  flags: Record<string, FlagSpec>;
  run: (ctx: CommandContext) => Promise<CommandResult>;
}

// Flags several verbs share, so their help reads the same everywhere.
const common = {
  json: { type: 'boolean', help: 'print exactly one JSON object on stdout' },
  help: { type: 'boolean', short: 'h', help: 'this help' },
} satisfies Record<string, FlagSpec>;
const token: FlagSpec = {
  type: 'string',
  arg: 'TOKEN',
  help: 'write token (default $DCOS_REGISTRY_TOKEN, or the DC/OS login); visible to other users: prefer the variable',
};
// The registry's service name under Admin Router (`<DCOS_URL>/service/<name>/`), as in the original CLI.
const service = {
  name: { type: 'string', arg: 'NAME', help: 'the registry service under Admin Router, as `dcos registry`', default: 'dcos-registry' },
} satisfies Record<string, FlagSpec>;
const remote = {
  url: { type: 'string', arg: 'URL', help: 'registry URL', default: '$DCOS_REGISTRY_URL; as a DC/OS plugin: $DCOS_URL/service/<name>' },
  token,
  ...service,
} satisfies Record<string, FlagSpec>;
const packageName: FlagSpec = { type: 'string', arg: 'NAME', help: 'package name' };
const packageVersion: FlagSpec = { type: 'string', arg: 'VERSION', help: 'package version' };
const coordinates = {
  'package-name': { ...packageName, required: true },
  'package-version': { ...packageVersion, required: true },
} satisfies Record<string, FlagSpec>;
const outputDirectory: FlagSpec = { type: 'string', arg: 'DIR', help: 'where the output file is written (created when missing)' };
const allowLocalDir: FlagSpec = {
  type: 'string',
  arg: 'DIR',
  multiple: true,
  help: "also read local assets from DIR (repeatable); by default only the package directory (migrate) or the build definition's directory (build)",
};

const network = {
  'allow-https-downgrade': {
    type: 'boolean',
    help: 'follow redirects (and Docker token realms) from https to plain http (refused by default)',
  },
  'insecure-registry': {
    type: 'string',
    arg: 'HOST[:PORT]',
    multiple: true,
    help: 'speak plain HTTP to this Docker registry (repeatable; loopback always may)',
  },
  'docker-config': {
    type: 'string',
    arg: 'FILE',
    help: 'Docker config.json with credentials',
    default: '$DOCKER_CONFIG/config.json, ~/.docker/config.json',
  },
  'ca-file': { type: 'string', arg: 'FILE', help: 'extra CA certificates, PEM', default: '$NODE_EXTRA_CA_CERTS' },
} satisfies Record<string, FlagSpec>;

export const VERB_TABLE = {
  migrate: {
    summary: 'package directory → build definition <name>-<version>.json',
    flags: {
      ...common,
      ...service,
      'package-directory': {
        type: 'string',
        arg: 'DIR',
        required: true,
        help: 'Universe package directory (package.json, config.json, marathon.json.mustache, resource.json)',
      },
      'output-directory': { ...outputDirectory, required: true },
      upgrade: { type: 'boolean', help: 'upgrade packagingVersion 2.0/3.0 to 4.0 instead of refusing' },
      'allow-local-dir': allowLocalDir,
    },
    run: migrate,
  },
  build: {
    summary: 'build definition → self-contained bundle <name>-<version>.dcos (assets, icons, CLI binaries, Docker images)',
    flags: {
      ...common,
      ...service,
      'build-definition-file': { type: 'string', arg: 'FILE', required: true, help: 'the build definition (from migrate)' },
      'output-directory': { ...outputDirectory, required: true },
      'allow-local-dir': allowLocalDir,
      ...network,
    },
    run: build,
  },
  add: {
    summary: 'upload a bundle (resumable) and wait until the package is Added',
    flags: {
      ...common,
      ...remote,
      'dcos-file': { type: 'string', arg: 'FILE', required: true, help: 'the bundle to upload' },
      concurrency: { type: 'string', arg: 'N', help: 'parallel uploads', default: '4' },
    },
    run: add,
  },
  describe: {
    summary: 'show one package version: status, releaseVersion, sizes, digests',
    flags: { ...common, ...remote, ...coordinates },
    run: describe,
  },
  remove: {
    summary: 'remove a package version from the catalog (blobs go at the next garbage collection)',
    flags: { ...common, ...remote, ...coordinates },
    run: remove,
  },
  list: { summary: 'list the packages and versions the registry holds', flags: { ...common, ...remote }, run: list },
  gc: { summary: 'run garbage collection now', flags: { ...common, ...remote }, run: gc },
  audit: {
    summary: 'print the audit log: who wrote what, when, from which instance (writers only)',
    flags: {
      ...common,
      ...remote,
      after: { type: 'string', arg: 'KEY', help: 'start after this record (the key the previous page printed)' },
      limit: { type: 'string', arg: 'N', help: 'most records to print, 1 to 1000', default: '100' },
    },
    run: audit,
  },
  activate: {
    summary: 'install the registry on the attached DC/OS cluster and add it as package repository 0',
    flags: {
      ...common,
      ...service,
      token,
      options: {
        type: 'string',
        arg: 'FILE',
        help: 'package options (JSON), as for `dcos package install --options`; without it, default options after making the service account and its secret',
      },
      'package-name': packageName,
      'repository-name': { type: 'string', arg: 'NAME', help: 'name of the package repository activate adds', default: 'Registry' },
      writers: {
        type: 'string',
        arg: 'UID[,UID...]',
        help: 'DC/OS uids whose login may write (registry.auth.writers; default options only)',
        default: 'the uid of your DC/OS login',
      },
    },
    run: activate,
  },
  export: {
    summary: 'rebuild the bundle <name>-<version>.dcos of a package version from a registry (docs/airgap.md)',
    flags: { ...common, ...remote, ...coordinates, 'output-directory': outputDirectory },
    run: exportCommand,
  },
  sync: {
    summary: 'make the --to registry serve every version the --from registry serves (docs/airgap.md)',
    flags: {
      ...common,
      from: { type: 'string', arg: 'URL', required: true, help: 'source registry URL (sync)' },
      to: {
        type: 'string',
        arg: 'URL',
        required: true,
        help: 'target registry URL (sync; its write token from --token or $DCOS_REGISTRY_TOKEN)',
      },
      token,
      package: { type: 'string', arg: 'NAME', multiple: true, help: 'only this package (repeatable)' },
      delete: { type: 'boolean', help: 'also remove from the target the versions the source does not have' },
      'work-directory': {
        type: 'string',
        arg: 'DIR',
        help: 'where bundles wait between export and add (default: a per-pair temp folder, kept for resuming)',
      },
    },
    run: syncCommand,
  },
  mirror: {
    summary: 'Universe repository index (URL or file) → a build definition and a bundle per package version (docs/airgap.md)',
    flags: {
      ...common,
      'repo-url': {
        type: 'string',
        arg: 'URL|FILE',
        required: true,
        help: 'Universe repository index: http(s) URL (Cosmos content negotiation) or a local JSON file',
      },
      package: {
        type: 'string',
        arg: 'NAME[@VERSION]',
        multiple: true,
        help: 'only this package (repeatable); the newest version unless @VERSION or --all-versions',
      },
      'all-versions': { type: 'boolean', help: 'every version of each selected package, not only the newest' },
      'output-directory': { ...outputDirectory, required: true },
      upgrade: { type: 'boolean', help: 'upgrade packagingVersion 2.0/3.0 to 4.0 instead of refusing' },
      ...network,
    },
    run: mirrorCommand,
  },
} as const satisfies Record<string, VerbSpec>;

export type Verb = keyof typeof VERB_TABLE;
export const VERBS = Object.keys(VERB_TABLE) as Verb[];

/** The flags of a verb, in the order help and completion list them. */
export function verbFlags(verb: Verb): [string, FlagSpec][] {
  return Object.entries(VERB_TABLE[verb].flags as Record<string, FlagSpec>);
}

/** A flag as help shows it: `--name ARG`. */
export function flagUsage(name: string, flag: FlagSpec): string {
  return `--${name}${flag.arg ? ` ${flag.arg}` : ''}`;
}

/** A flag's help line, with its default. */
export function flagHelp(flag: FlagSpec): string {
  return flag.default === undefined ? flag.help : `${flag.help} (default ${flag.default})`;
}

/** The verb's synopsis as docs/cli.md shows it: every flag but --json and --help, the required ones first. */
export function synopsis(verb: Verb): string {
  const shown = verbFlags(verb).filter(([name]) => name !== 'json' && name !== 'help');
  return [...shown.filter(([, f]) => f.required), ...shown.filter(([, f]) => !f.required)]
    .map(([name, flag]) => {
      const text = `--${name}${flag.type === 'string' ? `=${flag.arg ?? 'VALUE'}` : ''}`;
      return `${flag.required ? text : `[${text}]`}${flag.multiple ? '...' : ''}`;
    })
    .join(' ');
}
