/**
 * /repo as a Lambda answers it, for in-process tests: repoAnswer's BytesResponse through the
 * Lambda adapter's own decision (lib/http/lambda.ts lambdaResponse: inline while it fits, else
 * a 307 to the stored rendering), and the document a client following that answer ends up with.
 */
import { gunzipSync } from 'node:zlib';
import { type Answer, isBytes, type Response } from '../../lib/http/handler';
import { lambdaResponse } from '../../lib/http/lambda';
import type { Registry } from '../../lib/registry';
import { repoAnswer, type RepoRequest } from '../../lib/repo';
import type { Storage } from '../../lib/storage/port';
import { keyFromStorePath } from '../../lib/storage/signing';

export async function asLambda(answer: Answer, head = false): Promise<Response> {
  if (isBytes(answer)) return lambdaResponse(answer, head);
  if ('stream' in answer) throw new Error('/repo never answers a stream');
  return answer;
}

/** repoAnswer as the repo function's Lambda answers it. */
export async function viaLambda(registry: Registry, req: RepoRequest): Promise<Response> {
  return asLambda(await repoAnswer(registry, req));
}

export interface Fetched {
  /** The final answer's Content-Type and Content-Encoding (the redirect target's when redirected). */
  contentType: string | null;
  contentEncoding: string | null;
  /** The bytes as they crossed the wire (gzip when contentEncoding says so). */
  wire: Buffer;
  /** The JSON document. */
  doc: any;
}

/**
 * Follows a 200 or a 307 as a client does. A filesystem target is the registry's own /_store
 * route: its grant is checked and the object read; an S3 target is fetched (undici decodes a
 * gzip answer itself, so the wire bytes are read back from the store to compare).
 */
export async function follow(storage: Storage, res: Response, base?: string): Promise<Fetched> {
  const decode = (wire: Buffer, encoding: string | null) => JSON.parse((encoding === 'gzip' ? gunzipSync(wire) : wire).toString('utf8'));
  if (res.statusCode === 200) {
    const wire = Buffer.from(res.body ?? '', res.isBase64Encoded ? 'base64' : 'utf8');
    const contentEncoding = (res.headers?.['content-encoding'] as string | undefined) ?? null;
    return { contentType: String(res.headers!['content-type']), contentEncoding, wire, doc: decode(wire, contentEncoding) };
  }
  if (res.statusCode !== 307) throw new Error(`/repo answered ${res.statusCode}`);
  const location = new URL(String(res.headers!.location));
  if (storage.urls?.servedBy === 'registry') {
    // The target is the registry's own /_store route (the filesystem driver): check its grant.
    if (base !== undefined && location.origin !== base) throw new Error(`redirect to ${location.origin}, not ${base}`);
    const key = keyFromStorePath(location.pathname)!;
    const grant = await storage.urls.endpoint.verify({ method: 'GET', key, query: Object.fromEntries(location.searchParams) });
    const wire = (await storage.get(grant.key)).body;
    const contentEncoding = grant.contentEncoding ?? null;
    return { contentType: grant.contentType ?? null, contentEncoding, wire, doc: decode(wire, contentEncoding) };
  }
  const r = await fetch(location);
  if (r.status !== 200) throw new Error(`GET of the stored rendering answered ${r.status}`);
  const doc = await r.json();
  const key = decodeURIComponent(location.pathname).split('/rendered/')[1];
  const wire = key === undefined ? Buffer.alloc(0) : (await storage.get(`rendered/${key}`)).body;
  return { contentType: r.headers.get('content-type'), contentEncoding: r.headers.get('content-encoding'), wire, doc };
}
