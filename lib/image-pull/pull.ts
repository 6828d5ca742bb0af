/**
 * Pulls one Docker/OCI image over the Docker Registry HTTP API v2 without a Docker daemon, handing
 * every blob (manifest, config, layers) to the caller's `writeBlob` as a stream that is verified
 * against its sha256 digest while it flows. Layers are never buffered; manifests and configs are
 * (they are small and must be parsed).
 *
 * Contract with `writeBlob`: it must consume `body` to the end and keep the blob only if the
 * iteration finished without throwing — a digest or size mismatch is thrown by the final read.
 * It may be called concurrently for different digests and again for the same digest after a
 * transient failure.
 */
import { createHash } from 'node:crypto';
import { HttpClient } from '../net/http.js';
import { RegistryError } from '../errors.js';
import { loadDockerCredentials } from './credentials.js';
import { DigestMismatchError, ImagePullError } from '../docker/errors.js';
import { formatPlatform, parseManifest, selectPlatform, type Descriptor, type ImageManifest, type Platform } from '../docker/manifest.js';
import { MANIFEST_ACCEPT } from '../docker/media-types.js';
import {
  formatImageReference,
  hostOf,
  isLoopbackRegistry,
  parseImageReference,
  registryApiHost,
  type ImageReference,
} from '../docker/reference.js';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from '../net/retry.js';
import { RegistryTransport } from './transport.js';

export type BlobBody = AsyncIterable<Uint8Array>;

export type PullProgress =
  | { readonly kind: 'manifest'; readonly digest: string; readonly mediaType: string }
  | { readonly kind: 'blob'; readonly digest: string; readonly transferred: number; readonly total: number }
  | { readonly kind: 'blob-skipped'; readonly digest: string; readonly total: number }
  | { readonly kind: 'retry'; readonly attempt: number; readonly delayMs: number; readonly error: string };

export interface PullOptions {
  /** Registries (host or host:port) spoken to over plain HTTP besides loopback ones. */
  readonly insecureRegistries?: readonly string[];
  /** Follow a redirect (or use a token realm) from https to plain http; refused by default. */
  readonly allowHttpsDowngrade?: boolean;
  /** Docker client config with `auths`; undefined → anonymous. See defaultDockerConfigPath. */
  readonly dockerConfigPath?: string;
  /** The HTTP client (proxies from HTTP(S)_PROXY/NO_PROXY, extra CAs); default: direct, Node's CAs. */
  readonly http?: HttpClient;
  /** Platform picked from an index / manifest list; default linux/amd64. */
  readonly platform?: Platform;
  readonly onProgress?: (event: PullProgress) => void;
  readonly writeBlob: (digest: string, size: number, body: BlobBody) => Promise<void>;
  /** Blobs the caller already holds are not downloaded (their digests were verified when stored). */
  readonly hasBlob?: (digest: string) => boolean | Promise<boolean>;
  readonly retry?: Partial<RetryPolicy>;
  /** Parallel layer downloads (Docker uses 3). */
  readonly concurrency?: number;
  readonly userAgent?: string;
  /** Deadline for each request's response headers and for each silence in a body; default 60 s. Retried like a reset. */
  readonly responseTimeoutMs?: number;
}

interface PulledLayer {
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
}

export interface PulledImage {
  /** The reference as given. */
  readonly reference: string;
  /** Normalised: "docker.io/library/nginx:latest". */
  readonly canonicalReference: string;
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string;
  /** When the reference resolved to an index / manifest list: its digest, type and bytes (not written). */
  readonly index?: { readonly digest: string; readonly mediaType: string; readonly bytes: Uint8Array };
  /** The single-platform manifest that was pulled and written. */
  readonly manifestDigest: string;
  readonly manifestMediaType: string;
  readonly manifestBytes: Uint8Array;
  readonly manifest: ImageManifest;
  readonly platform?: Platform;
  readonly configDigest: string;
  readonly configSize: number;
  readonly layers: readonly PulledLayer[];
}

