/**
 * `dcos-registry export`: rebuilds the `.dcos` bundle of one package version on the client from
 * the registry's public read routes, with no server route of its own:
 *
 * - GET /package/<name>/<version> (describe): the assets as uploaded (original URI, file name,
 *   digest, size, in manifest order), the images (original reference, repository, manifest
 *   digest, media type, in manifest order) and the upload's contentDigest;
 * - GET /repo (Cosmos's Accept header): the package metadata as uploaded, with releaseVersion
 *   and selected added and resource URLs / image references rewritten to the registry; both are
 *   undone here (the rewritten URL names digest and file name, which describe maps back to the
 *   original URI; docker keys are matched to images by repository and manifest digest);
 * - GET /resource/<hex>/<name> for every asset and /v2/ (the same pull code as `build`) for
 *   every image: streamed into a staging directory next to the output, never held in memory.
 *
 * The bundle is then written by the same deterministic writer as `build`. When the recovered
 * manifest has the contentDigest the registry recorded at upload, the export is byte-identical to
 * the bundle that was added (`identical: true`).
 */
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { BlobStaging } from '../bundle/staging';
import { HttpClient } from '../net/http';
import type { NetworkSettings } from '../net/network';
import { bundleFileName, refuseExistingBundle, writeBundle } from '../bundle/writer';
import type { BundleAsset, BundleImage, BundleManifest, Digest } from '../bundle/manifest';
import { describePackage, type DescribeBody } from '../client/registry';
import { pullImage, type PullProgress } from '../image-pull/pull';
import { parseImageReference } from '../docker/reference';
import type { RetryPolicy } from '../net/retry';
import { checkName, checkVersion } from '../keys';
import { mapLimit } from '../limit';
import { contentDigest } from '../uploads/manifest';
import { resourceImages } from '../universe/render';
import { COSMOS_REPO_ACCEPT, openRead, readJson } from './http';

class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportError';
  }
}

export type ExportProgress =
  | { kind: 'asset-done'; name: string; digest: string; size: number }
  | { kind: 'image'; reference: string; event: PullProgress }
  | { kind: 'image-done'; reference: string; manifestDigest: string }
  | { kind: 'write'; written: number; total: number };

export interface ExportOptions {
  /** Registry base URL. */
  url: string;
  name: string;
  version: string;
  outputDirectory: string;
  dispatcher?: Dispatcher;
  /** Proxies and CA for the image pulls from /v2 (lib/net/http.ts). */
  network?: NetworkSettings;
  retry?: Partial<RetryPolicy>;
  /** Parallel asset downloads (default 4). */
  concurrency?: number;
  onProgress?: (event: ExportProgress) => void;
}

export interface ExportResult {
  path: string;
  manifest: BundleManifest;
  /** The contentDigest the registry recorded at upload. */
  sourceDigest: string;
  /** true when the recovered manifest has that digest: the file is the bundle that was added, byte for byte. */
  identical: boolean;
  /** What could not be recovered exactly (see docs/bundle.md, "Exported bundles"). */
  notes: string[];
}

type Json = Record<string, unknown>;
type DescribedAsset = { uri: string; name: string; digest: string; size: number };
type DescribedImage = { reference: string; repository: string; manifestDigest: string; mediaType: string };

