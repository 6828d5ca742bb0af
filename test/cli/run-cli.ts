import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const BIN = join(__dirname, '..', '..', 'bin', 'dcos-registry.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real executable with a clean environment (no DCOS_REGISTRY_* leaking in from the host). */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return collectRun(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env } });
}

/** Spawns `command` (stdin closed) and collects its exit code and output. */
export function collectRun(command: string, args: string[], options: { cwd?: string; env: NodeJS.ProcessEnv }): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** --json contract: stdout is exactly one JSON object and a newline. */
export function onlyJson(stdout: string): Record<string, unknown> {
  const lines = stdout.split('\n');
  if (lines.length !== 2 || lines[1] !== '') throw new Error(`stdout is not exactly one line: ${JSON.stringify(stdout)}`);
  const value = JSON.parse(lines[0]);
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('stdout is not a JSON object');
  return value;
}
