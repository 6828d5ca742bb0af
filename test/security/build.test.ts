/**
 * Hostile package definitions against `build` and `migrate` (issue 10.5, issue 13.5): a definition
 * must never make the CLI read a local file outside the directory the operator allowed (by default
 * the build definition's directory for build, the package directory for migrate), and a refused
 * build writes nothing. Also the seed's two-directory workflow: migrate a package whose
 * resource.json names relative files into another (missing) directory, then build from there.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, realpath, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, migrateToFile } from '../../lib/builder';
import { openBundle } from '../../lib/bundle';
import { definition, sha256hex } from '../build/fixtures';
import { onlyJson, runCli } from '../cli/run-cli';

let work: string;
beforeAll(async () => {
  work = await realpath(await mkdtemp(join(tmpdir(), 'security-build-')));
});
afterAll(async () => {
  const { rm } = await import('node:fs/promises');
  await rm(work, { recursive: true, force: true });
});

let n = 0;
/** A definition directory with one asset URI, and an output directory. */
async function defining(uri: string, extra: Record<string, string> = {}) {
  const dir = join(work, `def-${++n}`);
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(extra)) await writeFile(join(dir, name), content);
  const definitionFile = join(dir, 'hostile.json');
  await writeFile(definitionFile, JSON.stringify(definition({ assets: { uris: { loot: uri } } }, 'hostile')));
  const out = join(dir, 'out');
  await mkdir(out);
  return { dir, definitionFile, out };
}

describe('build reads local assets only inside the allowed directories', () => {
  const hostile: Array<[string, () => string, RegExp]> = [
    ['file:///etc/passwd', () => 'file:///etc/passwd', /local asset file:\/\/\/etc\/passwd is \/etc\/passwd, outside /],
    [
      '../../../../etc/hostname',
      () => '../../../../etc/hostname',
      /local asset \.\.\/\.\.\/\.\.\/\.\.\/etc\/hostname is \/etc\/hostname, outside /,
    ],
    ['/proc/self/environ', () => '/proc/self/environ', /local asset \/proc\/self\/environ is \/proc\/\d+\/environ, outside /],
    ['../secret.txt (the parent directory)', () => '../secret.txt', /local asset \.\.\/secret\.txt is .*\/secret\.txt, outside /],
  ];
  for (const [label, uri, message] of hostile) {
    it(`refuses ${label} with a clear message and writes no bundle`, async () => {
      await writeFile(join(work, 'secret.txt'), 'secret');
      const { definitionFile, out } = await defining(uri());
      const err = await buildBundle({ definitionFile, outputDirectory: out }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).toContain('--allow-local-dir');
      expect(await readdir(out)).toEqual([]); // no bundle, no staging directory
    });
  }

  it('refuses a symlink inside the directory that points outside it', async () => {
    const { dir, definitionFile, out } = await defining('innocent.txt');
    await symlink('/etc/hostname', join(dir, 'innocent.txt'));
    await expect(buildBundle({ definitionFile, outputDirectory: out })).rejects.toThrow(
      /local asset innocent\.txt is \/etc\/hostname, outside /,
    );
    expect(await readdir(out)).toEqual([]);
  });

  it('refuses a symlinked parent directory that leads outside', async () => {
    await mkdir(join(work, 'elsewhere'), { recursive: true });
    await writeFile(join(work, 'elsewhere', 'x.bin'), 'outside bytes');
    const { dir, definitionFile, out } = await defining('linked/x.bin');
    await symlink(join(work, 'elsewhere'), join(dir, 'linked'));
    await expect(buildBundle({ definitionFile, outputDirectory: out })).rejects.toThrow(/outside/);
    expect(await readdir(out)).toEqual([]);
  });

  it('refuses what is not a regular file (a directory, a FIFO) without blocking', async () => {
    const { dir, definitionFile, out } = await defining('subdir');
    await mkdir(join(dir, 'subdir'));
    await expect(buildBundle({ definitionFile, outputDirectory: out })).rejects.toThrow(/local asset subdir is not a regular file/);
    const fifo = await defining('pipe');
    execFileSync('mkfifo', [join(fifo.dir, 'pipe')]);
    await expect(buildBundle({ definitionFile: fifo.definitionFile, outputDirectory: fifo.out })).rejects.toThrow(
      /local asset pipe is not a regular file/,
    );
    expect(await readdir(fifo.out)).toEqual([]);
  });

  it('names a missing file clearly', async () => {
    const { definitionFile, out } = await defining('nothing-here.bin');
    await expect(buildBundle({ definitionFile, outputDirectory: out })).rejects.toThrow(/local asset nothing-here\.bin: no such file/);
  });

  it('reads inside the definition directory (relative, absolute, file: and symlinks that stay inside)', async () => {
    const { dir, definitionFile, out } = await defining('files/a.bin', {});
    await mkdir(join(dir, 'files'));
    await writeFile(join(dir, 'files', 'a.bin'), 'AAA');
    await symlink('a.bin', join(dir, 'files', 'alias.bin'));
    const file = pathToFileURL(join(dir, 'files', 'a.bin')).href;
    await writeFile(
      definitionFile,
      JSON.stringify(
        definition(
          { assets: { uris: { rel: 'files/a.bin', abs: join(dir, 'files', 'a.bin'), url: file, alias: 'files/alias.bin' } } },
          'hostile',
        ),
      ),
    );
    const { manifest } = await buildBundle({ definitionFile, outputDirectory: out });
    expect(manifest.assets.map((a) => a.digest)).toEqual(Array(4).fill(`sha256:${sha256hex('AAA')}`));
  });

  it('reads another directory only when the operator names it (--allow-local-dir)', async () => {
    await mkdir(join(work, 'shared-assets'), { recursive: true });
    await writeFile(join(work, 'shared-assets', 'big.tgz'), 'shared bytes');
    const { definitionFile, out } = await defining(join(work, 'shared-assets', 'big.tgz'));
    await expect(buildBundle({ definitionFile, outputDirectory: out })).rejects.toThrow(/outside/);
    const { manifest } = await buildBundle({ definitionFile, outputDirectory: out, allowLocalDirectories: [join(work, 'shared-assets')] });
    expect(manifest.assets[0]).toMatchObject({ digest: `sha256:${sha256hex('shared bytes')}` });

    // The CLI flag, and its help.
    const again = await defining(join(work, 'shared-assets', 'big.tgz'));
    const refused = await runCli(['build', `--build-definition-file=${again.definitionFile}`, `--output-directory=${again.out}`]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^Error: local asset .* outside .*--allow-local-dir/);
    const ok = await runCli([
      'build',
      `--build-definition-file=${again.definitionFile}`,
      `--output-directory=${again.out}`,
      `--allow-local-dir=${join(work, 'shared-assets')}`,
      '--json',
    ]);
    expect(ok.stderr).not.toContain('Error');
    expect(onlyJson(ok.stdout)).toEqual({ name: join(again.out, 'hostile-1.0.0.dcos') });
    expect((await runCli(['build', '--help'])).stdout).toMatch(/--allow-local-dir DIR/);
  });
});

