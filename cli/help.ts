/** `--help` text, from VERB_TABLE (verbs.ts). */
import { flagHelp, flagUsage, VERB_TABLE, VERBS, verbFlags, type Verb } from './verbs';

export function helpText(verb?: Verb): string {
  if (verb) {
    const flags = verbFlags(verb).map(([name, flag]) => `  ${flagUsage(name, flag).padEnd(36)} ${flagHelp(flag)}`);
    return [`Usage: dcos-registry [registry] ${verb} [flags]`, '', VERB_TABLE[verb].summary, '', 'Flags:', ...flags, ''].join('\n');
  }
  return [
    'Usage: dcos-registry [registry] <command> [flags]',
    '',
    'Commands:',
    ...VERBS.map((v) => `  ${v.padEnd(9)} ${VERB_TABLE[v].summary}`),
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
