import { VERB_OPTIONS, VERBS, type Verb } from './args';

const SUMMARY: Record<Verb, string> = {
  migrate: 'package directory → build definition <name>-<version>.json',
  build: 'build definition → self-contained bundle <name>-<version>.dcos (assets, icons, CLI binaries, Docker images)',
  add: 'upload a bundle (resumable) and wait until the package is Added',
  describe: 'show one package version: status, releaseVersion, sizes, digests',
  remove: 'remove a package version from the catalog (blobs go at the next garbage collection)',
  list: 'list the packages and versions the registry holds',
  gc: 'run garbage collection now',
  activate: 'install the registry on the attached DC/OS cluster and add it as package repository 0',
  export: 'rebuild the bundle <name>-<version>.dcos of a package version from a registry (docs/airgap.md)',
  sync: 'make the --to registry serve every version the --from registry serves (docs/airgap.md)',
  mirror: 'Universe repository index (URL or file) → a build definition and a bundle per package version (docs/airgap.md)',
};

const FLAG_HELP: Record<string, [string, string]> = {
  'package-directory': ['DIR', 'Universe package directory (package.json, config.json, marathon.json.mustache, resource.json)'],
  'output-directory': ['DIR', 'where the output file is written (created when missing)'],
  upgrade: ['', 'upgrade packagingVersion 2.0/3.0 to 4.0 instead of refusing'],
  'build-definition-file': ['FILE', 'the build definition (from migrate)'],
  'allow-local-dir': [
    'DIR',
    "also read local assets from DIR (repeatable); by default only the package directory (migrate) or the build definition's directory (build)",
  ],
  'allow-https-downgrade': ['', 'follow redirects (and Docker token realms) from https to plain http (refused by default)'],
  'insecure-registry': ['HOST[:PORT]', 'speak plain HTTP to this Docker registry (repeatable; loopback always may)'],
  'docker-config': ['FILE', 'Docker config.json with credentials (default $DOCKER_CONFIG/config.json, ~/.docker/config.json)'],
  'ca-file': ['FILE', 'extra CA certificates, PEM (default $NODE_EXTRA_CA_CERTS)'],
  'dcos-file': ['FILE', 'the bundle to upload'],
  concurrency: ['N', 'parallel uploads (default 4)'],
  'package-name': ['NAME', 'package name'],
  'package-version': ['VERSION', 'package version'],
  url: ['URL', 'registry URL (default $DCOS_REGISTRY_URL; as a DC/OS plugin: $DCOS_URL/service/<name>)'],
  token: ['TOKEN', 'write token (default $DCOS_REGISTRY_TOKEN, or the DC/OS login); visible to other users: prefer the variable'],
  json: ['', 'print exactly one JSON object on stdout'],
  name: ['NAME', 'the registry service under Admin Router, as `dcos registry` (default dcos-registry)'],
  help: ['', 'this help'],
  options: ['FILE', 'package options (JSON), as for `dcos package install --options`'],
  'repository-name': ['NAME', 'name of the package repository activate adds (default Registry)'],
  from: ['URL', 'source registry URL (sync)'],
  to: ['URL', 'target registry URL (sync; its write token from --token or $DCOS_REGISTRY_TOKEN)'],
  package: ['NAME', 'only this package (repeatable); mirror: NAME[@VERSION], the newest version by default'],
  delete: ['', 'also remove from the target the versions the source does not have'],
  'repo-url': ['URL|FILE', 'Universe repository index: http(s) URL (Cosmos content negotiation) or a local JSON file'],
  'all-versions': ['', 'every version of each selected package, not only the newest'],
  'work-directory': ['DIR', 'where bundles wait between export and add (default: a per-pair temp folder, kept for resuming)'],
};

export function helpText(verb?: Verb): string {
  if (verb) {
    const flags = Object.keys(VERB_OPTIONS[verb]).map((f) => {
      const [arg, text] = FLAG_HELP[f] ?? ['', ''];
      return `  ${`--${f}${arg ? ` ${arg}` : ''}`.padEnd(36)} ${text}`;
    });
    return [`Usage: dcos-registry [registry] ${verb} [flags]`, '', SUMMARY[verb], '', 'Flags:', ...flags, ''].join('\n');
  }
  return [
    'Usage: dcos-registry [registry] <command> [flags]',
    '',
    'Commands:',
    ...VERBS.map((v) => `  ${v.padEnd(9)} ${SUMMARY[v]}`),
    '',
    'Every command takes --json (one JSON object on stdout; progress and warnings on stderr) and --help.',
    'Environment: DCOS_REGISTRY_URL, DCOS_REGISTRY_TOKEN, HTTP_PROXY, HTTPS_PROXY, NO_PROXY, NODE_EXTRA_CA_CERTS, DOCKER_CONFIG.',
    'As `dcos registry` (a DC/OS CLI plugin) without a registry URL: DCOS_URL, DCOS_ACS_TOKEN, DCOS_TLS_INSECURE, DCOS_TLS_CA_PATH',
    '(set by the DC/OS CLI) reach the registry through Admin Router at $DCOS_URL/service/<--name>/ with your DC/OS login.',
    'Give tokens in the environment, not with --token: a command line is visible to other users of the machine.',
    'Exit code 0 on success, 1 on failure (one-line message on stderr).',
    '',
    'dcos-registry --version prints the version.',
    '',
  ].join('\n');
}