const DEFAULT_PLATFORM: Platform = Object.freeze({ os: 'linux', architecture: 'amd64' });
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
const MAX_INDEX_DEPTH = 2;

export async function pullImage(reference: string, options: PullOptions): Promise<PulledImage> {
  const http = options.http ?? new HttpClient();
  try {
    return await pull(reference, { ...options, http });
  } catch (err) {
    if (err instanceof RegistryError) throw err;
    // Network errors and exhausted retries: one error type for the CLI, the original as cause.
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown })?.code;
    throw new ImagePullError(reference, `${message}${typeof code === 'string' && !message.includes(code) ? ` (${code})` : ''}`, undefined, {
      cause: err,
    });
  } finally {
    if (!options.http) http.close();
  }
}

/**
 * The pull, in the order a reader (and the registry) sees it: connect, resolve the reference to one
 * single-platform manifest, store its config, its layers, and the manifest itself last.
 */
async function pull(reference: string, options: PullOptions & { http: HttpClient }): Promise<PulledImage> {
  const session = await openSession(reference, options);
  const { fetched, manifest, index } = await resolveManifest(session);
  options.onProgress?.({ kind: 'manifest', digest: fetched.digest, mediaType: manifest.mediaType });
  const platform = await pullConfig(session, manifest.config);
  await pullLayers(session, manifest.layers);
  // Last, so a stored manifest implies its config and layers are stored too.
  if (!(await options.hasBlob?.(fetched.digest))) await options.writeBlob(fetched.digest, fetched.bytes.length, once(fetched.bytes));
  return pulledImage(session, fetched, manifest, index, platform);
}

/** What every step of one pull shares: the parsed reference, the authenticated transport, the retry policy. */
interface PullSession {
  readonly reference: string;
  readonly ref: ImageReference;
  readonly options: PullOptions & { http: HttpClient };
  readonly transport: RegistryTransport;
  readonly retry: RetryPolicy;
  readonly onRetry: (err: unknown, attempt: number, delayMs: number) => void;
}

interface FetchedManifest {
  readonly bytes: Buffer;
  readonly digest: string;
  readonly contentType?: string;
}

type SingleManifest = Exclude<ReturnType<typeof parseManifest>, { kind: 'index' }>;

/** Step 1: parse the reference, load credentials, and set up the transport (scheme, auth challenges). */
async function openSession(reference: string, options: PullOptions & { http: HttpClient }): Promise<PullSession> {
  const ref = parseImageReference(reference);
  const credentialsFor = await loadDockerCredentials(options.dockerConfigPath);
  const transport = new RegistryTransport({
    reference,
    registry: ref.registry,
    baseUrl: `${useHttp(ref, options.insecureRegistries) ? 'http' : 'https'}://${registryApiHost(ref.registry)}`,
    repository: ref.repository,
    credentials: credentialsFor(ref.registry),
    credentialsForHost: credentialsFor,
    allowHttpsDowngrade: options.allowHttpsDowngrade,
    http: options.http,
    userAgent: options.userAgent ?? 'dcos-registry',
    responseTimeoutMs: options.responseTimeoutMs ?? 60_000,
  });
  return {
    reference,
    ref,
    options,
    transport,
    retry: { ...DEFAULT_RETRY, ...options.retry },
    onRetry: (err, attempt, delayMs) =>
      options.onProgress?.({ kind: 'retry', attempt, delayMs, error: err instanceof Error ? err.message : String(err) }),
  };
}

const blobPath = (s: PullSession, digest: string) => `/v2/${s.ref.repository}/blobs/${digest}`;

