import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pkg from '../../package.json';
import { openBundle } from '../../lib/bundle';
import { definition, startAssetServer } from '../build/fixtures';
import { writeSample } from '../bundle/helpers';
import { startFakeRegistry, type FakeRegistry } from './fake-registry';
import { onlyJson, runCli } from './run-cli';

let work: string;
let assets: Awaited<ReturnType<typeof startAssetServer>>;
let reg: FakeRegistry;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cli-test-'));
  assets = await startAssetServer({ '/scheduler.zip': Buffer.alloc(5000, 1), '/icon.png': Buffer.from('icon') });
  reg = await startFakeRegistry();
});
afterAll(async () => {
  await assets.close();
  await reg.close();
});

describe('dcos-registry basics', () => {
  it('--help and --version', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: dcos-registry \[registry\] <command>/);
    for (const verb of ['migrate', 'build', 'add', 'describe', 'remove', 'list', 'gc']) expect(help.stdout).toContain(`  ${verb} `);
    const verbHelp = await runCli(['registry', 'build', '--help']);
    expect(verbHelp.stdout).toContain('--build-definition-file FILE');
    expect(verbHelp.stdout).toContain('--insecure-registry HOST[:PORT]');
    const version = await runCli(['--version']);
    expect(version).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  it('usage errors: exit code 1, one line on stderr, nothing on stdout', async () => {
    for (const args of [['frobnicate'], ['build', '--output-directory', work], ['migrate', '--bogus'], ['activate']]) {
      const r = await runCli(args);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')).toHaveLength(2);
      expect(r.stderr).toMatch(/^Error: /);
    }
    expect((await runCli(['build', '--output-directory', work])).stderr).toBe('Error: build: --build-definition-file is required\n');
  });

  it('remote verbs without a URL say how to give one', async () => {
    const r = await runCli(['list']);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toMatch(/--url or set DCOS_REGISTRY_URL/);
  });
});

describe('dcos-registry build', () => {
  it('builds with --json (pure stdout), then refuses to overwrite with exit code 1', async () => {
    const dir = join(work, 'build');
    await mkdir(dir, { recursive: true });
    const def = join(dir, 'def.json');
    await writeFile(
      def,
      JSON.stringify(
        definition(
          { assets: { uris: { s: `${assets.url}/scheduler.zip` } }, images: { 'icon-small': `${assets.url}/icon.png` } },
          'clipkg',
        ),
      ),
    );
    const args = ['registry', 'build', `--build-definition-file=${def}`, `--output-directory=${dir}`, '--json', '--name=ignored'];
    const r = await runCli(args);
    expect(r.stderr).toContain('Downloaded');
    expect(r.code).toBe(0);
    expect(onlyJson(r.stdout)).toEqual({ name: join(dir, 'clipkg-1.0.0.dcos') });
    const b = await openBundle(join(dir, 'clipkg-1.0.0.dcos'));
    await b.verify();
    b.close();

    const again = await runCli(args);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toBe(`Error: ${join(dir, 'clipkg-1.0.0.dcos')} already exists\n`);

    // A missing output directory is created (issue 13.5).
    const text = await runCli(['build', '--build-definition-file', def, '--output-directory', join(dir, 'missing-dir')]);
    expect(text).toMatchObject({ code: 0, stdout: `Created DC/OS Universe Package ${join(dir, 'missing-dir', 'clipkg-1.0.0.dcos')}\n` });
  });
});

describe('dcos-registry add, describe, list, remove, gc (fake registry)', () => {
  it('round trip with --json and text output', async () => {
    const bundle = join(work, 'hello-1.0.0.dcos');
    await writeSample(bundle);
    const env = { DCOS_REGISTRY_URL: reg.url, DCOS_REGISTRY_TOKEN: reg.token };

    const add = await runCli(['add', `--dcos-file=${bundle}`, '--json'], env);
    expect(add.code).toBe(0);
    expect(onlyJson(add.stdout)).toEqual({ packages: [{ name: 'hello', version: '1.0.0', status: 'Added' }] });

    const addText = await runCli(['registry', 'add', '--dcos-file', bundle, '--url', reg.url, '--token', reg.token]);
    expect(addText).toMatchObject({ code: 0, stdout: 'Added packages:\nhello 1.0.0\n' });
    // A token on the command line is visible to other users: the CLI says so and names the variable.
    expect(addText.stderr).toContain('Warning: --token on the command line is visible to other users');
    expect(addText.stderr).toContain('set DCOS_REGISTRY_TOKEN instead');
    expect(add.stderr).not.toContain('--token on the command line');

    const describe = await runCli(['describe', '--package-name=hello', '--package-version=1.0.0', '--json'], env);
    expect(onlyJson(describe.stdout)).toMatchObject({ name: 'hello', version: '1.0.0', status: 'Added' });

    const list = await runCli(['list', '--json'], env);
    expect(onlyJson(list.stdout)).toMatchObject({ packages: [{ name: 'hello', versions: [{ version: '1.0.0', status: 'Added' }] }] });

    const gc = await runCli(['gc', '--json'], env);
    expect(gc.code).toBe(0);
    onlyJson(gc.stdout);

    const remove = await runCli(['remove', '--package-name=hello', '--package-version=1.0.0', '--json'], env);
    expect(remove.code).toBe(0);
    expect(onlyJson(remove.stdout)).toEqual({ name: 'hello', version: '1.0.0', status: 'Removed' });
    expect(remove.stderr).toMatch(/Warning: services already deployed from hello 1\.0\.0 may break/);

    const unknown = await runCli(['describe', '--package-name=hello', '--package-version=1.0.0', '--json'], env);
    expect(unknown).toEqual({ code: 1, stdout: '', stderr: 'Error: Version [1.0.0] of package [hello] not found\n' });
  });

  it('add fails with exit code 1 and the reason on a bad token', async () => {
    const bundle = join(work, 'hello2.dcos');
    await writeSample(bundle);
    const r = await runCli(['add', `--dcos-file=${bundle}`, '--json', '--url', reg.url], { DCOS_REGISTRY_TOKEN: 'nope' });
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toBe('Error: A valid bearer token is required for this operation\n');
  });

  it('add refuses a corrupt bundle before talking to the registry', async () => {
    const bundle = join(work, 'corrupt.dcos');
    await writeFile(bundle, (await readFile(join(work, 'hello-1.0.0.dcos'))).subarray(0, 500));
    const before = reg.uploads.size;
    const r = await runCli(['add', `--dcos-file=${bundle}`, '--url', reg.url], { DCOS_REGISTRY_TOKEN: reg.token });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: Invalid bundle: .*not a readable zip file/);
    expect(reg.uploads.size).toBe(before);
  });
});