const RESOURCE_URL = /\/resource\/([a-f0-9]{64})\/([^/?#]+)$/;
const REWRITTEN_IMAGE = /^(?:[^/]+)\/(.+)@(sha256:[a-f0-9]{64})$/;

function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export { bundleFileName };

/** The /repo entry of name@version, as the registry serves it to Cosmos. */
export async function repoEntry(
  opts: { url: string; dispatcher?: Dispatcher; retry?: Partial<RetryPolicy> },
  name: string,
  version: string,
) {
  const repo = await readJson<{ packages?: Json[] }>(opts, '/repo', COSMOS_REPO_ACCEPT);
  const entry = (repo.packages ?? []).find((p) => p.name === name && p.version === version);
  if (!entry) throw new ExportError(`${name} ${version} is not in the registry's /repo`);
  return entry;
}

/**
 * The build definition as uploaded, from the served /repo entry: releaseVersion and selected
 * dropped, every rewritten URL and image reference put back. Pure, for tests.
 */
export function recoverPackage(
  entry: Json,
  described: { resources: DescribedAsset[]; images: DescribedImage[] },
): { pkg: Json; keys: string[]; notes: string[] } {
  const notes: string[] = [];
  const { releaseVersion: _r, selected: _s, ...pkg } = structuredClone(entry);
  const resource = pkg.resource as Json | undefined;
  const original = (u: string, path: string): string => {
    const m = RESOURCE_URL.exec(u);
    if (!m) return u;
    const candidates = described.resources.filter((a) => a.digest === `sha256:${m[1]}` && a.name === decoded(m[2]!));
    if (candidates.length === 0) return u;
    if (candidates.length > 1) {
      notes.push(
        `resource.${path}: ${candidates.length} original URIs (${candidates.map((c) => c.uri).join(', ')}) have the same file and name; used ${candidates[0]!.uri}`,
      );
    }
    return candidates[0]!.uri;
  };
  if (resource) {
    const uris = (resource.assets as Json | undefined)?.uris as Json | undefined;
    if (uris) for (const k of Object.keys(uris)) if (typeof uris[k] === 'string') uris[k] = original(uris[k] as string, `assets.uris.${k}`);
    const images = resource.images as Json | undefined;
    for (const k of Object.keys(images ?? {})) {
      const v = images![k];
      if (typeof v === 'string') images![k] = original(v, `images.${k}`);
      else if (Array.isArray(v)) images![k] = v.map((u, i) => (typeof u === 'string' ? original(u, `images.${k}.${i}`) : u));
    }
    const binaries = (resource.cli as Json | undefined)?.binaries as Json | undefined;
    for (const [os, arches] of Object.entries(binaries ?? {})) {
      for (const [arch, bin] of Object.entries((arches as Json) ?? {})) {
        const b = bin as Json;
        if (b && typeof b.url === 'string') b.url = original(b.url, `cli.binaries.${os}.${arch}.url`);
      }
    }
  }
  // Docker: the bundle lists one image per key, sorted by key (lib/builder/resources.ts imageSources),
  // and describe returns them in that order; a key is matched by position when the rewritten
  // reference agrees, else by the only image with that repository and digest.
  const docker = ((resource?.assets as Json | undefined)?.container as Json | undefined)?.docker as Json | undefined;
  const entries = resourceImages(resource).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const keys: string[] = [];
  for (const [i, [key, rewritten]] of entries.entries()) {
    const m = REWRITTEN_IMAGE.exec(rewritten);
    if (!m) continue; // not rewritten: the registry did not have it either
    const matches = (img: DescribedImage | undefined) => img && img.repository === m[1] && img.manifestDigest === m[2];
    let img = described.images.length === entries.length && matches(described.images[i]) ? described.images[i] : undefined;
    if (!img) {
      const candidates = described.images.filter(matches);
      if (candidates.length !== 1)
        throw new ExportError(`cannot tell which original reference resource.assets.container.docker.${key} had (${rewritten})`);
      img = candidates[0];
    }
    docker![key] = img!.reference;
    keys[described.images.indexOf(img!)] = key;
  }
  return { pkg, keys, notes };
}

export async function exportBundle(opts: ExportOptions): Promise<ExportResult> {
  const { name, version } = opts;
  // The coordinates become a file name: only what a registry can hold (no '/', no '..').
  checkName(name);
  checkVersion(version);
  const path = join(opts.outputDirectory, bundleFileName(name, version));
  await refuseExistingBundle(path);
  const progress = opts.onProgress ?? (() => undefined);
  const client = { url: opts.url, dispatcher: opts.dispatcher, retry: opts.retry };
  const described = (await describePackage(client, name, version)) as DescribeBody & {
    resources: DescribedAsset[];
    images: DescribedImage[];
    contentDigest: string;
    blobs: number;
    size: number;
  };
  const entry = await repoEntry(client, name, version);
  const { pkg, keys, notes } = recoverPackage(entry, described);
  const missingKey = described.images.findIndex((_, i) => keys[i] === undefined);
  if (missingKey >= 0) throw new ExportError(`image ${described.images[missingKey]!.reference} has no key in the served resource`);

  const staging = await BlobStaging.create(opts.outputDirectory).catch((err: Error) => {
    throw new ExportError(`cannot write to ${opts.outputDirectory}: ${err.message}`);
  });
  try {
    const blobs = new Map<string, number>();
    const distinct = [...new Map(described.resources.map((a) => [a.digest, a])).values()];
    await mapLimit(distinct, opts.concurrency ?? 4, async (a) => {
      const hex = a.digest.replace(/^sha256:/, '');
      const { body } = await openRead(client, `/resource/${hex}/${encodeURIComponent(a.name)}`, '*/*');
      await staging.writeBlob(a.digest, a.size, body);
      blobs.set(a.digest, a.size);
      progress({ kind: 'asset-done', name: a.name, digest: a.digest, size: a.size });
    });
    const assets: BundleAsset[] = described.resources.map((a) => ({ uri: a.uri, digest: a.digest as Digest, size: a.size, name: a.name }));

    const base = new URL(opts.url);
    const images: BundleImage[] = [];
    const http = new HttpClient({ ...opts.network });
    try {
      for (const [i, img] of described.images.entries()) {
        const pulled = await pullImage(`${base.host}/${img.repository}@${img.manifestDigest}`, {
          insecureRegistries: base.protocol === 'http:' ? [base.host] : [],
          http,
          retry: opts.retry,
          writeBlob: (digest, size, body) => staging.writeBlob(digest, size, body),
          hasBlob: (digest) => staging.hasBlob(digest),
          onProgress: (event) => progress({ kind: 'image', reference: img.reference, event }),
        });
        if (pulled.manifestDigest !== img.manifestDigest)
          throw new ExportError(`registry served ${pulled.manifestDigest} for ${img.repository}@${img.manifestDigest}`);
        blobs.set(pulled.manifestDigest, pulled.manifestBytes.length);
        blobs.set(pulled.configDigest, pulled.configSize);
        for (const layer of pulled.layers) blobs.set(layer.digest, layer.size);
        let tag: string | null = null;
        try {
          tag = parseImageReference(img.reference).tag ?? null;
        } catch {
          notes.push(`image ${img.reference}: not a parsable reference, tag recorded as null`);
        }
        images.push({
          reference: img.reference,
          key: keys[i]!,
          repository: img.repository,
          tag,
          manifestDigest: img.manifestDigest as Digest,
          mediaType: img.mediaType,
        });
        progress({ kind: 'image-done', reference: img.reference, manifestDigest: img.manifestDigest });
      }
    } finally {
      http.close();
    }

    const manifest: BundleManifest = {
      format: 'dcos-bundle/1',
      package: pkg as BundleManifest['package'],
      assets,
      images,
      blobs: [...blobs]
        .map(([digest, size]) => ({ digest: digest as Digest, size }))
        .sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0)),
    };
    if (manifest.blobs.length !== described.blobs)
      notes.push(`the registry recorded ${described.blobs} blobs for this version, the export has ${manifest.blobs.length}`);
    await writeBundle({
      manifest,
      blobPath: (d) => staging.blobPath(d),
      outputPath: path,
      onProgress: (e) => progress({ kind: 'write', ...e }),
    });
    const identical = contentDigest(manifest) === described.contentDigest;
    return { path, manifest, sourceDigest: described.contentDigest, identical, notes };
  } finally {
    await staging.dispose();
  }
}
