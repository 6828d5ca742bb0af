import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { ZipFile } from 'yazl';
import { BlobStaging, writeBundle, type BundleManifest, type Digest } from '../../lib/bundle';

export const sha = (b: Buffer | string): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const definition = {
  packagingVersion: '4.0',
  name: 'hello',
  version: '1.0.0',
  maintainer: 'x@example.com',
  description: 'test',
  tags: [],
};

/** A small valid manifest over the given blobs, plus an image whose manifest references config and layer. */
export function sampleContent() {
  const asset = Buffer.from('asset bytes\n'.repeat(100));
  const layer = Buffer.from('layer bytes');
  const config = Buffer.from('{"architecture":"amd64"}');
  const imageManifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }],
    }),
  );
  const blobs = [asset, layer, config, imageManifest];
  const manifest: BundleManifest = {
    format: 'dcos-bundle/1',
    package: definition,
    assets: [{ uri: 'https://example.com/a/asset.tgz', digest: sha(asset), size: asset.length, name: 'asset.tgz' }],
    images: [
      {
        reference: 'example.com/library/nginx:1.0',
        key: 'nginx',
        repository: 'library/nginx',
        tag: '1.0',
        manifestDigest: sha(imageManifest),
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
      },
    ],
    blobs: blobs.map((b) => ({ digest: sha(b), size: b.length })).sort((a, b) => (a.digest < b.digest ? -1 : 1)),
  };
  return { manifest, blobs };
}

export async function writeSample(outputPath: string, content = sampleContent()): Promise<void> {
  const staging = await BlobStaging.create();
  try {
    for (const b of content.blobs) await staging.writeBlob(sha(b), b.length, b);
    await writeBundle({ manifest: content.manifest, blobPath: (d) => staging.blobPath(d), outputPath });
  } finally {
    await staging.dispose();
  }
}

export interface CraftEntry {
  name: string;
  data: Buffer | string;
  compress?: boolean;
}

/** Writes an arbitrary zip (no bundle rules applied) for hostile-input tests. */
export async function craftZip(path: string, entries: CraftEntry[]): Promise<void> {
  const zip = new ZipFile();
  for (const e of entries) zip.addBuffer(Buffer.from(e.data), e.name, { compress: e.compress ?? false, mtime: new Date(1980, 0, 1) });
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(path));
}

/** Standard entries of a valid bundle built from sampleContent(), to be mutated by a test. */
export function sampleEntries(content = sampleContent()): CraftEntry[] {
  const index = {
    schemaVersion: 2,
    manifests: content.manifest.images.map((i) => ({
      mediaType: i.mediaType,
      digest: i.manifestDigest,
      size: 1,
      annotations: { 'org.opencontainers.image.ref.name': i.reference },
    })),
  };
  return [
    { name: 'manifest.json', data: JSON.stringify(content.manifest), compress: true },
    { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', data: JSON.stringify(index) },
    ...content.blobs.map((b) => ({ name: `blobs/sha256/${sha(b).slice(7)}`, data: b })).sort((a, b) => (a.name < b.name ? -1 : 1)),
  ];
}

/** Offsets of central directory records, by file name. */
export function centralRecords(zip: Buffer): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (let i = zip.indexOf('PK\x01\x02', 0, 'latin1'); i >= 0; i = zip.indexOf('PK\x01\x02', i + 4, 'latin1')) {
    const nameLen = zip.readUInt16LE(i + 28);
    const name = zip.subarray(i + 46, i + 46 + nameLen).toString('utf8');
    out.set(name, [...(out.get(name) ?? []), i]);
  }
  return out;
}

/** Replaces every occurrence of a same-length byte string (entry names appear in local and central headers). */
export function replaceAll(buf: Buffer, from: string, to: string): Buffer {
  if (from.length !== to.length) throw new Error('same length only');
  const out = Buffer.from(buf);
  for (let i = out.indexOf(from); i >= 0; i = out.indexOf(from, i + 1)) out.write(to, i, 'latin1');
  return out;
}
