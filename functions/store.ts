/**
 * /_store/{key+}: the filesystem driver's signed upload and download targets. The URL's
 * HMAC signature is the authorization (route table: `signed-url`), checked before any
 * body byte is read; `req.grant` is what it grants. One implementation for both runtimes:
 * the production server streams both ways, Lambda buffers within its payload limit.
 */
import { parseRange } from '../lib/downloads';
import { storeEndpointOf } from '../lib/http/auth';
import { json, type Request, type StreamResponse } from '../lib/http/handler';
import { contentDisposition } from '../lib/http/headers';
import { lambdaHandler } from '../lib/http/lambda';
import { ForbiddenError } from '../lib/storage/signing';

async function storeGet(req: Request): Promise<StreamResponse | ReturnType<typeof json>> {
  storeEndpointOf(req.registry);
  const { storage } = req.registry;
  const grant = req.grant!;
  const headers: Record<string, string> = {
    'content-type': grant.contentType ?? 'application/octet-stream',
    'accept-ranges': 'bytes',
    // The object's own coding (a gzip rendering), else identity: that also keeps serverless-offline
    // (hapi) from gzipping it into a chunked answer without a length.
    'content-encoding': grant.contentEncoding ?? 'identity',
  };
  if (grant.filename) headers['content-disposition'] = contentDisposition(grant.filename);
  // One `bytes=a-b` range, as S3 honours it, so that a client resuming a download works on
  // both drivers; several ranges or a malformed header get the whole object.
  const size = req.headers.range ? (await storage.head(grant.key)).size : 0;
  const range = req.headers.range ? parseRange(req.headers.range, size) : undefined;
  if (range === 'unsatisfiable') return { statusCode: 416, headers: { 'content-range': `bytes */${size}` }, body: '' };
  const object = await storage.getStream(grant.key, range);
  if (object.range) headers['content-range'] = `bytes ${object.range.start}-${object.range.end}/${object.range.total}`;
  headers['content-length'] = String(object.size);
  return { statusCode: object.range ? 206 : 200, headers, stream: object.stream };
}

async function storePut(req: Request) {
  const endpoint = storeEndpointOf(req.registry);
  const grant = req.grant!;
  const size = declaredLength(req.headers['content-length']);
  let result: { etag: string; size: number };
  if (grant.kind === 'part')
    result = await endpoint.receivePart(grant.key, grant.uploadId!, grant.partNumber!, req.body, req.bodyLimit, size);
  else if (grant.kind === 'put') result = await endpoint.receivePut(grant.key, req.body, req.bodyLimit, size);
  else throw new ForbiddenError('This URL does not grant an upload');
  return json(200, { etag: result.etag, size: result.size }, { etag: `"${result.etag}"` });
}

/** The body's declared length, when the client sent one (stores that stream need it up front). */
function declaredLength(header: string | undefined): number | undefined {
  return header !== undefined && /^\d{1,15}$/.test(header) ? Number(header) : undefined;
}

export const operations = { storeGet, storePut };

export const handler = lambdaHandler('store', operations);
