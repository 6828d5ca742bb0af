/**
 * Vitest setup file: proves that no test reads outside the repository (a fresh clone has nothing
 * beside it). It wraps the path-taking calls of node:fs and node:fs/promises (open, read, readdir,
 * opendir, stat, lstat, access, exists, createReadStream, copy sources) and records every path
 * outside the allowed places; the test during which it happened fails (afterEach), and reads at
 * collection time or in hooks fail the file (afterAll). The call itself is not blocked, so the
 * code under test behaves exactly as without the guard.
 *
 * Allowed: the repository (node_modules included), the OS temp directory (but never beside the
 * repository, even when the clone is in it), UNIVERSE_REFERENCE_DIR
 * (the only way to real Universe packages, see reference.ts) and what Node and its libraries need
 * from the system (ALLOWED_SYSTEM). Always on; REGISTRY_TEST_GUARD_FS=0 turns it off (to measure
 * what it costs). Child processes (the CLI, serverless offline, docker-registry, skopeo) are not
 * guarded: this only sees the test worker's own calls.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach } from 'vitest';
import { REFERENCE_DIR, REPO_ROOT } from './reference';

export interface Violation {
  call: string;
  path: string;
  /** The first stack frame outside this file. */
  at: string;
}

interface GuardState {
  violations: Violation[];
}

const KEY = Symbol.for('dcos-registry.test.guard-fs');
type Holder = { [KEY]?: GuardState };

/** System paths Node, undici, the AWS SDK and ajv read: certificates, name resolution, time zones. */
const ALLOWED_SYSTEM = [
  '/usr/',
  '/etc/ssl/',
  '/etc/ca-certificates/',
  '/etc/pki/',
  '/etc/hosts',
  '/etc/resolv.conf',
  '/etc/nsswitch.conf',
  '/etc/localtime',
  '/dev/null',
  '/dev/urandom',
  '/dev/random',
  '/dev/tty',
  '/proc/self/',
  // playwright-core's platform probes when it launches Debian's Chromium (test/ui).
  '/proc/version',
  '/proc/sys/fs/binfmt_misc/WSLInterop',
  '/run/WSL',
  '/etc/os-release',
  `/proc/${process.pid}/`,
];

const real = (p: string) => {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return p;
  }
};

const under = (p: string, root: string) => p === root || p.startsWith(root + path.sep);
const repoRoots = [REPO_ROOT, real(REPO_ROOT)];
const referenceRoots = REFERENCE_DIR ? [REFERENCE_DIR, real(REFERENCE_DIR)] : [];
const tempRoots = [os.tmpdir(), real(os.tmpdir())];
// Beside the repository is where a neighbouring checkout (../shared) would be: refused even when
// the clone sits inside the temp directory, unless the temp directory itself is beside it.
const parents = repoRoots.map((r) => path.dirname(r)).filter((p) => !tempRoots.some((t) => under(t, p)));

/** Whether a path (absolute, or relative to the working directory) may be read by a test. */
export function isAllowed(p: string): boolean {
  const abs = path.resolve(p);
  if ([...repoRoots, ...referenceRoots].some((root) => under(abs, root))) return true;
  if (parents.some((parent) => under(abs, parent))) return false;
  if (tempRoots.some((root) => under(abs, root))) return true;
  if (abs.split(path.sep).includes('node_modules')) return true;
  // Another process's status line only (a test reads the RSS of the server it started).
  if (/^\/proc\/\d+\/status$/.test(abs)) return true;
  return ALLOWED_SYSTEM.some((s) => (s.endsWith('/') ? abs.startsWith(s) || abs === s.slice(0, -1) : abs === s));
}

function pathOf(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (Buffer.isBuffer(arg)) return arg.toString('utf8');
  if (arg instanceof URL) return arg.protocol === 'file:' ? fileURLToPath(arg) : undefined;
  return undefined; // a file descriptor or a FileHandle: its open was checked
}

function callerFrame(): string {
  const lines = (new Error().stack ?? '').split('\n').slice(1);
  const outside = lines.find((l) => !l.includes('support/guard-fs') && !l.includes('node:internal') && !l.includes('(node:'));
  return (outside ?? lines[0] ?? '').trim();
}

function install(state: GuardState): void {
  const record = (call: string, arg: unknown) => {
    const p = pathOf(arg);
    if (p === undefined || isAllowed(p)) return;
    state.violations.push({ call, path: path.resolve(p), at: callerFrame() });
  };
  const wrap = (target: Record<string, any>, name: string, label: string, args: number[] = [0]) => {
    const original = target[name];
    if (typeof original !== 'function') return;
    const wrapped = function (this: unknown, ...a: unknown[]) {
      for (const i of args) record(label, a[i]);
      return original.apply(this, a);
    };
    // Keep util.promisify.custom and friends (fs.exists has one).
    Object.defineProperties(wrapped, Object.getOwnPropertyDescriptors(original));
    target[name] = wrapped;
  };
  const sync = ['openSync', 'readFileSync', 'readdirSync', 'opendirSync', 'statSync', 'lstatSync', 'accessSync', 'existsSync'];
  const callback = ['open', 'readFile', 'readdir', 'opendir', 'stat', 'lstat', 'access', 'exists', 'createReadStream'];
  for (const name of [...sync, ...callback]) wrap(fs as any, name, `fs.${name}`);
  for (const name of ['copyFileSync', 'copyFile', 'cpSync', 'cp']) wrap(fs as any, name, `fs.${name}`);
  for (const name of ['open', 'readFile', 'readdir', 'opendir', 'stat', 'lstat', 'access', 'copyFile', 'cp']) {
    wrap(fs.promises as any, name, `fs.promises.${name}`);
  }
  // ESM named imports of node:fs and node:fs/promises see the wrapped functions too.
  syncBuiltinESMExports();
}

function guardState(): GuardState | undefined {
  if (process.env.REGISTRY_TEST_GUARD_FS === '0') return undefined;
  const holder = globalThis as Holder;
  if (!holder[KEY]) {
    holder[KEY] = { violations: [] };
    install(holder[KEY]);
  }
  return holder[KEY];
}

const state = guardState();

/** Takes (and clears) what the guard recorded: for the guard's own test. */
export function takeViolations(): Violation[] {
  return state ? state.violations.splice(0) : [];
}

function check(): void {
  const found = takeViolations();
  if (found.length === 0) return;
  const lines = found.slice(0, 10).map((v) => `  ${v.call}(${v.path}) ${v.at}`);
  throw new Error(
    `read outside the repository (a fresh clone has nothing beside it; real Universe packages come through UNIVERSE_REFERENCE_DIR):\n${lines.join('\n')}` +
      (found.length > 10 ? `\n  … and ${found.length - 10} more` : ''),
  );
}

if (state) {
  afterEach(check);
  afterAll(check);
}
