/**
 * Server-side checks of an upload manifest (the bundle's manifest.json): shape and
 * internal consistency (lib/bundle/manifest), names and versions that are safe for
 * keys, package metadata valid against our Universe schemas, and every URL and image of
 * the package's resource covered by an asset or image of the bundle, so that /repo never
 * points anywhere but the registry.
 */
import { createHash } from 'node:crypto';
import { checkManifest, InvalidBundleError, type BundleManifest } from '../bundle/manifest';
import { BadRequestError, RegistryError } from '../errors';
import { checkName, checkVersion } from '../keys';
import { resourceImages, resourceUrls } from '../universe/render';
import { jsonBoundsProblem, validatePackage } from '../universe/validate';

const MAX_BLOBS = 10_000;
const MAX_BLOB_SIZE = 5 * 1024 ** 4;

/** Deterministic JSON (sorted keys) for content digests. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export function contentDigest(manifest: BundleManifest): string {
  return `sha256:${createHash('sha256').update(canonicalJson(manifest)).digest('hex')}`;
}

export function checkUploadManifest(value: unknown): BundleManifest {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new BadRequestError('Body must be {"manifest": {...}} with the bundle manifest', undefined, 'InvalidManifest');
  }
  // Before anything walks it: deep nesting would overflow the validators' stacks (a 500).
  const bounds = jsonBoundsProblem(value);
  if (bounds)
    throw new BadRequestError(
      `The manifest is too large or too deep: /manifest${bounds.replace(/^\(root\)/, '')}`,
      undefined,
      'InvalidManifest',
    );
  const pkg = (value as { package?: Record<string, unknown> }).package;
  // Names and versions first: they decide keys, so they get the clearest errors.
  checkName(pkg?.name);
  checkVersion(pkg?.version);
  const { releaseVersion: _r, selected: _s, ...entry } = pkg as Record<string, unknown>;
  const result = validatePackage(entry);
  if (!result.ok) {
    const unsupported = result.errors.some((e) => /packagingVersion/.test(e) && /not supported/i.test(e));
    throw new RegistryError(
      unsupported ? 'UnsupportedPackagingVersion' : 'InvalidPackage',
      `Invalid package metadata: ${result.errors.join('; ')}`,
      {
        errors: result.errors,
      },
    );
  }
  try {
    checkManifest(value);
  } catch (error) {
    if (error instanceof InvalidBundleError) throw new BadRequestError(error.message, undefined, 'InvalidManifest');
    throw error;
  }
  const manifest = value as BundleManifest;
  if (manifest.blobs.length > MAX_BLOBS) throw new BadRequestError(`At most ${MAX_BLOBS} blobs per bundle`, undefined, 'InvalidManifest');
  for (const b of manifest.blobs) {
    if (!Number.isSafeInteger(b.size) || b.size < 0 || b.size > MAX_BLOB_SIZE) {
      throw new BadRequestError(`Blob ${b.digest} has an invalid size`, undefined, 'InvalidManifest');
    }
  }
  const resource = manifest.package.resource as Record<string, unknown> | undefined;
  const assetUris = new Set(manifest.assets.map((a) => a.uri));
  const missing = resourceUrls(resource).filter(([, u]) => !assetUris.has(u));
  if (missing.length) {
    throw new BadRequestError(
      `The bundle lacks the file of ${missing
        .map(([p]) => `resource.${p}`)
        .slice(0, 5)
        .join(', ')}`,
      {
        missing: missing.slice(0, 20).map(([p, u]) => ({ path: p, uri: u })),
      },
      'InvalidManifest',
    );
  }
  const imageRefs = new Set(manifest.images.map((i) => i.reference));
  const missingImages = resourceImages(resource).filter(([, r]) => !imageRefs.has(r));
  if (missingImages.length) {
    throw new BadRequestError(
      `The bundle lacks the image ${missingImages[0][1]}`,
      { missing: missingImages.map(([k, r]) => ({ key: k, reference: r })) },
      'InvalidManifest',
    );
  }
  for (const a of manifest.assets) {
    if (!a.name || a.name.length > 255 || /[/\\\u0000-\u001f\u007f]/.test(a.name) || /^\.+$/.test(a.name)) {
      throw new BadRequestError(`Asset ${a.uri.slice(0, 200)} has an invalid file name`, undefined, 'InvalidManifest');
    }
  }
  for (const i of manifest.images) {
    if (
      !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(i.repository) ||
      i.repository.length > 255
    ) {
      throw new BadRequestError(`Image ${i.reference.slice(0, 200)} has an invalid repository name`, undefined, 'InvalidManifest');
    }
  }
  return manifest;
}
