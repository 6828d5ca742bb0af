/**
 * At commit, which blobs each bundled image consists of: the config and layer digests of its
 * (verified) manifest. Recorded in the catalog so /v2 answers blob requests from the catalog
 * alone, and checked against the bundle so an image whose layers were left out never becomes
 * Added (it could not be pulled).
 */
import type { BundleManifest } from '../bundle/manifest';
import type { ImageRef } from '../catalog/model';
import { RegistryError } from '../errors';
import { keys } from '../keys';
import type { Storage } from '../storage/port';
import { parseManifest } from '../docker/manifest';

/** distribution refuses bigger manifests; so do we (the bytes are read into memory). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

function invalid(image: string, why: string): RegistryError {
  return new RegistryError('InvalidPackage', `Image ${image.slice(0, 300)}: ${why}`, { reference: image.slice(0, 300) });
}

/** The bundle's images with `blobs` filled in. Throws InvalidPackage when an image cannot be served. */
export async function imagesWithBlobs(storage: Storage, manifest: BundleManifest): Promise<ImageRef[]> {
  const sizes = new Map(manifest.blobs.map((b) => [b.digest as string, b.size]));
  const parsed = new Map<string, string[]>();
  const out: ImageRef[] = [];
  for (const image of manifest.images) {
    let blobs = parsed.get(image.manifestDigest);
    if (!blobs) {
      const size = sizes.get(image.manifestDigest) ?? 0;
      if (size > MAX_MANIFEST_BYTES) throw invalid(image.reference, `manifest of ${size} bytes exceeds ${MAX_MANIFEST_BYTES}`);
      const { body } = await storage.get(keys.blob(image.manifestDigest));
      let m: ReturnType<typeof parseManifest>;
      try {
        m = parseManifest(image.reference, body, image.mediaType);
      } catch (error) {
        throw invalid(image.reference, (error as Error).message);
      }
      if (m.kind !== 'image') throw invalid(image.reference, `${image.manifestDigest} is an index, not an image manifest`);
      if (m.mediaType !== image.mediaType)
        throw invalid(image.reference, `manifest says ${m.mediaType}, the bundle says ${image.mediaType}`);
      blobs = [...new Set([m.config.digest, ...m.layers.map((l) => l.digest)])];
      for (const d of [m.config, ...m.layers]) {
        if (sizes.get(d.digest) !== d.size) throw invalid(image.reference, `blob ${d.digest} (${d.size} bytes) is not in the bundle`);
      }
      parsed.set(image.manifestDigest, blobs);
    }
    out.push({ ...image, blobs });
  }
  return out;
}
