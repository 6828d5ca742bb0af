/**
 * Starts the production server the way operators run it: the esbuild bundle (built once
 * per test file into a temp dir) under plain node, as a child process with the registry's
 * environment and the server's flags. Waits for the "listening on" line on its stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildServer } from '../../server/build';
import { registryProcessEnv } from '../support/offline';

let bundle: Promise<string> | undefined;
/** dist/server.js equivalent, built from the current sources once per test file. */
export function serverBundle(): Promise<string> {
  return (bundle ??= mkdtemp(path.join(os.tmpdir(), 'registry-server-')).then((dir) => buildServer(path.join(dir, 'server.js'))));
}

export interface ServerProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Every log line so far (JSON lines on stderr, parsed). */
  logs(): Array<Record<string, any>>;
  output(): string;
  /** Send a signal and wait for the exit code. */
  signal(sig: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  flags?: string[];
  port?: number;
  scheme?: 'http' | 'https';
}

export async function startServer(opts: StartOptions = {}): Promise<ServerProcess> {
  const file = await serverBundle();
  let out = '';
  const child = spawn(
    process.execPath,
    ['--enable-source-maps', file, '--host', '127.0.0.1', '--port', String(opts.port ?? 0), ...(opts.flags ?? [])],
    { env: { ...registryProcessEnv(), ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const logs = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          return {};
        }
      });
  const port = await new Promise<number>((resolve, reject) => {
    const check = () => {
      const listening = /listening on https?:\/\/[^\s]+:(\d+)\n/.exec(out);
      if (listening) return resolve(Number(listening[1]));
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before listening:\n${out.slice(-3000)}`)));
    setTimeout(() => reject(new Error(`server did not start:\n${out.slice(-3000)}`)), 30_000).unref();
  });
  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    return exited;
  };
  return {
    url: `${opts.scheme ?? 'http'}://127.0.0.1:${port}`,
    port,
    child,
    logs,
    output: () => out,
    signal,
    exited,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
