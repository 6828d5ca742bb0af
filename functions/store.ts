/**
 * /_store/{key+}: the filesystem driver's signed upload and download targets. The URL's
 * HMAC signature is the authorization; nothing else is accepted here.
 */
import { parseRange } from '../lib/downloads';
import { RegistryError } from '../lib/errors';
import { httpHandler, json, type Request } from '../lib/http/handler';
import { registry } from '../lib/registry';
import { FileStorage } from '../lib/storage/fs';
import { ForbiddenError, keyFromStorePath } from '../lib/storage/signing';

/** serverless-offline caps bodies at 10 MB; parts are at most 8 MiB. */
const MAX_PUT_BYTES = 10 * 1024 * 1024;

function fileStorage(): FileStorage {
  const { storage } = registry();
  if (!(storage instanceof FileStorage)) throw new RegistryError('RouteNotFound', 'No such route with this storage driver');
  return storage;
}

async function grantFor(req: Request) {
  const storage = fileStorage();
  const key = keyFromStorePath(req.path);
  if (!key) throw new ForbiddenError('Malformed store path');
  return { storage, grant: await storage.verifyStoreRequest({ method: req.method, key, query: req.query }) };
}

export const handler = httpHandler({
  'GET /_store/{key+}': async (req) => {
    const { storage, grant } = await grantFor(req);
    const headers: Record<string, string> = {
      'content-type': grant.contentType ?? 'application/octet-stream',
      'accept-ranges': 'bytes',
      // Keeps serverless-offline (hapi) from gzipping it into a chunked answer without a length.
      'content-encoding': 'identity',
    };
    if (grant.filename) headers['content-disposition'] = `attachment; filename="${grant.filename.replace(/["\\\r\n]/g, '_')}"`;
    // One `bytes=a-b` range, as S3 honours it, so that a client resuming a download works on
    // both drivers; several ranges or a malformed header get the whole object.
    const size = req.headers.range ? (await storage.head(grant.key)).size : 0;
    const range = req.headers.range ? parseRange(req.headers.range, size) : undefined;
    if (range === 'unsatisfiable') return { statusCode: 416, headers: { 'content-range': `bytes */${size}` }, body: '' };
    if (range) {
      const part = await storage.getStream(grant.key, range);
      const chunks: Buffer[] = [];
      for await (const c of part.stream as AsyncIterable<Buffer>) chunks.push(c);
      const body = Buffer.concat(chunks);
      headers['content-range'] = `bytes ${range.start}-${range.start + body.length - 1}/${part.range?.total ?? size}`;
      headers['content-length'] = String(body.length);
      return { statusCode: 206, headers, body: body.toString('base64'), isBase64Encoded: true };
    }
    const { body } = await storage.get(grant.key);
    headers['content-length'] = String(body.length);
    return { statusCode: 200, headers, body: body.toString('base64'), isBase64Encoded: true };
  },
  'PUT /_store/{key+}': async (req) => {
    const { storage, grant } = await grantFor(req);
    const result =
      grant.kind === 'part'
        ? await storage.receivePart(grant.key, grant.uploadId!, grant.partNumber!, req.body, MAX_PUT_BYTES)
        : await storage.receivePut(grant.key, req.body, MAX_PUT_BYTES);
    return json(200, { etag: result.etag, size: result.size }, { etag: `"${result.etag}"` });
  },
});
