/**
 * The OCI image layout part of a bundle: `oci-layout` and `index.json`. The index lists each
 * image's manifest once per original reference, annotated with that reference, so tools that
 * read OCI layouts (skopeo `oci:` transport) and the registry can map references to digests.
 */
import type { BundleImage } from './manifest';

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';

export interface OciIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: { mediaType: string; digest: string; size: number; annotations: Record<string, string> }[];
}

export function ociLayoutJson(): string {
  return JSON.stringify({ imageLayoutVersion: '1.0.0' });
}

export function buildOciIndex(images: readonly BundleImage[], sizeOf: (digest: string) => number): OciIndex {
  return {
    schemaVersion: 2,
    mediaType: OCI_INDEX_MEDIA_TYPE,
    manifests: images.map((i) => ({
      mediaType: i.mediaType,
      digest: i.manifestDigest,
      size: sizeOf(i.manifestDigest),
      annotations: { [REF_NAME_ANNOTATION]: i.reference },
    })),
  };
}
