/**
 * The dcos-registry command. Parses arguments, runs one verb, prints its result (exactly one JSON
 * object on stdout with --json), and turns any failure into one line on stderr and exit code 1.
 * It never prompts and never calls process.exit: the caller sets process.exitCode.
 */
import pkg from '../package.json';
import { RegistryApiError } from '../lib/client/http';
import { parseCommandLine } from './args';
import { readEnvironment } from './env';
import { helpText } from './help';
import { Progress, type ErrStream } from './progress';
import { VERB_TABLE } from './verbs';

interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: ErrStream;
  env: Record<string, string | undefined>;
}

/** One line, whatever the error: its message with newlines folded. */
function describeError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s*\n\s*/g, ' ').trim() || 'unknown error';
}

/**
 * Run as `dcos registry` (no registry URL, DCOS_URL set), a 401 that is not the registry's own JSON error
 * is Admin Router refusing the DC/OS login: missing or expired. Say what to do about it.
 */
function withLoginHint(err: unknown, argv: readonly string[], env: CliIo['env']): unknown {
  if (!(err instanceof RegistryApiError) || err.status !== 401 || err.type !== 'Http401') return err;
  const throughCluster = !!env.DCOS_URL && !env.DCOS_REGISTRY_URL && !argv.some((a) => a === '--url' || a.startsWith('--url='));
  return throughCluster ? new Error(`${err.message}; the DC/OS cluster refused your login: run \`dcos auth login\``) : err;
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const progress = new Progress(io.stderr);
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.kind === 'help') {
      io.stdout.write(helpText(parsed.verb));
      return 0;
    }
    if (parsed.kind === 'version') {
      io.stdout.write(`${pkg.version}\n`);
      return 0;
    }
    const result = await VERB_TABLE[parsed.verb].run({ flags: parsed.flags, env: readEnvironment(io.env), progress });
    progress.clear();
    io.stdout.write(parsed.json ? `${JSON.stringify(result.json)}\n` : result.text.map((l) => `${l}\n`).join(''));
    return 0;
  } catch (err) {
    progress.clear();
    io.stderr.write(`Error: ${describeError(withLoginHint(err, argv, io.env))}\n`);
    return 1;
  }
}

/** Entry point used by bin/dcos-registry.js. */
export async function cli(): Promise<void> {
  process.exitCode = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
}
