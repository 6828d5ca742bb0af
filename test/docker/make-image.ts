/**
 * Builds small OCI image layouts on disk for tests (no Docker, no fixtures in git): random
 * gzip layers holding a one-file tar written by hand, a config, an OCI manifest per platform and,
 * for several platforms, an OCI index. `pushWithSkopeo` then copies the layout into a registry.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as mt from '../../lib/docker/media-types.js';

interface BlobRef {
  digest: string;
  size: number;
  mediaType: string;
}

interface TestPlatformImage {
  platform: { os: string; architecture: string; variant?: string };
  manifest: BlobRef;
  config: BlobRef;
  layers: BlobRef[];
}

export interface TestImageLayout {
  dir: string;
  tag: string;
  /** What index.json points at: the index for multi-platform images, else the one manifest. */
  top: BlobRef;
  images: TestPlatformImage[];
}

export interface MakeImageOptions {
  tag?: string;
  platforms?: { os: string; architecture: string; variant?: string }[];
  /** Bytes of random file content per layer (random data does not compress). */
  layerSizes?: number[];
}

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A POSIX ustar archive holding one regular file. */
function tarOneFile(name: string, content: Uint8Array): Buffer {
  const header = Buffer.alloc(512);
  const field = (value: string, offset: number, length: number) => header.write(value, offset, length, 'ascii');
  const octal = (n: number, width: number) => n.toString(8).padStart(width - 1, '0') + '\0';
  field(name, 0, 100);
  field(octal(0o644, 8), 100, 8);
  field(octal(0, 8), 108, 8); // uid
  field(octal(0, 8), 116, 8); // gid
  field(octal(content.length, 12), 124, 12);
  field(octal(0, 12), 136, 12); // mtime: fixed, so a layer depends only on its content
  field('        ', 148, 8); // checksum counts as spaces while it is computed
  field('0', 156, 1);
  field('ustar\0', 257, 6);
  field('00', 263, 2);
  let sum = 0;
  for (const b of header) sum += b;
  field(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

export function makeOciImage(dir: string, options: MakeImageOptions = {}): TestImageLayout {
  const tag = options.tag ?? 'v1';
  const platforms = options.platforms ?? [{ os: 'linux', architecture: 'amd64' }];
  const layerSizes = options.layerSizes ?? [2048, 100_000];
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (bytes: Uint8Array, mediaType: string): BlobRef => {
    const digest = sha256(bytes);
    writeFileSync(join(blobs, digest.slice('sha256:'.length)), bytes);
    return { digest, size: bytes.length, mediaType };
  };
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));

  const images = platforms.map((platform): TestPlatformImage => {
    const tars = layerSizes.map((size, i) => tarOneFile(`file-${i}.bin`, randomBytes(size)));
    const layers = tars.map((t) => put(gzipSync(t), mt.OCI_LAYER_GZIP));
    const config = put(
      json({
        architecture: platform.architecture,
        os: platform.os,
        ...(platform.variant ? { variant: platform.variant } : {}),
        config: { Cmd: ['/file-0.bin'] },
        rootfs: { type: 'layers', diff_ids: tars.map(sha256) },
        history: tars.map(() => ({ created_by: 'make-image.ts' })),
      }),
      mt.OCI_CONFIG,
    );
    const manifest = put(
      json({
        schemaVersion: 2,
        mediaType: mt.OCI_MANIFEST,
        config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
        layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
      }),
      mt.OCI_MANIFEST,
    );
    return { platform, manifest, config, layers };
  });

  const top =
    images.length === 1
      ? images[0]!.manifest
      : put(
          json({
            schemaVersion: 2,
            mediaType: mt.OCI_INDEX,
            manifests: images.map((i) => ({
              mediaType: i.manifest.mediaType,
              digest: i.manifest.digest,
              size: i.manifest.size,
              platform: i.platform,
            })),
          }),
          mt.OCI_INDEX,
        );
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: mt.OCI_LAYOUT_VERSION }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: mt.OCI_INDEX,
      manifests: [
        { mediaType: top.mediaType, digest: top.digest, size: top.size, annotations: { 'org.opencontainers.image.ref.name': tag } },
      ],
    }),
  );
  return { dir, tag, top, images };
}

export interface SkopeoOptions {
  /** "v2s2" converts to Docker schema2 (and a manifest list for --all); default keeps OCI. */
  format?: 'v2s2' | 'oci';
  /** Copy every platform of an index, not just the current one. */
  all?: boolean;
  /** "user:password" for the destination. */
  creds?: string;
}

/** Asynchronous on purpose: a token realm served by the test process must keep answering. */
function skopeo(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', args, { encoding: 'buffer', timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`skopeo ${args.join(' ')} failed: ${err.message} ${stderr.toString()}`));
      else resolve(stdout);
    });
  });
}

/** `skopeo copy oci:<dir>:<tag> docker://<dest>` over plain HTTP. */
export async function pushWithSkopeo(layout: TestImageLayout, dest: string, options: SkopeoOptions = {}): Promise<void> {
  await skopeo([
    'copy',
    '--quiet',
    '--dest-tls-verify=false',
    ...(options.format ? ['--format', options.format] : []),
    ...(options.all ? ['--all'] : []),
    ...(options.creds ? ['--dest-creds', options.creds] : []),
    `oci:${layout.dir}:${layout.tag}`,
    `docker://${dest}`,
  ]);
}

/** What the registry serves for `ref`, as skopeo sees it: raw manifest bytes and their digest. */
export async function skopeoInspectRaw(ref: string, creds?: string): Promise<{ bytes: Buffer; digest: string; json: any }> {
  const bytes = await skopeo(['inspect', '--raw', '--tls-verify=false', ...(creds ? ['--creds', creds] : []), `docker://${ref}`]);
  return { bytes, digest: sha256(bytes), json: JSON.parse(bytes.toString('utf8')) };
}
