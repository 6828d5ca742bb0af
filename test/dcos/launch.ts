/**
 * Starts the server exactly as a rendered Marathon app says, with a temp dir standing in for
 * the Mesos sandbox: every secret volume becomes a file at its containerPath, a persistent
 * volume a directory, a host path volume a link to a stand-in for the agent's directory;
 * env secrets are resolved; MESOS_SANDBOX, PORT0/PORT/PORTS, MARATHON_APP_ID and HOST are
 * what Mesos and Marathon set; `.ssl/ca-bundle.crt` is the cluster CA bundle DC/OS puts in
 * every sandbox. The app's cmd runs under /bin/sh in the sandbox, as the Mesos command
 * executor runs it; only `/app/server.js`, the bundle's place in the image, is replaced by
 * the bundle built from the current sources.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from '../docker/registry-process';
import type { Json } from './render';

export interface Launched {
  sandbox: string;
  port: number;
  child: ChildProcess;
  output(): string;
  /** The JSON log lines of the output so far, parsed. */
  logs(): Array<Record<string, unknown>>;
  stop(): Promise<number | null>;
}

export interface LaunchOptions {
  /** Secret store: source path → content. */
  secrets: Record<string, string>;
  /** dist/server.js built from the current sources (unused with `image`). */
  bundle: string;
  /** PEM of the cluster CA, placed at $MESOS_SANDBOX/.ssl/ca-bundle.crt. */
  caBundle?: string;
  /** Stand-in for the agent's directory of a host path volume. */
  hostDir?: string;
  /**
   * The image's unpacked root filesystem: the cmd runs chrooted into it, unchanged (its
   * /app/server.js is the image's), with the sandbox at /mnt/mesos/sandbox inside it, as the
   * Mesos containerizer mounts it; `env` is the image's config Env.
   */
  image?: { rootfs: string; env: string[] };
}

export async function launch(app: Json, opts: LaunchOptions): Promise<Launched> {
  const sandbox = opts.image ? join(opts.image.rootfs, 'mnt/mesos/sandbox') : mkdtempSync(join(tmpdir(), 'mesos-sandbox-'));
  if (opts.image) mkdirSync(sandbox, { recursive: true });
  const sandboxInTask = opts.image ? '/mnt/mesos/sandbox' : sandbox;
  const secret = (name: string) => {
    const source = app.secrets?.[name]?.source;
    if (!(source in opts.secrets)) throw new Error(`secret ${name} (${source}) is not in the secret store`);
    return opts.secrets[source];
  };
  for (const v of app.container.volumes ?? []) {
    const at = join(sandbox, v.containerPath);
    mkdirSync(dirname(at), { recursive: true });
    if (v.secret) {
      writeFileSync(at, secret(v.secret));
      chmodSync(at, 0o400);
    } else if (v.persistent) mkdirSync(at);
    else if (v.hostPath) {
      if (!opts.hostDir) throw new Error(`host path volume ${v.hostPath} needs a stand-in directory`);
      if (opts.image) throw new Error('host path volumes are not supported with an image here');
      symlinkSync(opts.hostDir, at);
    }
  }
  if (opts.caBundle) {
    mkdirSync(join(sandbox, '.ssl'));
    writeFileSync(join(sandbox, '.ssl', 'ca-bundle.crt'), opts.caBundle);
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries<any>(app.env ?? {})) env[k] = typeof v === 'string' ? v : secret(v.secret);
  const port = await freePort();
  const occurrences = app.cmd.split('/app/server.js').length - 1;
  if (occurrences !== 1) throw new Error(`the cmd names /app/server.js ${occurrences} times`);
  const cmd = opts.image ? app.cmd : app.cmd.replace('/app/server.js', opts.bundle);
  const imageEnv = Object.fromEntries((opts.image?.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  let out = '';
  const [file, args] = opts.image
    ? ['chroot', [opts.image.rootfs, '/bin/sh', '-c', `cd ${sandboxInTask} && ${cmd}`]]
    : ['/bin/sh', ['-c', cmd]];
  const child = spawn(file, args, {
    cwd: sandbox,
    env: {
      PATH: process.env.PATH,
      ...imageEnv,
      ...env,
      MESOS_SANDBOX: sandboxInTask,
      PORT0: String(port),
      PORT: String(port),
      PORTS: String(port),
      HOST: '127.0.0.1',
      MARATHON_APP_ID: app.id.startsWith('/') ? app.id : `/${app.id}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (/listening on https?:\/\/\S+\n/.test(out)) resolve();
      };
      child.stdout!.on('data', check);
      child.once('exit', (code) => reject(new Error(`the app exited (${code}) before listening:\n${out.slice(-3000)}`)));
      setTimeout(() => reject(new Error(`the app did not start:\n${out.slice(-3000)}`)), 60_000).unref();
    });
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(sandbox, { recursive: true, force: true });
    throw error;
  }
  return {
    sandbox,
    port,
    child,
    output: () => out,
    logs: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l)),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      rmSync(sandbox, { recursive: true, force: true });
      return code;
    },
  };
}