/** Manifest bytes for a tag or digest, verified; by tag, against Docker-Content-Digest if sent. */
function fetchManifest(s: PullSession, tagOrDigest: string, expected?: Descriptor): Promise<FetchedManifest> {
  return withRetry(
    s.retry,
    async () => {
      const res = await s.transport.get(`/v2/${s.ref.repository}/manifests/${tagOrDigest}`, { accept: MANIFEST_ACCEPT });
      const bytes = await readAll(res.body, MAX_MANIFEST_BYTES, s.reference, 'manifest');
      const digest = sha256(bytes);
      const want =
        expected?.digest ?? (tagOrDigest.startsWith('sha256:') ? tagOrDigest : headerValue(res.headers['docker-content-digest']));
      if (want !== undefined && want !== digest) throw new DigestMismatchError(s.reference, 'manifest', want, digest);
      if (expected && expected.size !== bytes.length)
        throw new ImagePullError(s.reference, `manifest ${digest} is ${bytes.length} bytes, index says ${expected.size}`);
      return { bytes, digest, contentType: headerValue(res.headers['content-type']) };
    },
    s.onRetry,
  );
}

/**
 * Step 2: the reference's manifest; an index (manifest list) is followed to the entry for the
 * wanted platform, at most MAX_INDEX_DEPTH levels deep. The first index is kept for the result.
 */
async function resolveManifest(
  s: PullSession,
): Promise<{ fetched: FetchedManifest; manifest: SingleManifest; index?: PulledImage['index'] }> {
  const { reference, ref, options } = s;
  let fetched = await fetchManifest(s, ref.digest ?? ref.tag!);
  let parsed = parseManifest(reference, fetched.bytes, fetched.contentType);
  let index: PulledImage['index'];
  const want = options.platform ?? DEFAULT_PLATFORM;
  for (let depth = 0; parsed.kind === 'index'; depth++) {
    if (depth >= MAX_INDEX_DEPTH) throw new ImagePullError(reference, 'nested image indexes are not supported');
    options.onProgress?.({ kind: 'manifest', digest: fetched.digest, mediaType: parsed.mediaType });
    index ??= { digest: fetched.digest, mediaType: parsed.mediaType, bytes: fetched.bytes };
    const entry = selectPlatform(parsed.manifests, want);
    if (!entry) {
      const offered = [...new Set(parsed.manifests.map((m) => formatPlatform(m.platform)))].join(', ');
      throw new ImagePullError(reference, `no manifest for platform ${formatPlatform(want)} (image offers ${offered || 'none'})`, {
        platform: formatPlatform(want),
      });
    }
    fetched = await fetchManifest(s, entry.digest, entry);
    parsed = parseManifest(reference, fetched.bytes, fetched.contentType);
  }
  return { fetched, manifest: parsed, ...(index ? { index } : {}) };
}

/**
 * Step 3: the image config, unless the caller holds it. It is parsed (for the platform) and
 * therefore buffered; it is verified like any blob.
 */
async function pullConfig(s: PullSession, config: Descriptor): Promise<Platform | undefined> {
  const { reference, options } = s;
  if (await options.hasBlob?.(config.digest)) {
    options.onProgress?.({ kind: 'blob-skipped', digest: config.digest, total: config.size });
    return undefined;
  }
  if (config.size > MAX_CONFIG_BYTES) throw new ImagePullError(reference, `image config of ${config.size} bytes is too large`);
  const configBytes = await withRetry(
    s.retry,
    async () => {
      const res = await s.transport.get(blobPath(s, config.digest));
      const chunks: Uint8Array[] = [];
      for await (const chunk of verified(res.body, config, reference, 'config', options.onProgress)) chunks.push(chunk);
      return Buffer.concat(chunks);
    },
    s.onRetry,
  );
  await options.writeBlob(config.digest, configBytes.length, once(configBytes));
  return platformOf(configBytes);
}

/**
 * Step 4: the layers the caller does not hold, each once, streamed (never buffered) to writeBlob,
 * by `concurrency` workers; once one layer failed, the others take no new layers.
 */
