/**
 * Downloads one asset into the blob staging directory, hashing while it streams. Supports http(s)
 * (through the build's HttpClient: proxies, extra CAs, redirect rules), file: URIs and paths
 * relative to the build definition, the local ones confined to the allowed directories (local.ts).
 * Transient failures (connection resets, timeouts, 5xx, 429) are retried with backoff.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BlobStaging } from '../bundle/staging';
import { DEFAULT_RETRY, TransientHttpError, parseRetryAfter, withRetry, type RetryPolicy } from '../net/retry';
import { HttpClient, HttpDownloadError, redact } from '../net/http';
import { LocalAssetError, openLocalAsset } from './local';

class AssetDownloadError extends Error {
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
  /** The build's HTTP client; a default one (no proxy, no extra CA) when absent. */
  http?: HttpClient;
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
  const http = opts.http ?? new HttpClient();
  const shown = redact(where.url);
  try {
    return await withRetry(
      policy,
      async () => {
        const res = await http.get(where.url);
        if (res.status < 200 || res.status >= 300) {
          res.body.resume();
          const message = `GET ${shown} answered ${res.status}`;
          if (res.status >= 500 || res.status === 429) {
            throw new TransientHttpError(res.status, message, parseRetryAfter(res.headers['retry-after']));
          }
          throw new AssetDownloadError(message);
        }
        const length = Number(res.headers['content-length'] ?? Number.NaN);
        const total = Number.isFinite(length) ? length : undefined;
        const got = await opts.staging.addStream(res.body, { onBytes: (n) => opts.onBytes?.(n, total) });
        if (total !== undefined && got.size !== total) {
          throw new TransientHttpError(502, `GET ${shown}: got ${got.size} of ${total} bytes`);
        }
        return got;
      },
      opts.onRetry,
    );
  } catch (err) {
    if (err instanceof AssetDownloadError) throw err;
    if (err instanceof HttpDownloadError) throw new AssetDownloadError(`cannot download ${shown}: ${err.message}`, { cause: err });
    const code = (err as { code?: unknown }).code;
    const message = (err as Error).message;
    throw new AssetDownloadError(
      `cannot download ${shown}: ${message}${typeof code === 'string' && !message.includes(code) ? ` (${code})` : ''}`,
      {
        cause: err,
      },
    );
  } finally {
    if (!opts.http) http.close();
  }
}
