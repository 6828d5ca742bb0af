/**
 * Argument parsing: `dcos-registry [registry] <verb> [flags]`, flags as in the original Package
 * Registry CLI (docs/cli.md) plus a few of ours, all read from VERB_TABLE (verbs.ts). node:util
 * parseArgs, strict: an unknown flag or a positional argument is an error, never silently ignored.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors';
import { VERB_TABLE, VERBS, verbFlags, type Verb } from './verbs';

export { UsageError } from './errors';

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs's options for a verb, from its flags in the table. */
function parseOptions(verb: Verb): Options {
  const options: Options = {};
  for (const [name, flag] of verbFlags(verb)) {
    options[name] = { type: flag.type, ...(flag.multiple ? { multiple: true } : {}), ...(flag.short ? { short: flag.short } : {}) };
  }
  return options;
}

export type Parsed =
  | { kind: 'help'; verb?: Verb }
  | { kind: 'version' }
  | { kind: 'verb'; verb: Verb; flags: Record<string, string | boolean | string[] | undefined>; json: boolean };

const isVerb = (word: string | undefined): word is Verb => word !== undefined && Object.hasOwn(VERB_TABLE, word);

export function parseCommandLine(argv: readonly string[]): Parsed {
  const args = [...argv];
  if (args[0] === 'registry') args.shift();
  const first = args[0];
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? args[1] : undefined;
    return { kind: 'help', verb: isVerb(topic) ? topic : undefined };
  }
  if (first === '--version' || first === '-V' || first === 'version') return { kind: 'version' };
  if (!isVerb(first)) {
    throw new UsageError(`unknown command ${JSON.stringify(first)}; commands: ${VERBS.join(', ')}`);
  }
  const verb = first;
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({ args: args.slice(1), options: parseOptions(verb), strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(`${verb}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (values.help) return { kind: 'help', verb };
  for (const [flag, spec] of verbFlags(verb)) {
    if (spec.required && (typeof values[flag] !== 'string' || values[flag] === '')) throw new UsageError(`${verb}: --${flag} is required`);
  }
  return { kind: 'verb', verb, flags: values as Record<string, string | boolean | string[] | undefined>, json: values.json === true };
}