async function pullLayers(s: PullSession, layers: readonly Descriptor[]): Promise<void> {
  const { options } = s;
  const queue = [...uniqueByDigest(layers)];
  let failed = false;
  const worker = async () => {
    for (let layer = queue.shift(); layer && !failed; layer = queue.shift()) {
      if (await options.hasBlob?.(layer.digest)) {
        options.onProgress?.({ kind: 'blob-skipped', digest: layer.digest, total: layer.size });
        continue;
      }
      await pullLayer(s, layer);
    }
  };
  const guarded = () => worker().catch((err: unknown) => ((failed = true), Promise.reject(err)));
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 3) }, guarded));
}

/** One layer, retried; writeBlob must read it to the end (the last read verifies size and digest). */
function pullLayer(s: PullSession, layer: Descriptor): Promise<void> {
  return withRetry(
    s.retry,
    async () => {
      const res = await s.transport.get(blobPath(s, layer.digest));
      const state = { done: false };
      try {
        await s.options.writeBlob(layer.digest, layer.size, verified(res.body, layer, s.reference, 'layer', s.options.onProgress, state));
      } finally {
        if (!state.done) res.body.destroy();
      }
      if (!state.done) throw new ImagePullError(s.reference, `writeBlob returned before reading all of layer ${layer.digest}`);
    },
    s.onRetry,
  );
}

/** Step 5: what the caller gets back. */
function pulledImage(
  s: PullSession,
  fetched: FetchedManifest,
  manifest: SingleManifest,
  index: PulledImage['index'],
  platform: Platform | undefined,
): PulledImage {
  const { ref } = s;
  const { config, layers, mediaType } = manifest;
  return {
    reference: s.reference,
    canonicalReference: formatImageReference(ref),
    registry: ref.registry,
    repository: ref.repository,
    ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
    ...(index ? { index } : {}),
    manifestDigest: fetched.digest,
    manifestMediaType: mediaType,
    manifestBytes: fetched.bytes,
    manifest: { mediaType, config, layers },
    ...(platform ? { platform } : {}),
    configDigest: config.digest,
    configSize: config.size,
    layers: layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
  };
}

function useHttp(ref: ImageReference, insecure: readonly string[] = []): boolean {
  return isLoopbackRegistry(ref.registry) || insecure.some((r) => r === ref.registry || r === hostOf(ref.registry));
}

/**
 * Passes chunks through while hashing and counting; the read after the last chunk throws if the
 * size or digest is wrong, so a consumer that stops at an error never keeps bad bytes.
 */
async function* verified(
  source: AsyncIterable<Uint8Array>,
  expected: Descriptor,
  reference: string,
  what: string,
  onProgress: PullOptions['onProgress'],
  state: { done: boolean } = { done: false },
): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  let transferred = 0;
  for await (const chunk of source) {
    transferred += chunk.length;
    if (transferred > expected.size)
      throw new ImagePullError(reference, `${what} ${expected.digest} is larger than its ${expected.size} bytes`);
    hash.update(chunk);
    onProgress?.({ kind: 'blob', digest: expected.digest, transferred, total: expected.size });
    yield chunk;
  }
  if (transferred !== expected.size)
    throw new ImagePullError(reference, `${what} ${expected.digest}: got ${transferred} of ${expected.size} bytes`);
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== expected.digest) throw new DigestMismatchError(reference, what, expected.digest, actual);
  state.done = true;
}

async function readAll(body: AsyncIterable<Uint8Array>, limit: number, reference: string, what: string): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of body) {
    n += chunk.length;
    if (n > limit) throw new ImagePullError(reference, `${what} larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function uniqueByDigest(layers: readonly Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return layers.filter((l) => !seen.has(l.digest) && (seen.add(l.digest), true));
}

function platformOf(configBytes: Uint8Array): Platform | undefined {
  try {
    const c = JSON.parse(Buffer.from(configBytes).toString('utf8')) as Record<string, unknown>;
    if (typeof c.os === 'string' && typeof c.architecture === 'string') {
      return { os: c.os, architecture: c.architecture, ...(typeof c.variant === 'string' ? { variant: c.variant } : {}) };
    }
  } catch {
    // A config that is not JSON is the image's problem, not the pull's: it is stored as fetched.
  }
  return undefined;
}
