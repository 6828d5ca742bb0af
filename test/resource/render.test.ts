/**
 * /repo's rewriting of a package's resource (lib/universe/render.ts): every asset URI, icon,
 * screenshot and CLI binary URL points at /resource/<digest>/<file name> under the public URL;
 * every Docker image becomes exactly <docker host>/<repository>@sha256:<manifest digest>; the
 * rest of the package is served unchanged.
 */
import { describe, expect, it } from 'vitest';
import type { CatalogVersion } from '../../lib/catalog/model';
import { renderRepo, resourceImages, resourceUrls, rewriteResource } from '../../lib/universe/render';
import { catalogEntry, sha256 } from '../support/fixtures';

const PUBLIC = 'https://registry.example.com';
const DOCKER = 'registry.example.com:5443';

function version(): CatalogVersion {
  const urls = {
    tarball: 'https://downloads.example.com/pkg/pkg-1.0.tgz',
    jar: 'https://downloads.example.com/pkg/lib%20with%20space.jar',
    small: 'https://img.example.com/icon-small.png',
    medium: 'https://img.example.com/icon-medium.png',
    large: 'https://img.example.com/icon-large.png',
    shot1: 'https://img.example.com/s1.png',
    shot2: 'https://img.example.com/s2.png',
    linux: 'https://cli.example.com/linux/dcos-pkg',
    darwin: 'https://cli.example.com/darwin/dcos-pkg',
  };
  const names: Record<string, string> = { jar: 'lib with space.jar' };
  const assets = Object.entries(urls).map(([k, uri]) => ({ uri, digest: sha256(k), size: 10, name: names[k] ?? uri.split('/').pop()! }));
  const resource = {
    assets: {
      uris: { tarball: urls.tarball, jar: urls.jar },
      container: {
        docker: {
          'server-image': 'docker.io/library/nginx:1.25',
          sidecar: 'quay.example.com:8443/team/tools/sidecar@sha256:' + 'b'.repeat(64),
          plain: 'busybox',
        },
      },
    },
    images: { 'icon-small': urls.small, 'icon-medium': urls.medium, 'icon-large': urls.large, screenshots: [urls.shot1, urls.shot2] },
    cli: {
      binaries: {
        linux: { 'x86-64': { kind: 'executable', url: urls.linux, contentHash: [{ algo: 'sha256', value: 'a'.repeat(64) }] } },
        darwin: { 'x86-64': { kind: 'executable', url: urls.darwin, contentHash: [{ algo: 'sha256', value: 'c'.repeat(64) }] } },
      },
    },
  };
  const base = catalogEntry('pkg', '1.0.0');
  return {
    ...base,
    seq: 7,
    package: { ...base.package, resource },
    assets,
    images: [
      {
        reference: 'docker.io/library/nginx:1.25',
        key: 'server-image',
        repository: 'library/nginx',
        tag: '1.25',
        manifestDigest: sha256('nginx'),
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
      },
      {
        reference: resource.assets.container.docker.sidecar,
        key: 'sidecar',
        repository: 'team/tools/sidecar',
        tag: null,
        manifestDigest: sha256('sidecar'),
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      },
      {
        reference: 'busybox',
        key: 'plain',
        repository: 'library/busybox',
        tag: 'latest',
        manifestDigest: sha256('busybox'),
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      },
    ],
  };
}

describe('rewriteResource', () => {
  it('points every URL at /resource/<digest>/<file name> under the public URL', () => {
    const v = version();
    const out = rewriteResource(v, PUBLIC, DOCKER)!;
    const urls = resourceUrls(out);
    expect(urls.length).toBe(9);
    const byUri = new Map(v.assets.map((a) => [a.uri, a]));
    const original = new Map(resourceUrls(v.package.resource as Record<string, unknown>));
    for (const [path, url] of urls) {
      const a = byUri.get(original.get(path)!)!;
      expect(url).toBe(`${PUBLIC}/resource/${a.digest.slice(7)}/${encodeURIComponent(a.name)}`);
    }
    expect((out.assets as any).uris.jar).toBe(`${PUBLIC}/resource/${sha256('jar').slice(7)}/lib%20with%20space.jar`);
    expect((out.cli as any).binaries.linux['x86-64'].contentHash).toEqual([{ algo: 'sha256', value: 'a'.repeat(64) }]);
  });

  it('rewrites every Docker image to exactly <docker host>/<repository>@<manifest digest>', () => {
    const out = rewriteResource(version(), PUBLIC, DOCKER)!;
    expect(Object.fromEntries(resourceImages(out))).toEqual({
      'server-image': `${DOCKER}/library/nginx@${sha256('nginx')}`,
      sidecar: `${DOCKER}/team/tools/sidecar@${sha256('sidecar')}`,
      plain: `${DOCKER}/library/busybox@${sha256('busybox')}`,
    });
    for (const [, ref] of resourceImages(out)) {
      expect(ref).toMatch(/^[A-Za-z0-9.-]+(:\d+)?\/[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*@sha256:[a-f0-9]{64}$/);
      expect(ref).not.toMatch(/:[\w.-]+@/); // never repo:tag@digest (skopeo refuses it)
    }
  });

  it('two keys naming the same reference both get it; the stored package is not modified', () => {
    const v = version();
    const docker = (v.package.resource as any).assets.container.docker as Record<string, string>;
    docker.again = docker['server-image'];
    const before = JSON.stringify(v.package);
    const out = rewriteResource(v, PUBLIC, DOCKER)!;
    expect((out.assets as any).container.docker.again).toBe(`${DOCKER}/library/nginx@${sha256('nginx')}`);
    expect(JSON.stringify(v.package)).toBe(before);
  });

  it('renderRepo serves the entry unchanged except releaseVersion, selected and resource', () => {
    const v = version();
    const { packages } = renderRepo({ seq: 7, versions: [v] }, { repoVersion: 'v4', publicUrl: PUBLIC, dockerHost: DOCKER });
    const { resource, releaseVersion, selected, ...rest } = packages[0];
    const { resource: _r, ...original } = v.package;
    expect(rest).toEqual(original);
    expect(releaseVersion).toBe(0);
    expect(selected).toBe(false);
    expect(resourceUrls(resource as any).every(([, u]) => u.startsWith(`${PUBLIC}/resource/`))).toBe(true);
  });
});
