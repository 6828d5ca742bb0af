/**
 * Run-time checks of manifests fetched from a registry. Everything later code relies on — digests
 * used in URLs and file names, sizes used to bound downloads — is validated here, because the
 * registry is not trusted.
 */
import { ImagePullError } from './errors.js';
import * as mt from './media-types.js';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export interface IndexEntry extends Descriptor {
  readonly platform?: Platform;
}

export interface ImageManifest {
  readonly mediaType: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

export type ParsedManifest = { kind: 'index'; mediaType: string; manifests: IndexEntry[] } | ({ kind: 'image' } & ImageManifest);

/**
 * Classifies and validates manifest bytes. `contentType` is the response header; the JSON
 * `mediaType` field wins when present (some registries send application/json).
 */
export function parseManifest(reference: string, bytes: Uint8Array, contentType: string | undefined): ParsedManifest {
  const fail = (why: string): never => {
    throw new ImagePullError(reference, `invalid manifest: ${why}`);
  };
  const headerType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (mt.SCHEMA1_MEDIA_TYPES.includes(headerType))
    throw new ImagePullError(
      reference,
      'schema1 is not supported (Docker image manifest v2 schema 1); re-push the image with a current client',
    );
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return fail('not JSON');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail('not a JSON object');
  if (json.schemaVersion === 1)
    throw new ImagePullError(
      reference,
      'schema1 is not supported (Docker image manifest v2 schema 1); re-push the image with a current client',
    );
  if (json.schemaVersion !== 2) fail(`schemaVersion ${String(json.schemaVersion)}`);
  const mediaType = typeof json.mediaType === 'string' ? json.mediaType : headerType;

  if (
    mt.INDEX_MEDIA_TYPES.includes(mediaType) ||
    ((mediaType === '' || mediaType === 'application/json') && Array.isArray(json.manifests))
  ) {
    if (!Array.isArray(json.manifests)) fail('index without manifests');
    const manifests = (json.manifests as unknown[]).map((m, i) => {
      const d = descriptor(m, `manifests[${i}]`, fail);
      const p = (m as { platform?: Record<string, unknown> }).platform;
      const platform =
        p && typeof p.os === 'string' && typeof p.architecture === 'string'
          ? { os: p.os, architecture: p.architecture, ...(typeof p.variant === 'string' ? { variant: p.variant } : {}) }
          : undefined;
      return { ...d, ...(platform ? { platform } : {}) };
    });
    return { kind: 'index', mediaType: mediaType || mt.OCI_INDEX, manifests };
  }
  if (mt.IMAGE_MANIFEST_MEDIA_TYPES.includes(mediaType) || mediaType === '' || mediaType === 'application/json') {
    const config = descriptor(json.config, 'config', fail);
    if (!Array.isArray(json.layers)) fail('no layers');
    const layers = (json.layers as unknown[]).map((l, i) => descriptor(l, `layers[${i}]`, fail));
    return { kind: 'image', mediaType: mediaType || mt.OCI_MANIFEST, config, layers };
  }
  return fail(`unsupported media type "${mediaType}"`);
}

function descriptor(value: unknown, where: string, fail: (why: string) => never): Descriptor {
  if (value === null || typeof value !== 'object') fail(`${where} is not a descriptor`);
  const { mediaType, digest, size } = value as Record<string, unknown>;
  if (typeof digest !== 'string' || !SHA256_DIGEST.test(digest)) fail(`${where}.digest "${String(digest)}" is not a sha256 digest`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) fail(`${where}.size is not a non-negative integer`);
  return { mediaType: typeof mediaType === 'string' ? mediaType : '', digest: digest as string, size: size as number };
}

/** First entry for the platform; variant matters only when asked for. */
export function selectPlatform(entries: readonly IndexEntry[], want: Platform): IndexEntry | undefined {
  return entries.find(
    (e) =>
      e.platform?.os === want.os &&
      e.platform.architecture === want.architecture &&
      (want.variant === undefined || e.platform.variant === want.variant),
  );
}

export function formatPlatform(p: Platform | undefined): string {
  return p ? `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}` : 'unknown';
}
