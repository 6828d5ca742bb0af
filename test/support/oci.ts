/**
 * An image manifest (OCI, or Docker's schema 2) over a config and gzip layers, as the bytes a
 * registry serves and their digest: the image fixtures of the tests that seed a package with a
 * Docker image (the layers are bytes nothing unpacks).
 */
import * as mt from '../../lib/docker/media-types';
import { sha256 } from './fixtures';

const MEDIA_TYPES = {
  oci: { manifest: mt.OCI_MANIFEST, config: mt.OCI_CONFIG, layer: mt.OCI_LAYER_GZIP },
  docker: { manifest: mt.DOCKER_MANIFEST, config: mt.DOCKER_CONFIG, layer: mt.DOCKER_LAYER_GZIP },
} as const;

export function imageManifest(
  config: Buffer,
  layers: Buffer[],
  format: keyof typeof MEDIA_TYPES = 'oci',
): { bytes: Buffer; digest: string } {
  const types = MEDIA_TYPES[format];
  const desc = (b: Buffer, mediaType: string) => ({ mediaType, digest: sha256(b), size: b.length });
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: types.manifest,
      config: desc(config, types.config),
      layers: layers.map((l) => desc(l, types.layer)),
    }),
  );
  return { bytes, digest: sha256(bytes) };
}
