/**
 * What /v2 serves, derived from the catalog alone: the Docker repositories of the Added
 * package versions, their tags, manifests and blobs. A repository, tag or blob exists only
 * while some version in the catalog carries it, so removing the last one makes it vanish.
 * A tag names the manifest of the most recently added version (highest commit seq) that
 * carries it.
 */
import type { CatalogState, CatalogVersion, ImageRef } from '../catalog/model';

export interface ManifestInfo {
  digest: string;
  mediaType: string;
  size: number;
}

export interface Repository {
  name: string;
  tags: Map<string, ManifestInfo>;
  manifests: Map<string, ManifestInfo>;
  /** digest → size: configs, layers and the manifests themselves. */
  blobs: Map<string, number>;
  /**
   * Manifests of images committed before their blob lists were recorded (no `blobs`):
   * their configs and layers are found by reading the manifest, once per instance.
   */
  unindexed: ManifestInfo[];
}

export interface DockerIndex {
  repositories: Map<string, Repository>;
  /** Repository names, sorted. */
  names: string[];
}

/** Repository names as distribution accepts them (path components of lowercase alphanumerics and separators). */
export const REPOSITORY_NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
export const TAG = /^[\w][\w.-]{0,127}$/;
export const SHA256 = /^sha256:[a-f0-9]{64}$/;

function repositoryOf(index: DockerIndex, name: string): Repository {
  let repo = index.repositories.get(name);
  if (!repo) {
    repo = { name, tags: new Map(), manifests: new Map(), blobs: new Map(), unindexed: [] };
    index.repositories.set(name, repo);
  }
  return repo;
}

function addImage(index: DockerIndex, _v: CatalogVersion, sizes: Map<string, number>, image: ImageRef): void {
  const size = sizes.get(image.manifestDigest);
  if (size === undefined) return; // not a blob of this version: nothing could be served
  const repo = repositoryOf(index, image.repository);
  const info: ManifestInfo = { digest: image.manifestDigest, mediaType: image.mediaType, size };
  repo.manifests.set(info.digest, info);
  repo.blobs.set(info.digest, size);
  if (image.tag) repo.tags.set(image.tag, info);
  if (!image.blobs) {
    repo.unindexed.push(info);
    return;
  }
  for (const d of image.blobs) {
    const s = sizes.get(d);
    if (s !== undefined) repo.blobs.set(d, s);
  }
}

export function dockerIndex(state: CatalogState): DockerIndex {
  const index: DockerIndex = { repositories: new Map(), names: [] };
  // Ascending seq, so the last writer of a tag is the most recently added version.
  const versions = state.versions.map((v, i) => ({ v, i })).sort((a, b) => a.v.seq - b.v.seq || a.i - b.i);
  for (const { v } of versions) {
    if (!v.images?.length) continue;
    const sizes = new Map(v.blobs.map((b) => [b.digest, b.size]));
    for (const image of v.images) addImage(index, v, sizes, image);
  }
  index.names = [...index.repositories.keys()].sort();
  return index;
}

/** Record the configs and layers of an unindexed manifest (parsed by the caller). */
export function indexManifestBlobs(repo: Repository, manifest: ManifestInfo, blobs: Array<{ digest: string; size: number }>): void {
  for (const b of blobs) repo.blobs.set(b.digest, b.size);
  repo.unindexed = repo.unindexed.filter((m) => m !== manifest);
}
