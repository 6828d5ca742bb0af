/** Describe, list and remove committed package versions. */
import { removeVersion } from './catalog/ops';
import { find, releaseVersions, type CatalogState, type CatalogVersion } from './catalog/model';
import { VersionNotFoundError } from './errors';
import { checkName, checkVersion } from './keys';
import type { Registry } from './registry';
import { compareVersions } from './universe/version';

export interface Describe {
  name: string;
  version: string;
  status: 'Added';
  releaseVersion: number;
  packagingVersion: unknown;
  uploadId: string;
  addedAt: string;
  seq: number;
  contentDigest: string;
  size: number;
  blobs: number;
  resources: Array<{ uri: string; name: string; digest: string; size: number }>;
  images: Array<{ reference: string; repository: string; manifestDigest: string; mediaType: string }>;
}

export function describeVersion(state: CatalogState, v: CatalogVersion): Describe {
  return {
    name: v.name,
    version: v.version,
    status: 'Added',
    releaseVersion: releaseVersions(state).get(v)!,
    packagingVersion: v.package.packagingVersion,
    uploadId: v.uploadId,
    addedAt: v.addedAt,
    seq: v.seq,
    contentDigest: v.contentDigest,
    size: v.blobs.reduce((n, b) => n + b.size, 0),
    blobs: v.blobs.length,
    resources: v.assets.map((a) => ({ uri: a.uri, name: a.name, digest: a.digest, size: a.size })),
    images: v.images.map((i) => ({
      reference: i.reference,
      repository: i.repository,
      manifestDigest: i.manifestDigest,
      mediaType: i.mediaType,
    })),
  };
}

export async function describe(registry: Registry, name: string, version: string): Promise<Describe> {
  // Invalid coordinates cannot name a committed version: same answer as unknown ones.
  const { state } = await registry.catalog.read();
  const v = safeCoordinates(name, version) ? find(state, name, version) : undefined;
  if (!v) throw new VersionNotFoundError(name, version);
  return describeVersion(state, v);
}

function safeCoordinates(name: string, version: string): boolean {
  try {
    checkName(name);
    checkVersion(version);
    return true;
  } catch {
    return false;
  }
}

export async function list(
  registry: Registry,
): Promise<{ packages: Array<{ name: string; versions: Array<{ version: string; status: string; releaseVersion: number }> }> }> {
  const { state } = await registry.catalog.read();
  const rv = releaseVersions(state);
  const byName = new Map<string, CatalogVersion[]>();
  for (const v of state.versions) byName.set(v.name, [...(byName.get(v.name) ?? []), v]);
  return {
    packages: [...byName.keys()].sort().map((name) => ({
      name,
      versions: byName
        .get(name)!
        .sort((a, b) => compareVersions(a.version, b.version) || a.seq - b.seq)
        .map((v) => ({ version: v.version, status: 'Added', releaseVersion: rv.get(v)! })),
    })),
  };
}

export async function remove(
  registry: Registry,
  name: string,
  version: string,
): Promise<{ name: string; version: string; status: 'Removed' }> {
  checkName(name);
  checkVersion(version);
  await registry.gate.check();
  await removeVersion(registry.catalog, name, version);
  return { name, version, status: 'Removed' };
}