describe('migrate: local assets are confined to the package directory and copied beside the definition', () => {
  async function packageDir(resource: unknown, files: Record<string, string> = {}) {
    const dir = join(work, `pkg-${++n}`);
    await mkdir(join(dir, 'assets'), { recursive: true });
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    const { resource: _drop, ...pkg } = definition({}, 'seedpkg');
    await writeFile(join(dir, 'package.json'), JSON.stringify(pkg));
    await writeFile(join(dir, 'resource.json'), JSON.stringify(resource));
    return dir;
  }

  it("the seed's two-directory workflow: relative paths resolve against the package directory, into a missing output directory", async () => {
    const pkg = await packageDir(
      {
        assets: { uris: { bootstrap: 'assets/bootstrap.zip', same: './assets/bootstrap.zip' } },
        images: { 'icon-small': 'assets/icon.png' },
      },
      { 'assets/bootstrap.zip': 'bootstrap bytes', 'assets/icon.png': 'icon bytes' },
    );
    const out = join(work, `out-${n}`, 'nested'); // does not exist yet
    const migrated = await runCli(['migrate', `--package-directory=${pkg}`, `--output-directory=${out}`]);
    const copies = join(out, 'seedpkg-1.0.0.assets', 'assets');
    expect(migrated.stderr).toBe(
      `Copied assets/bootstrap.zip to ${join(copies, 'bootstrap.zip')}\nCopied assets/icon.png to ${join(copies, 'icon.png')}\n`,
    );
    expect(migrated).toMatchObject({ code: 0, stdout: `Created DC/OS Build Definition ${join(out, 'seedpkg-1.0.0.json')}\n` });
    const written = JSON.parse(await readFile(join(out, 'seedpkg-1.0.0.json'), 'utf8'));
    // Every local URI now points beside the definition.
    for (const uri of [...Object.values(written.resource.assets.uris), written.resource.images['icon-small']] as string[]) {
      expect(existsSync(join(out, uri))).toBe(true);
      expect(relative(out, join(out, uri)).startsWith('..')).toBe(false);
    }

    // build in a third, missing directory, from the definition's own directory only.
    const bundles = join(work, `bundles-${n}`);
    const built = await runCli(['build', `--build-definition-file=${join(out, 'seedpkg-1.0.0.json')}`, `--output-directory=${bundles}`]);
    expect(built.code).toBe(0);
    expect(built.stdout).toBe(`Created DC/OS Universe Package ${join(bundles, 'seedpkg-1.0.0.dcos')}\n`);
    const b = await openBundle(join(bundles, 'seedpkg-1.0.0.dcos'));
    try {
      await b.verify();
      const digests = Object.fromEntries(b.manifest.assets.map((a) => [a.name, a.digest]));
      expect(digests).toEqual({
        'bootstrap.zip': `sha256:${sha256hex('bootstrap bytes')}`,
        'icon.png': `sha256:${sha256hex('icon bytes')}`,
      });
    } finally {
      b.close();
    }
  });

  it('refuses a package whose resource.json names a file outside the package directory, writing nothing', async () => {
    for (const uri of ['file:///etc/passwd', '../../../../etc/hostname', '/proc/self/environ']) {
      const pkg = await packageDir({ assets: { uris: { loot: uri } } });
      const out = join(work, `out-${n}`);
      await expect(migrateToFile({ packageDirectory: pkg, outputDirectory: out })).rejects.toThrow(/outside .*--allow-local-dir/);
      expect(existsSync(out)).toBe(false); // not even the output directory it would have created
    }
  });

  it('re-running migrate replaces the copies; http URIs are left alone', async () => {
    const pkg = await packageDir(
      { assets: { uris: { local: 'assets/a.txt', remote: 'https://downloads.example.com/x.tgz' } } },
      { 'assets/a.txt': 'one' },
    );
    const out = join(work, `out-${n}`);
    const first = await migrateToFile({ packageDirectory: pkg, outputDirectory: out });
    const def = JSON.parse(await readFile(first.path, 'utf8'));
    expect(def.resource.assets.uris.remote).toBe('https://downloads.example.com/x.tgz');
    await writeFile(join(pkg, 'assets', 'a.txt'), 'two');
    await migrateToFile({ packageDirectory: pkg, outputDirectory: out });
    expect(await readFile(join(out, def.resource.assets.uris.local), 'utf8')).toBe('two');
  });
});
