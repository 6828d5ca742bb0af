/**
 * Plain reads of a registry's public routes (/repo, /resource), following the redirects to
 * signed store URLs by hand: a redirect never carries the request's headers beyond Accept, and
 * at most MAX_REDIRECTS are followed. Bodies are streamed to the caller.
 */
import type { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { DEFAULT_RETRY, TransientHttpError, withRetry, type RetryPolicy } from '../net/retry';
import { RegistryApiError, endpoint } from '../client/http';

const MAX_REDIRECTS = 5;

/** Cosmos's Accept header for the repository index (newest first). */
export const COSMOS_REPO_ACCEPT = ['v5', 'v4', 'v3']
  .map((v, i) => `application/vnd.dcos.universe.repo+json;charset=utf-8;version=${v}${i ? `;q=0.${9 - i}` : ''}`)
  .join(',');

export interface ReadOptions {
  url: string;
  dispatcher?: Dispatcher;
  retry?: Partial<RetryPolicy>;
}

/** GET `path` on the registry; the caller must consume or destroy the body. */
export async function openRead(opts: ReadOptions, path: string, accept: string): Promise<{ body: Readable; length?: number }> {
  return withRetry({ ...DEFAULT_RETRY, ...opts.retry }, async () => {
    let url = endpoint(opts.url, path);
    for (let hops = 0; ; hops++) {
      const res = await request(url, {
        method: 'GET',
        headers: { accept, 'user-agent': 'dcos-registry-cli' },
        dispatcher: opts.dispatcher,
      });
      const location = res.headers.location;
      if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === 'string' && hops < MAX_REDIRECTS) {
        await res.body.dump();
        url = new URL(location, url).toString();
        continue;
      }
      if (res.statusCode >= 200 && res.statusCode < 300) {
        const len = Number(res.headers['content-length']);
        return { body: res.body as unknown as Readable, length: Number.isFinite(len) ? len : undefined };
      }
      const text = await res.body.text().catch(() => '');
      const message = `GET ${path} answered ${res.statusCode}${text ? `: ${text.slice(0, 200).replace(/\s+/g, ' ')}` : ''}`;
      if (res.statusCode >= 500 || res.statusCode === 429) throw new TransientHttpError(res.statusCode, message);
      throw new RegistryApiError(res.statusCode, `Http${res.statusCode}`, message);
    }
  });
}

export async function readJson<T>(opts: ReadOptions, path: string, accept: string): Promise<T> {
  const { body } = await openRead(opts, path, accept);
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
}
