import { describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportBundle, recoverPackage } from '../../lib/airgap/export';

const d1 = `sha256:${'1'.repeat(64)}`;
const d2 = `sha256:${'2'.repeat(64)}`;
const served = (resource: Record<string, unknown>) => ({
  packagingVersion: '4.0',
  name: 'p',
  version: '1',
  releaseVersion: 3,
  selected: false,
  resource,
});

describe('recoverPackage: undoing /repo rewriting', () => {
  it('puts back asset URIs and image references, drops releaseVersion and selected, keeps key order', () => {
    const { pkg, keys, notes } = recoverPackage(
      served({
        assets: {
          uris: { a: `https://reg.example/resource/${'1'.repeat(64)}/a%20b.jar` },
          container: { docker: { z: `reg.example:443/team/x@${d2}`, a: `reg.example:443/team/y@${d1}` } },
        },
        cli: { binaries: { linux: { 'x86-64': { url: `https://reg.example/resource/${'1'.repeat(64)}/a%20b.jar`, kind: 'executable' } } } },
      }),
      {
        resources: [{ uri: 'https://up.example/a%20b.jar', name: 'a b.jar', digest: d1, size: 1 }],
        images: [
          { reference: 'team/y:1', repository: 'team/y', manifestDigest: d1, mediaType: 'm' },
          { reference: 'quay.io/team/x:2', repository: 'team/x', manifestDigest: d2, mediaType: 'm' },
        ],
      },
    );
    expect(notes).toEqual([]);
    expect(keys).toEqual(['a', 'z']);
    expect(JSON.stringify(pkg)).toBe(
      JSON.stringify({
        packagingVersion: '4.0',
        name: 'p',
        version: '1',
        resource: {
          assets: { uris: { a: 'https://up.example/a%20b.jar' }, container: { docker: { z: 'quay.io/team/x:2', a: 'team/y:1' } } },
          cli: { binaries: { linux: { 'x86-64': { url: 'https://up.example/a%20b.jar', kind: 'executable' } } } },
        },
      }),
    );
  });

  it('two keys with the same image: matched by position (the bundle lists images sorted by key)', () => {
    const { pkg, keys } = recoverPackage(served({ assets: { container: { docker: { b: `h/team/x@${d1}`, a: `h/team/x@${d1}` } } } }), {
      resources: [],
      images: [
        { reference: 'team/x:latest', repository: 'team/x', manifestDigest: d1, mediaType: 'm' },
        { reference: 'team/x:1.0', repository: 'team/x', manifestDigest: d1, mediaType: 'm' },
      ],
    });
    expect(keys).toEqual(['a', 'b']);
    expect((pkg.resource as any).assets.container.docker).toEqual({ b: 'team/x:1.0', a: 'team/x:latest' });
  });

  it('two original URIs with the same bytes and file name cannot be told apart: the first is used and a note says so', () => {
    const url = `https://reg.example/resource/${'1'.repeat(64)}/f.jar`;
    const { pkg, notes } = recoverPackage(served({ assets: { uris: { x: url, y: url } } }), {
      resources: [
        { uri: 'https://a.example/f.jar', name: 'f.jar', digest: d1, size: 1 },
        { uri: 'https://b.example/f.jar', name: 'f.jar', digest: d1, size: 1 },
      ],
      images: [],
    });
    expect((pkg.resource as any).assets.uris).toEqual({ x: 'https://a.example/f.jar', y: 'https://a.example/f.jar' });
    expect(notes).toHaveLength(2);
    expect(notes[0]).toContain('resource.assets.uris.x: 2 original URIs');
  });

  it('a rewritten image that matches no recorded image is refused', () => {
    expect(() =>
      recoverPackage(served({ assets: { container: { docker: { a: `h/team/x@${d2}` } } } }), {
        resources: [],
        images: [{ reference: 'team/x:1', repository: 'team/x', manifestDigest: d1, mediaType: 'm' }],
      }),
    ).toThrow(/resource\.assets\.container\.docker\.a/);
  });
});

describe('exportBundle input checks', () => {
  it('refuses coordinates that are not a package name and version before any request or file', async () => {
    const out = await mkdtemp(join(tmpdir(), 'airgap-bad-'));
    // Port 9 (discard) on loopback: a request would fail with a network error, not these messages.
    await expect(exportBundle({ url: 'http://127.0.0.1:9', name: '../evil', version: '1', outputDirectory: out })).rejects.toThrow(
      /Invalid package name/,
    );
    await expect(exportBundle({ url: 'http://127.0.0.1:9', name: 'ok', version: '../../x', outputDirectory: out })).rejects.toThrow(
      /Invalid package version/,
    );
    expect(await readdir(out)).toEqual([]);
    await rm(out, { recursive: true, force: true });
  });
});
