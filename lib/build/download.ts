/**
 * Downloads one asset into the blob staging directory, hashing while it streams. Supports http(s)
 * (through the build's dispatcher: proxies, extra CAs), file: URIs and paths relative to the build
 * definition. Transient failures (connection resets, timeouts, 5xx, 429) are retried with backoff.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getGlobalDispatcher, interceptors, request, type Dispatcher } from 'undici';
import type { BlobStaging } from '../bundle/staging';
import { DEFAULT_RETRY, TransientHttpError, parseRetryAfter, withRetry, type RetryPolicy } from '../docker/retry';
import { LocalAssetError, openLocalAsset } from './local';

export class AssetDownloadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AssetDownloadError';
  }
}

export interface DownloadOptions {
  staging: BlobStaging;
  /** Directory that relative paths are resolved against (the build definition's directory). */
  baseDirectory: string;
  /** Real paths of the directories local files may come from (see allowedRoots); none → no local files. */
  localRoots: readonly string[];
  dispatcher?: Dispatcher;
  retry?: Partial<RetryPolicy>;
  onBytes?: (n: number, total: number | undefined) => void;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;

/** Where an asset URI points: a URL to fetch or a local file. */
export function locateAsset(uri: string, baseDirectory: string): { url: string } | { file: string } {
  const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase();
  // A one-letter "scheme" is a Windows drive letter, not a URL.
  if (!scheme || scheme.length === 1) return { file: isAbsolute(uri) ? uri : resolve(baseDirectory, uri) };
  if (scheme === 'file') {
    try {
      return { file: fileURLToPath(uri) };
    } catch (err) {
      throw new AssetDownloadError(`unusable file: URI ${uri}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (scheme === 'http' || scheme === 'https') return { url: uri };
  throw new AssetDownloadError(`unsupported URI scheme ${scheme}: in ${uri} (http, https, file or a relative path)`);
}

export async function downloadAsset(uri: string, opts: DownloadOptions): Promise<{ digest: string; size: number }> {
  const where = locateAsset(uri, opts.baseDirectory);
  if ('file' in where) {
    const local = await openLocalAsset(uri, where.file, opts.baseDirectory, opts.localRoots);
    try {
      return await opts.staging.addStream(local.stream(), { onBytes: (n) => opts.onBytes?.(n, local.size) });
    } catch (err) {
      if (err instanceof LocalAssetError) throw err;
      throw new AssetDownloadError(`cannot read ${uri}: ${(err as Error).message}`, { cause: err });
    } finally {
      await local.close();
    }
  }
  const policy = { ...DEFAULT_RETRY, ...opts.retry };
  try {
    return await withRetry(
      policy,
      async () => {
        // undici's request, not fetch: fetch would undo a Content-Encoding and store other bytes than the server's file.
        const dispatcher = (opts.dispatcher ?? getGlobalDispatcher()).compose(interceptors.redirect({ maxRedirections: 10 }));
        const res = await request(where.url, { dispatcher, headers: { 'accept-encoding': 'identity', 'user-agent': 'dcos-registry' } });
        if (res.statusCode < 200 || res.statusCode >= 300) {
          res.body.resume();
          const message = `GET ${uri} answered ${res.statusCode}`;
          if (res.statusCode >= 500 || res.statusCode === 429) {
            throw new TransientHttpError(res.statusCode, message, parseRetryAfter(res.headers['retry-after']));
          }
          throw new AssetDownloadError(message);
        }
        const length = Number(res.headers['content-length'] ?? NaN);
        const total = Number.isFinite(length) ? length : undefined;
        const got = await opts.staging.addStream(res.body, { onBytes: (n) => opts.onBytes?.(n, total) });
        if (total !== undefined && got.size !== total) {
          throw new TransientHttpError(502, `GET ${uri}: got ${got.size} of ${total} bytes`);
        }
        return got;
      },
      opts.onRetry,
    );
  } catch (err) {
    if (err instanceof AssetDownloadError) throw err;
    const detail =
      (err as Error).message +
      ((err as { cause?: { code?: string } }).cause?.code ? ` (${(err as { cause: { code: string } }).cause.code})` : '');
    throw new AssetDownloadError(`cannot download ${uri}: ${detail}`, { cause: err });
  }
}
