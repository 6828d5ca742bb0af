/**
 * The only module that builds storage keys. Everything the registry keeps lives under
 * the driver's root (a directory, or s3://bucket/prefix):
 *
 *   <root>/
 *   ├── meta/
 *   │   ├── probe.json                  capability verdict of the store (with expiry)
 *   │   ├── gc-chunk-marks.json         chunks garbage collection saw unnamed, and since when
 *   │   ├── gc-upload-index-marks.json  upload-index markers garbage collection saw without a session, and since when
 *   │   └── signing-key                 HMAC key for the filesystem driver's signed URLs (create-only)
 *   ├── catalog/
 *   │   ├── snapshot.json               {seq, chunks}: the catalog at some seq; advanced with If-Match, only forward
 *   │   ├── chunks/<seq>-<sha256>.json  immutable parts of a snapshot (package versions, split by name)
 *   │   └── log/<seq, 16 digits>.json    commit entries, each created with If-None-Match: * (one winner per seq)
 *   ├── blobs/sha256/<hex>              verified content only: bytes whose sha256 is <hex> (invariant 4)
 *   ├── uploads/<upload id>/
 *   │   ├── session.json                upload session: manifest, blob targets, status
 *   │   ├── blobs/<hex>                 staged bytes, as the client sent them (unverified)
 *   │   └── sealed/<hex>                private copy of a single-PUT blob that the registry hashes
 *   ├── rendered/<catalog content id>/<id>-repo-<v>.json[.gz]   pre-rendered /repo answers (plain, gzip), per catalog state
 *   ├── audit/<UTC time>-<random>.json  who wrote what, when, from which instance (create-only, never truncated)
 *   └── upload-index/<name>/<version>/<upload id>   the uploads of one name+version (empty marker objects)
 *
 * User input (names, versions, digests, ids) never reaches a key unchecked: every
 * builder validates its inputs and throws BadRequestError otherwise.
 */
import { BadRequestError } from './errors';

const NAME_PATTERN = /^[a-z][a-z0-9-]*[a-z0-9]$/;
/** Universe's version pattern, minus the dot-only versions ("." and "..") it would admit. */
const VERSION_PATTERN = /^(?!\.+$)[-a-zA-Z0-9.]+$/;
export const HEX_DIGEST = /^[a-f0-9]{64}$/;
const UPLOAD_ID = /^[a-z0-9]{26}$/;

export function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length > 64 || !NAME_PATTERN.test(name)) {
    throw new BadRequestError(
      `Invalid package name: must match ${NAME_PATTERN.source} (at most 64 characters)`,
      {
        packageName: String(name).slice(0, 100),
      },
      'InvalidPackageName',
    );
  }
  return name;
}

export function checkVersion(version: unknown): string {
  if (typeof version !== 'string' || version.length > 64 || !VERSION_PATTERN.test(version)) {
    throw new BadRequestError(
      `Invalid package version: must match ^[-a-zA-Z0-9.]+$, not only dots (at most 64 characters)`,
      {
        packageVersion: String(version).slice(0, 100),
      },
      'InvalidPackageVersion',
    );
  }
  return version;
}

/** Accepts "sha256:<hex>" or "<hex>"; returns the bare hex. */
function checkDigest(digest: unknown): string {
  const hex = typeof digest === 'string' && digest.startsWith('sha256:') ? digest.slice(7) : digest;
  if (typeof hex !== 'string' || !HEX_DIGEST.test(hex)) {
    throw new BadRequestError(
      'Invalid digest: must be sha256:<64 lowercase hex digits>',
      { digest: String(digest).slice(0, 100) },
      'InvalidDigest',
    );
  }
  return hex;
}

export function checkUploadId(id: unknown): string {
  if (typeof id !== 'string' || !UPLOAD_ID.test(id)) {
    throw new BadRequestError('Invalid upload id', undefined, 'InvalidUploadId');
  }
  return id;
}

const SEQ_WIDTH = 16;

