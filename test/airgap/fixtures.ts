/** Bundles for the air-gap tests: written by the project's bundle writer, with assets, an icon and two images. */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { BlobStaging, writeBundle, type BundleManifest, type Digest } from '../../lib/bundle';
import { packageMetadata } from '../support/fixtures';

const sha = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function image(tag: string, layers: Buffer[]) {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', tag }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(l), size: l.length })),
    }),
  );
  return { config, manifest, layers };
}

/**
 * name@version with two assets (one named by two URIs), an icon and two images sharing a layer;
 * `seed` changes every byte, so two seeds give two different contents for the same coordinates.
 * With `sharedJar`, the jar's bytes do not depend on the version: two versions share it (and the
 * icon, the helper image and the shared layer), as consecutive releases of a package do.
 */
export async function writeFixtureBundle(
  dir: string,
  name: string,
  version: string,
  seed = 'a',
  options: { sharedJar?: boolean } = {},
): Promise<{ path: string; manifest: BundleManifest }> {
  const jar = Buffer.from(`jar ${name} ${options.sharedJar ? '' : version} ${seed}\n`.repeat(2000));
  const icon = Buffer.from(`icon ${seed}`);
  const shared = Buffer.from(`shared layer ${seed}`);
  const server = image('server', [shared, Buffer.from(`server layer ${name} ${version} ${seed}`)]);
  const helper = image('helper', [shared]);
  const uris = {
    jar: `https://downloads.example.com/${name}/${version}/app.jar`,
    mirror: `https://mirror.example.com/${name}/app%20copy.jar`,
    icon: 'https://downloads.example.com/icons/small.png',
  };
  const pkg = packageMetadata(name, version, {
    resource: {
      assets: {
        uris: { jar: uris.jar, 'jar-mirror': uris.mirror },
        container: {
          docker: { 'z-server': `registry.example.com/team/${name}:${version}`, helper: 'team/helper@' + sha(helper.manifest) },
        },
      },
      images: { 'icon-small': uris.icon },
    },
  });
  const blobs = [jar, icon, server.config, server.manifest, ...server.layers, helper.config, helper.manifest];
  const manifest: BundleManifest = {
    format: 'dcos-bundle/1',
    package: pkg as BundleManifest['package'],
    assets: [
      { uri: uris.icon, digest: sha(icon), size: icon.length, name: 'small.png' },
      { uri: uris.jar, digest: sha(jar), size: jar.length, name: 'app.jar' },
      { uri: uris.mirror, digest: sha(jar), size: jar.length, name: 'app copy.jar' },
    ].sort((a, b) => (a.uri < b.uri ? -1 : 1)) as BundleManifest['assets'],
    images: [
      {
        reference: 'team/helper@' + sha(helper.manifest),
        key: 'helper',
        repository: 'team/helper',
        tag: null,
        manifestDigest: sha(helper.manifest),
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
      },
      {
        reference: `registry.example.com/team/${name}:${version}`,
        key: 'z-server',
        repository: `team/${name}`,
        tag: version,
        manifestDigest: sha(server.manifest),
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
      },
    ],
    blobs: [...new Map(blobs.map((b) => [sha(b), b.length])).entries()]
      .map(([digest, size]) => ({ digest, size }))
      .sort((a, b) => (a.digest < b.digest ? -1 : 1)),
  };
  const staging = await BlobStaging.create();
  const path = join(dir, `${name}-${version}.dcos`);
  try {
    for (const b of blobs) if (!(await staging.hasBlob(sha(b)))) await staging.writeBlob(sha(b), b.length, b);
    await writeBundle({ manifest, blobPath: (d) => staging.blobPath(d), outputPath: path });
  } finally {
    await staging.dispose();
  }
  return { path, manifest };
}
