/**
 * A Universe repository index given to `mirror` is hostile input: its entries must not make the
 * mirror read local files into a bundle, name files outside the output directory, or exhaust the
 * stack. Everything here is refused before any download (no server is needed).
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryDefinition, mirrorRepository } from '../../lib/airgap/mirror';

const base = {
  packagingVersion: '4.0',
  name: 'pkg',
  version: '1.0.0',
  maintainer: 'm@example.com',
  description: 'd',
  tags: [],
  releaseVersion: 0,
};
const withUri = (where: 'uris' | 'icon' | 'cli', uri: string) => ({
  ...base,
  resource:
    where === 'uris'
      ? { assets: { uris: { a: uri } } }
      : where === 'icon'
        ? { images: { 'icon-small': uri } }
        : {
            cli: {
              binaries: { linux: { 'x86-64': { kind: 'executable', url: uri, contentHash: [{ algo: 'sha256', value: 'a'.repeat(64) }] } } },
            },
          },
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mirror-index-sec-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('mirror: local files named by an index entry are refused', () => {
  const local = [
    ['uris', 'file:///etc/passwd'],
    ['uris', 'FILE:///etc/passwd'],
    ['icon', '../../../../etc/passwd'],
    ['icon', '/proc/self/environ'],
    ['cli', 'files/cli'],
    ['uris', 'C:\\Windows\\win.ini'],
  ] as const;
  it.each(local)('%s: %s', (where, uri) => {
    expect(() => entryDefinition(withUri(where, uri))).toThrow(
      /is a local file \(file: URI or relative path\): refused in a repository index/,
    );
  });

  it('http and https URLs pass', () => {
    expect(entryDefinition(withUri('uris', 'https://downloads.example.com/a.jar')).definition).not.toHaveProperty('releaseVersion');
    expect(() => entryDefinition(withUri('icon', 'http://downloads.example.com/i.png'))).not.toThrow();
  });

  it('a 100,000-deep entry is refused by the JSON bounds, not by a stack overflow', () => {
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = { x: deep };
    expect(() => entryDefinition({ ...base, config: deep })).toThrow(/nests deeper than 64 levels/);
  });
});

describe('mirror of a hostile index file', () => {
  it('writes nothing for entries naming local files or escaping names, and reads no local file', async () => {
    const out = join(dir, 'out');
    const index = join(dir, 'index.json');
    await writeFile(
      index,
      JSON.stringify({
        packages: [
          { ...withUri('uris', 'file:///etc/passwd'), name: 'passwd' },
          { ...base, name: '../../escape' },
          { ...base, name: 'ok', version: '../../1' },
          { ...base, name: 'a/b' },
          'not an object',
        ],
      }),
    );
    const run = await mirrorRepository({ repoUrl: index, outputDirectory: out });
    expect(run.complete).toBe(false);
    expect(run.items.every((i) => i.outcome === 'failed')).toBe(true);
    const details = Object.fromEntries(run.items.map((i) => [`${i.name}@${i.version}`, i.detail]));
    expect(details['passwd@1.0.0']).toMatch(/"file:\/\/\/etc\/passwd" is a local file/);
    expect(details['../../escape@1.0.0']).toMatch(/Invalid package name/);
    expect(details['ok@../../1']).toMatch(/Invalid package version/);
    expect(details['a/b@1.0.0']).toMatch(/Invalid package name/);
    expect(details['(no name)@(no version)']).toMatch(/Invalid package name/);
    // Nothing was created: not the output directory, nothing beside it.
    expect((await readdir(dir)).sort()).toEqual(['index.json']);
  });
});