export const keys = {
  probe: () => 'meta/probe.json',
  probeScratch: (nonce: string) => `meta/probe-scratch/${nonce}`,
  signingKey: () => 'meta/signing-key',
  snapshot: () => 'catalog/snapshot.json',
  catalogChunk: (id: string) => {
    if (!/^\d{1,16}-[a-f0-9]{64}$/.test(id)) throw new RangeError('bad chunk id');
    return `catalog/chunks/${id}.json`;
  },
  gcChunkMarks: () => 'meta/gc-chunk-marks.json',
  gcLogMark: () => 'meta/gc-log-mark.json',
  chunkPrefix: () => 'catalog/chunks/',
  logPrefix: () => 'catalog/log/',
  logEntry: (seq: number) => {
    if (!Number.isSafeInteger(seq) || seq < 1) throw new RangeError(`bad seq ${seq}`);
    return `catalog/log/${String(seq).padStart(SEQ_WIDTH, '0')}.json`;
  },
  /** Inverse of logEntry for keys from a listing. */
  seqOf: (key: string) => Number(key.slice('catalog/log/'.length, -'.json'.length)),
  blob: (digest: string) => `blobs/sha256/${checkDigest(digest)}`,
  blobPrefix: () => 'blobs/sha256/',
  uploadsPrefix: () => 'uploads/',
  uploadSession: (id: string) => `uploads/${checkUploadId(id)}/session.json`,
  uploadBlob: (id: string, digest: string) => `uploads/${checkUploadId(id)}/blobs/${checkDigest(digest)}`,
  uploadSealed: (id: string, digest: string) => `uploads/${checkUploadId(id)}/sealed/${checkDigest(digest)}`,
  uploadPrefix: (id: string) => `uploads/${checkUploadId(id)}/`,
  /** A pre-rendered /repo answer, under a folder per catalog state (garbage collection drops old states). */
  rendered: (catalogState: string, variant: string) => {
    if (!/^[A-Za-z0-9_.-]+$/.test(variant)) throw new RangeError('bad rendered key');
    return `${keys.renderedState(catalogState)}${variant}`;
  },
  /** Folder of one catalog state's pre-rendered answers: rendered/<Catalog.contentId()>/. */
  renderedState: (catalogState: string) => {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(catalogState)) throw new RangeError('bad rendered key');
    return `rendered/${catalogState}/`;
  },
  renderedPrefix: () => 'rendered/',
  /** One audit record: UTC time (yyyymmddThhmmssmmmZ, so keys sort by time) and a random id. */
  auditEntry: (stamp: string, id: string) => {
    if (!/^\d{8}T\d{9}Z$/.test(stamp) || !/^[a-f0-9]{16}$/.test(id)) throw new RangeError('bad audit key');
    return `audit/${stamp}-${id}.json`;
  },
  auditPrefix: () => 'audit/',
  /** Marks that upload <id> is for name+version, so describe finds an upload by its coordinates. */
  uploadIndexEntry: (name: string, version: string, id: string) =>
    `upload-index/${checkName(name)}/${checkVersion(version)}/${checkUploadId(id)}`,
  uploadIndexPrefix: (name: string, version: string) => `upload-index/${checkName(name)}/${checkVersion(version)}/`,
  uploadIndexRoot: () => 'upload-index/',
  gcUploadIndexMarks: () => 'meta/gc-upload-index-marks.json',
  /** Every upload index entry of a package, all versions (the web catalog lists uploads in progress). */
  uploadIndexNamePrefix: (name: string) => `upload-index/${checkName(name)}/`,
  gcRenderedMarks: () => 'meta/gc-rendered-marks.json',
};

/**
 * What a signed URL may name (the filesystem driver's /_store route enforces it, whoever
 * signed): PUT only into an upload's staging keys, GET only published blobs and rendered
 * answers. Sessions, the catalog, sealed copies and meta/ are never reachable through one.
 */
export const signedScope = {
  put: (key: string): boolean => /^uploads\/[a-z0-9]{26}\/blobs\/[a-f0-9]{64}$/.test(key),
  get: (key: string): boolean =>
    /^blobs\/sha256\/[a-f0-9]{64}$/.test(key) || /^rendered\/[A-Za-z0-9_-]{1,64}\/(?!\.+$)[A-Za-z0-9_.-]+$/.test(key),
};

/**
 * What a storage key holds, in the domain's words: the text clients get instead of the key
 * (storage keys are the store's layout, not part of the API).
 */
export function describeKey(key: string): string {
  const blob = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(key);
  if (blob) return `Blob sha256:${blob[1]}`;
  const staged = /^uploads\/([a-z0-9]{26})\/(?:blobs|sealed)\/([a-f0-9]{64})$/.exec(key);
  if (staged) return `Blob sha256:${staged[2]} of upload ${staged[1]}`;
  const upload = /^uploads\/([a-z0-9]{26})\//.exec(key);
  if (upload) return `Upload ${upload[1]}`;
  if (key.startsWith('catalog/')) return 'The catalog';
  if (key.startsWith('rendered/')) return 'A rendered repository answer';
  return 'The object';
}
