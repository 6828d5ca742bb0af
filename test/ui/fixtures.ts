/**
 * The web catalog's fixture packages (test/fixtures/ui/packages.json) as upload bundles: each
 * package.json as authored (`selected` included), its config.json inlined, and the files it
 * names: the icon and screenshot PNGs of test/fixtures/ui, a small asset, and an OCI image
 * (config, one layer, manifest) whose bytes derive from the package's name and version, so
 * every digest is the same on every run.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BUNDLE_FORMAT, type BundleManifest } from '../../lib/bundle/manifest';
import * as mt from '../../lib/docker/media-types';
import { sha256 } from '../support/fixtures';
import { imageManifest } from '../support/oci';
import type { TestBundle } from '../support/upload';

const FIXTURE_DIR = path.join(__dirname, '..', 'fixtures', 'ui');

export interface UiFixture {
  package: Record<string, any>;
  config: Record<string, any>;
  icon: boolean;
  screenshot: boolean;
  asset: string | null;
  image: boolean;
}

export function uiFixtures(): UiFixture[] {
  return JSON.parse(readFileSync(path.join(FIXTURE_DIR, 'packages.json'), 'utf8')).packages;
}

/** Deterministic bytes: sha256 in counter mode over a seed. */
function bytes(seed: string, n: number): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; out.length * 32 < n; i++) out.push(createHash('sha256').update(`${seed}/${i}`).digest());
  return Buffer.concat(out).subarray(0, n);
}

export interface BuiltFixture extends TestBundle {
  fixture: UiFixture;
  name: string;
  version: string;
}

export function fixtureBundle(f: UiFixture): BuiltFixture {
  const { name, version } = f.package;
  const blobs = new Map<string, Buffer>();
  const assets: BundleManifest['assets'] = [];
  const add = (uri: string, file: string, data: Buffer) => {
    const digest = sha256(data) as `sha256:${string}`;
    blobs.set(digest, data);
    assets.push({ uri, digest, size: data.length, name: file });
  };
  const resource: Record<string, any> = {};
  if (f.asset !== null) {
    const uri = `https://downloads.example.com/${name}/${version}/server.tgz`;
    add(uri, 'server.tgz', Buffer.from(f.asset));
    resource.assets = { uris: { server: uri } };
  }
  if (f.icon || f.screenshot) resource.images = {};
  if (f.icon) {
    const uri = `https://images.example.com/${name}/${version}/icon.png`;
    add(uri, 'icon.png', readFileSync(path.join(FIXTURE_DIR, 'icon.png')));
    Object.assign(resource.images, { 'icon-small': uri, 'icon-medium': uri, 'icon-large': uri });
  }
  if (f.screenshot) {
    const uri = `https://images.example.com/${name}/${version}/screenshot.png`;
    add(uri, 'screenshot.png', readFileSync(path.join(FIXTURE_DIR, 'screenshot.png')));
    resource.images.screenshots = [uri];
  }
  const images: BundleManifest['images'] = [];
  if (f.image) {
    const config = Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', name, version }));
    const layer = bytes(`${name}/${version}/layer`, 4096);
    const manifest = imageManifest(config, [layer]).bytes;
    for (const b of [config, layer, manifest]) blobs.set(sha256(b), b);
    const reference = `images.example.com/${name}/server:${version}`;
    resource.assets = { ...(resource.assets ?? {}), container: { docker: { server: reference } } };
    images.push({
      reference,
      key: 'server',
      repository: `${name}/server`,
      tag: version,
      manifestDigest: sha256(manifest) as `sha256:${string}`,
      mediaType: mt.OCI_MANIFEST,
    });
  }
  const pkg = {
    ...f.package,
    marathon: { v2AppMustacheTemplate: Buffer.from('{"id":"{{service.name}}","cmd":"sleep 1000","cpus":0.1,"mem":32}').toString('base64') },
    config: f.config,
    ...(Object.keys(resource).length ? { resource } : {}),
  };
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    package: pkg as unknown as BundleManifest['package'],
    assets: assets.sort((a, b) => (a.uri < b.uri ? -1 : 1)),
    images,
    blobs: [...blobs]
      .map(([digest, b]) => ({ digest: digest as `sha256:${string}`, size: b.length }))
      .sort((a, b) => (a.digest < b.digest ? -1 : 1)),
  };
  return { manifest, blobs, fixture: f, name, version };
}
