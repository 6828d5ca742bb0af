/**
 * The manifest of a `.dcos` bundle (manifest.json, the first zip entry). Its JSON Schema is
 * manifest-schema.json next to this file; docs/bundle.md describes the whole format.
 */
import Ajv from 'ajv';
import schema from './manifest-schema.json';

export const BUNDLE_FORMAT = 'dcos-bundle/1';
/** manifest.json and index.json larger than this are refused before they are parsed. */
export const MAX_METADATA_BYTES = 5 * 1024 * 1024;

export type Digest = `sha256:${string}`;

/** A Universe repository entry without releaseVersion/selected (validated by lib/universe). */
interface BuildDefinition {
  packagingVersion: string;
  name: string;
  version: string;
  [key: string]: unknown;
}

export interface BundleAsset {
  /** The URI exactly as written in the package's resource. */
  uri: string;
  digest: Digest;
  size: number;
  /** The last path segment of the URI: the file name the registry serves it under. */
  name: string;
}

export interface BundleImage {
  /** The reference exactly as written in resource.assets.container.docker. */
  reference: string;
  /** The key of that reference in resource.assets.container.docker. */
  key: string;
  /** Repository path without the registry host, e.g. library/nginx. */
  repository: string;
  tag: string | null;
  manifestDigest: Digest;
  /** Media type of the image manifest (Docker schema2 or OCI). */
  mediaType: string;
}

interface BundleBlob {
  digest: Digest;
  size: number;
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  package: BuildDefinition;
  assets: BundleAsset[];
  images: BundleImage[];
  blobs: BundleBlob[];
}

export class InvalidBundleError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`Invalid bundle: ${message}`, options);
    this.name = 'InvalidBundleError';
  }
}

let compiled: ReturnType<Ajv['compile']> | undefined;

/**
 * Checks the manifest's shape and its internal consistency (sorted, unique blobs; every asset
 * digest and image manifest listed as a blob with the same size). Throws InvalidBundleError.
 */
export function checkManifest(value: unknown): asserts value is BundleManifest {
  compiled ??= new Ajv({ allErrors: false, strict: false }).compile(schema);
  if (!compiled(value)) {
    const e = compiled.errors?.[0];
    throw new InvalidBundleError(`manifest.json ${e?.instancePath || '/'} ${e?.message ?? 'is invalid'}`);
  }
  const m = value as BundleManifest;
  const sizes = new Map<string, number>();
  let previous = '';
  for (const b of m.blobs) {
    if (b.digest <= previous) throw new InvalidBundleError(`manifest.json blobs are not sorted and unique at ${b.digest}`);
    previous = b.digest;
    sizes.set(b.digest, b.size);
  }
  for (const a of m.assets) {
    if (sizes.get(a.digest) !== a.size)
      throw new InvalidBundleError(`asset ${a.uri} names blob ${a.digest} of size ${a.size}, not listed in blobs`);
  }
  for (const i of m.images) {
    if (!sizes.has(i.manifestDigest))
      throw new InvalidBundleError(`image ${i.reference} names manifest ${i.manifestDigest}, not listed in blobs`);
  }
}

/** Zip entry name of a blob. */
export function blobEntryName(digest: string): string {
  return `blobs/sha256/${digest.slice('sha256:'.length)}`;
}
