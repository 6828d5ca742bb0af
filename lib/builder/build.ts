/**
 * `dcos-registry build`: build definition → `<name>-<version>.dcos`. Validates the definition,
 * downloads every asset (parallel, retried, contentHash checked), pulls every Docker image into a
 * content-addressed staging directory next to the output (same filesystem, so multi-GB bundles do
 * not fill /tmp), then streams the bundle out. A failed build leaves no bundle and no staging.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BlobStaging } from '../bundle/staging';
import { bundleFileName, refuseExistingBundle, writeBundle } from '../bundle/writer';
import type { BundleAsset, BundleImage, BundleManifest, Digest } from '../bundle/manifest';
import { pullImage, type PullProgress } from '../image-pull/pull';
import type { RetryPolicy } from '../net/retry';
import { validateBuildDefinition } from '../universe/validate';
import { downloadAsset, locateAsset } from './download';
import { HttpClient } from '../net/http';
import type { NetworkSettings } from '../net/network';
import { allowedRoots, openLocalAsset } from './local';
import { mapLimit } from '../limit';
import { assetName, assetSources, imageSources } from './resources';

class BuildError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BuildError';
  }
}

export type BuildProgress =
  | { kind: 'asset-start'; uri: string }
  | { kind: 'asset'; uri: string; transferred: number; total?: number }
  | { kind: 'asset-done'; uri: string; digest: string; size: number }
  | { kind: 'image-start'; reference: string }
  | { kind: 'image'; reference: string; event: PullProgress }
  | { kind: 'image-done'; reference: string; manifestDigest: string }
  | { kind: 'retry'; what: string; attempt: number; delayMs: number; error: string }
  | { kind: 'write'; written: number; total: number };

export interface BuildOptions {
  definitionFile: string;
  /** Created when missing. */
  outputDirectory: string;
  /**
   * Directories local assets may come from besides the definition's own directory (--allow-local-dir).
   * A definition never widens this: a local file elsewhere fails the build.
   */
  allowLocalDirectories?: readonly string[];
  insecureRegistries?: readonly string[];
  dockerConfigPath?: string;
  /** Proxies and extra CAs, for assets and images alike (the CLI reads them from the environment). */
  network?: NetworkSettings;
  /** Follow an asset redirect from https to plain http (--allow-https-downgrade); refused by default. */
  allowHttpsDowngrade?: boolean;
  onProgress?: (event: BuildProgress) => void;
  /** Parallel asset downloads (default 4). */
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
}

export interface BuildResult {
  path: string;
  manifest: BundleManifest;
}

async function readDefinition(file: string) {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new BuildError(`cannot read build definition ${file}: ${(err as Error).message}`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BuildError(`${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const result = validateBuildDefinition(value);
  if (!result.ok) throw new BuildError(`invalid build definition ${file}: ${result.errors.join('; ')}`);
  return result.definition;
}

const byDigest = (a: { digest: string }, b: { digest: string }) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0);

export async function buildBundle(opts: BuildOptions): Promise<BuildResult> {
  const definition = await readDefinition(opts.definitionFile);
  const localRoots = await allowedRoots([dirname(opts.definitionFile), ...(opts.allowLocalDirectories ?? [])]);
  const path = join(opts.outputDirectory, bundleFileName(definition.name, definition.version));
  await refuseExistingBundle(path);

  const progress = opts.onProgress ?? (() => undefined);
  // Before the staging directory exists: a bad CA file fails here, leaving nothing.
  let http: HttpClient;
  try {
    http = new HttpClient({ ...opts.network, allowHttpsDowngrade: opts.allowHttpsDowngrade });
  } catch (err) {
    throw new BuildError(`cannot set up downloads: ${(err as Error).message}`, { cause: err });
  }
  const staging = await mkdir(opts.outputDirectory, { recursive: true })
    .then(() => BlobStaging.create(opts.outputDirectory))
    .catch((err: Error) => {
      http.close();
      throw new BuildError(`cannot write to ${opts.outputDirectory}: ${err.message}`, { cause: err });
    });
  try {
    const blobs = new Map<string, number>();
    const resource = (definition as { resource?: unknown }).resource;

    // Local files are checked before anything is downloaded: a refused path fails at once.
    for (const source of assetSources(resource)) {
      const where = locateAsset(source.uri, dirname(opts.definitionFile));
      if ('file' in where) await (await openLocalAsset(source.uri, where.file, dirname(opts.definitionFile), localRoots)).close();
    }

    const assets: BundleAsset[] = await mapLimit(assetSources(resource), opts.concurrency ?? 4, async (source) => {
      let transferred = 0;
      progress({ kind: 'asset-start', uri: source.uri });
      const got = await downloadAsset(source.uri, {
        staging,
        baseDirectory: dirname(opts.definitionFile),
        localRoots,
        http,
        retry: opts.retry,
        onBytes: (n, total) => progress({ kind: 'asset', uri: source.uri, transferred: (transferred += n), total }),
        onRetry: (err, attempt, delayMs) => {
          transferred = 0;
          progress({ kind: 'retry', what: source.uri, attempt, delayMs, error: (err as Error).message });
        },
      });
      if (source.sha256 && got.digest !== `sha256:${source.sha256}`) {
        throw new BuildError(`contentHash mismatch for ${source.uri}: expected sha256 ${source.sha256}, downloaded ${got.digest.slice(7)}`);
      }
      blobs.set(got.digest, got.size);
      progress({ kind: 'asset-done', uri: source.uri, ...got });
      return { uri: source.uri, digest: got.digest as Digest, size: got.size, name: assetName(source.uri) };
    });

    const images: BundleImage[] = [];
    // One image at a time: pullImage already downloads layers in parallel.
    for (const [key, reference] of imageSources(resource)) {
      progress({ kind: 'image-start', reference });
      const pulled = await pullImage(reference, {
        insecureRegistries: opts.insecureRegistries,
        dockerConfigPath: opts.dockerConfigPath,
        allowHttpsDowngrade: opts.allowHttpsDowngrade,
        http,
        retry: opts.retry,
        writeBlob: (digest, size, body) => staging.writeBlob(digest, size, body),
        hasBlob: (digest) => staging.hasBlob(digest),
        onProgress: (event) => progress({ kind: 'image', reference, event }),
      });
      blobs.set(pulled.manifestDigest, pulled.manifestBytes.length);
      blobs.set(pulled.configDigest, pulled.configSize);
      for (const layer of pulled.layers) blobs.set(layer.digest, layer.size);
      images.push({
        reference,
        key,
        repository: pulled.repository,
        tag: pulled.tag ?? null,
        manifestDigest: pulled.manifestDigest as Digest,
        mediaType: pulled.manifestMediaType,
      });
      progress({ kind: 'image-done', reference, manifestDigest: pulled.manifestDigest });
    }

    const manifest: BundleManifest = {
      format: 'dcos-bundle/1',
      package: definition as unknown as BundleManifest['package'],
      assets,
      images,
      blobs: [...blobs].map(([digest, size]) => ({ digest: digest as Digest, size })).sort(byDigest),
    };
    await writeBundle({
      manifest,
      blobPath: (d) => staging.blobPath(d),
      outputPath: path,
      onProgress: (e) => progress({ kind: 'write', ...e }),
    });
    return { path, manifest };
  } finally {
    http.close();
    await staging.dispose();
  }
}
