/**
 * Issue 13, walked as a new user: the commands README.md gives, run as written (a shell runs the
 * README's own lines) against the production server started as `npm start` starts it (its
 * development token, file storage). Only what a test cannot keep is replaced: the fixed port 3000 by
 * the server's free port, and `npx dcos-registry` by the same bin/dcos-registry.js that npx runs in a
 * checkout. The steps run in a temp directory holding the checkout's `test/` (by symlink), so their
 * relative paths mean what they mean in a checkout and nothing is written into the repository.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type CliRun, collectRun, runCli } from '../cli/run-cli';
import { startAdminRouter } from '../plugin/admin-router';
import { type ServerProcess, startServer } from '../server/harness';
import { REFERENCE_DIR, REFERENCE_TITLE, REPO_ROOT, referenceSkipped } from '../support/reference';

const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
/** The development write token `npm start` sets (package.json "start"). */
const DEV_TOKEN = 'dev-registry-token';

/** The fenced ```sh blocks of a Markdown text, in order. */
function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

/** Runs a script under /bin/sh -e in `cwd`, with a clean environment plus `env`. */
function sh(script: string, cwd: string, env: Record<string, string> = {}): Promise<CliRun> {
  return collectRun('/bin/sh', ['-e', '-c', script], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
  });
}

let server: ServerProcess;
let work: string;
let local: (line: string) => string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'walk-'));
  server = await startServer({ env: { REGISTRY_STORAGE: `file:${path.join(work, '.registry')}`, REGISTRY_WRITE_TOKENS: DEV_TOKEN } });
  await symlink(path.join(REPO_ROOT, 'test'), path.join(work, 'test'));
  const host = `127.0.0.1:${server.port}`;
  local = (text: string) =>
    text
      .replaceAll('http://localhost:3000', `http://${host}`)
      .replaceAll('localhost:3000', host)
      .replace(/(^|\s)(npx )?dcos-registry /gm, `$1${process.execPath} ${BIN} `);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('README.md, as a new user runs it after `npm ci && npm start`', () => {
  it('its curl lines answer: /health healthy, /repo as Cosmos asks for it', async () => {
    const curls = shellBlocks(README)
      .flatMap((b) => b.split('\n'))
      .filter((l) => l.startsWith('curl ') && l.includes('localhost:3000'));
    expect(curls.length).toBeGreaterThanOrEqual(2);
    for (const line of curls) {
      const r = await sh(`curl -sS --fail ${local(line).slice('curl '.length)}`, work);
      expect({ line, code: r.code, stderr: r.stderr }).toEqual({ line, code: 0, stderr: '' });
      expect(JSON.parse(r.stdout)).toBeTypeOf('object');
    }
  });

  it('its first CLI steps (migrate, build, add, describe, list, remove) run as written and leave the catalog as they found it', async () => {
    const block = shellBlocks(README).find((b) => /dcos-registry migrate /.test(b));
    expect(block, 'a ```sh block with the first migrate').toBeDefined();
    const r = await sh(local(block!), work);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Created DC\/OS Build Definition out\/\S+\.json$/m);
    expect(r.stdout).toMatch(/^Created DC\/OS Universe Package out\/\S+\.dcos$/m);
    expect(r.stdout).toMatch(/^Added packages:\n\S+ \S+$/m);
    expect(r.stdout).toMatch(/"status": "Added"/);
    expect(r.stdout).toMatch(/^Removed \S+ \S+$/m);
    // No token warning: the steps give the token through the environment, as docs/cli.md advises.
    expect(r.stderr).not.toMatch(/--token on the command line/);
    const after = await fetch(`${server.url}/package`);
    expect(await after.json()).toMatchObject({ packages: [] });
  });
});

describe('a remove that cannot happen', () => {
  it('says only why (no token, or no such version): no warning about services that may break', async () => {
    const noToken = await runCli(['remove', '--package-name=pinger', '--package-version=9.9.9'], { DCOS_REGISTRY_URL: server.url });
    expect(noToken).toEqual({ code: 1, stdout: '', stderr: 'Error: a write token is required: give --token or DCOS_REGISTRY_TOKEN\n' });
    const unknown = await runCli(['remove', '--package-name=pinger', '--package-version=9.9.9'], {
      DCOS_REGISTRY_URL: server.url,
      DCOS_REGISTRY_TOKEN: DEV_TOKEN,
    });
    expect(unknown).toEqual({ code: 1, stdout: '', stderr: 'Error: Version [9.9.9] of package [pinger] not found\n' });
  });
});

describe('as `dcos registry`, when Admin Router refuses the login', () => {
  it('a read without a login, or with an expired one, says to run `dcos auth login`', async () => {
    const router = await startAdminRouter({ service: 'dcos-registry', upstream: () => server.url, token: 'current-login-token' });
    try {
      for (const login of [{}, { DCOS_ACS_TOKEN: 'expired-login-token' }] as Record<string, string>[]) {
        const r = await runCli(['list'], { DCOS_URL: router.url, ...login });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^Error: GET \/package answered 401: Unauthorized; .*run `dcos auth login`.*\n$/);
      }
      // The registry's own refusals are its own words.
      expect((await runCli(['list'], { DCOS_URL: router.url, DCOS_ACS_TOKEN: 'current-login-token' })).code).toBe(0);
    } finally {
      await router.close();
    }
  });
});

referenceSkipped('the README CLI examples');
describe.skipIf(!REFERENCE_DIR)(`${REFERENCE_TITLE}: README.md's CLI examples on a Universe checkout`, () => {
  it('migrate of the package directory it names works and writes the definition the next line builds', async () => {
    const block = shellBlocks(README).find((b) => /universe\/repo\/packages\//.test(b));
    expect(block, 'a ```sh block migrating a package of a Universe checkout').toBeDefined();
    const lines = block!.split('\n');
    const migrate = lines.find((l) => /dcos-registry migrate /.test(l))!;
    const build = lines.find((l) => /dcos-registry build /.test(l))!;
    // A Universe checkout keeps packages at repo/packages/<letter>/<name>/<revision>; the reference
    // directory at packages/<name>/<revision>.
    await symlink(REFERENCE_DIR!, path.join(work, 'reference'));
    const step = local(migrate).replace(/universe\/repo\/packages\/[A-Z]\/([^/\s]+)\//, 'reference/packages/$1/');
    const r = await sh(step, work);
    expect(r.code, r.stderr).toBe(0);
    const created = /^Created DC\/OS Build Definition (\S+)$/m.exec(r.stdout)?.[1];
    expect(created).toBe(/--build-definition-file=(\S+)/.exec(build)?.[1]);
  });
});
