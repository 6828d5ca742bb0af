/**
 * Describe, list and remove package versions. Describe also answers for a version that is not
 * (yet) in the catalog but has an upload: Uploading, Processing or Failed, found through the
 * upload index (upload-index/<name>/<version>/<upload id>, written when the upload starts, before
 * its session exists), so any instance answers for an upload another instance runs.
 */
import { removeVersion } from './catalog/ops';
import { find, releaseVersions, type CatalogState, type CatalogVersion } from './catalog/model';
import { AlreadyExistsError, NotFoundError, VersionNotFoundError } from './errors';
import { checkName, checkUploadId, checkVersion, keys } from './keys';
import type { Registry } from './registry';
import type { Storage } from './storage/port';
import { compareVersions } from './universe/version';
import type { UploadSession } from './uploads/session';

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

/** A version with an upload and no catalog entry. */
export interface DescribeUpload {
  name: string;
  version: string;
  status: 'Uploading' | 'Processing' | 'Failed';
  uploadId: string;
  createdAt: string;
  expiresAt: string;
  progress: { blobs: number; verified: number; bytes: number; verifiedBytes: number };
  /** Why it failed: only for writers (showReason). */
  error?: { type: string; message: string };
}

/** Records that upload `id` is for name+version (create-only; called before the session is created). */
export async function indexUpload(storage: Storage, upload: { id: string; name: string; version: string }): Promise<void> {
  await storage
    .put(keys.uploadIndexEntry(upload.name, upload.version, upload.id), JSON.stringify({ uploadId: upload.id }), { ifNoneMatch: '*' })
    .catch((error: unknown) => {
      if (!(error instanceof AlreadyExistsError)) throw error;
    });
}

/** The latest upload of name+version that has a session (index entries whose session is gone are skipped). */
async function latestUpload(storage: Storage, name: string, version: string): Promise<UploadSession | undefined> {
  const prefix = keys.uploadIndexPrefix(name, version);
  const ids = (await storage.list(prefix, { limit: 1000 }))
    .map((o) => o.key.slice(prefix.length))
    .filter((id) => {
      try {
        return checkUploadId(id) === id;
      } catch {
        return false;
      }
    });
  const sessions = await Promise.all(
    ids.map(async (id) => {
      try {
        return JSON.parse((await storage.get(keys.uploadSession(id))).body.toString('utf8')) as UploadSession;
      } catch (error) {
        if (error instanceof NotFoundError || error instanceof SyntaxError) return undefined;
        throw error;
      }
    }),
  );
  return sessions
    .filter((s): s is UploadSession => s !== undefined && s.name === name && s.version === version)
    .sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1))
    .pop();
}

/**
 * GET /package/{name}/{version}. `showReason`: the caller is a writer, who may see why an upload
 * failed (the HTTP layer decides; readers see only that it failed).
 */
export async function describe(
  registry: Registry,
  name: string,
  version: string,
  opts: { showReason?: boolean } = {},
): Promise<Describe | DescribeUpload> {
  // Invalid coordinates cannot name a committed version or an upload: same answer as unknown ones.
  if (!safeCoordinates(name, version)) throw new VersionNotFoundError(name, version);
  const { state } = await registry.catalog.read();
  const v = find(state, name, version);
  if (v) return describeVersion(state, v);
  const upload = await latestUpload(registry.storage, name, version);
  // An upload that reached Added but is not in the catalog was removed since.
  if (!upload || upload.status === 'Added') throw new VersionNotFoundError(name, version);
  const verified = upload.blobs.filter((b) => b.verified);
  // The session stays Uploading while `complete` verifies blobs (it turns Processing at commit):
  // once any sent blob is being verified, the registry is processing the upload.
  const verifying = upload.blobs.some((b) => !b.present && (b.verified || b.hashing || b.sealed || b.assembled));
  return {
    name,
    version,
    status: upload.status === 'Uploading' && verifying ? 'Processing' : upload.status,
    uploadId: upload.id,
    createdAt: upload.createdAt,
    expiresAt: upload.expiresAt,
    progress: {
      blobs: upload.blobs.length,
      verified: verified.length,
      bytes: upload.blobs.reduce((n, b) => n + b.size, 0),
      verifiedBytes: verified.reduce((n, b) => n + b.size, 0),
    },
    ...(upload.status === 'Failed' && opts.showReason && upload.error
      ? { error: { type: upload.error.type, message: upload.error.message } }
      : {}),
  };
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
