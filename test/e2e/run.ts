/**
 * Runs the real `dcos-registry` executable (bin/dcos-registry.js) as a child process with a clean
 * environment, as an operator's script would. `spawnCli` gives the child, for tests that kill it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN } from '../cli/run-cli';

export { onlyJson } from '../cli/run-cli';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  done: Promise<CliResult>;
  stderr(): string;
}

export function spawnCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, stderr: () => stderr };
}

export const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> => spawnCli(args, env).done;

/** Runs a command and fails with its output unless it exits 0. */
export async function cliOk(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const r = await cli(args, env);
  if (r.code !== 0) throw new Error(`dcos-registry ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r;
}

/** The upload id from add's milestone line on stderr. */
export function uploadIdOf(stderr: string): { id: string; resumed: boolean; toSend: number; blobs: number; bytes: string } {
  const m = /(Started|Resuming) upload ([a-z0-9]{26}): (\d+) of (\d+) blobs to send \(([^)]+)\)/.exec(stderr);
  if (!m) throw new Error(`no upload line on stderr: ${stderr}`);
  return { id: m[2], resumed: m[1] === 'Resuming', toSend: Number(m[3]), blobs: Number(m[4]), bytes: m[5] };
}

export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}
