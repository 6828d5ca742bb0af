/**
 * What the commit records for /v2: each image's config and layer digests (images[].blobs), read
 * from the verified manifest; an image whose blobs are not all in the bundle fails the upload.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { BUNDLE_FORMAT, type BundleManifest } from '../../lib/bundle/manifest';
import { Catalog } from '../../lib/catalog/catalog';
import { find } from '../../lib/catalog/model';
import { parseConfig } from '../../lib/config';
import * as mt from '../../lib/docker/media-types';
import { keys } from '../../lib/keys';
import type { Registry } from '../../lib/registry';
import type { FileStorage } from '../../lib/storage/fs';
import { WriteGate } from '../../lib/storage/probe';
import { Uploads } from '../../lib/uploads/service';
import { packageMetadata, sha256 } from '../support/fixtures';
import { imageManifest } from '../support/oci';
import { fileStore, type TestStore } from '../support/stores';

let store: TestStore | undefined;
afterEach(async () => store?.cleanup());

function imageBundle(
  name: string,
  omitLayer = false,
): { manifest: BundleManifest; blobs: Map<string, Buffer>; layers: string[]; config: string } {
  const config = Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', n: randomBytes(4).toString('hex') }));
  const layers = [randomBytes(700), randomBytes(900)];
  const manifestBytes = imageManifest(config, layers, 'docker').bytes;
  const blobs = new Map<string, Buffer>([manifestBytes, config, ...(omitLayer ? layers.slice(0, 1) : layers)].map((b) => [sha256(b), b]));
  const reference = 'source.example.com/team/app:v1';
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    package: packageMetadata(name, '1.0.0', {
      resource: { assets: { container: { docker: { app: reference } } } },
    }) as BundleManifest['package'],
    assets: [],
    images: [
      {
        reference,
        key: 'app',
        repository: 'team/app',
        tag: 'v1',
        manifestDigest: sha256(manifestBytes) as `sha256:${string}`,
        mediaType: mt.DOCKER_MANIFEST,
      },
    ],
    blobs: [...blobs]
      .map(([digest, b]) => ({ digest: digest as `sha256:${string}`, size: b.length }))
      .sort((a, b) => (a.digest < b.digest ? -1 : 1)),
  };
  return { manifest, blobs, layers: layers.map((l) => sha256(l)), config: sha256(config) };
}

async function upload(registry: Registry, bundle: ReturnType<typeof imageBundle>) {
  const uploads = new Uploads(registry);
  const view = await uploads.start({ manifest: bundle.manifest });
  for (const b of view.blobs) {
    if (b.upload)
      await (registry.storage as FileStorage).receivePut(keys.uploadBlob(view.id, b.digest), bundle.blobs.get(b.digest)!, Infinity);
  }
  return uploads.complete(view.id);
}

async function registryOnFiles(): Promise<Registry> {
  store = await fileStore();
  const storage = store.storage;
  return {
    config: parseConfig({ REGISTRY_WRITE_TOKENS: 'x'.repeat(16) }),
    storage,
    catalog: new Catalog(storage),
    gate: new WriteGate(storage),
  };
}

describe('commit records image blob lists', () => {
  it('stores the config and layer digests of each image in the catalog entry', async () => {
    const registry = await registryOnFiles();
    const bundle = imageBundle('withimage');
    const done = await upload(registry, bundle);
    expect(done.done).toBe(true);
    const { state } = await registry.catalog.read();
    const v = find(state, 'withimage', '1.0.0')!;
    expect(v.images[0].blobs).toEqual([bundle.config, ...bundle.layers]);
  });

  it('fails the upload when a layer of an image is not in the bundle', async () => {
    const registry = await registryOnFiles();
    await expect(upload(registry, imageBundle('nolayer', true))).rejects.toMatchObject({
      type: 'InvalidPackage',
      message: expect.stringMatching(/is not in the bundle/),
    });
    const { state } = await registry.catalog.read();
    expect(find(state, 'nolayer', '1.0.0')).toBeUndefined();
  });
});
