/**
 * Asset downloads. The URL /resource/<sha256 hex>/<file name> is stable (content
 * addressed) and answers only for assets of packages in the catalog: a redirect to a
 * short-lived signed store URL, or the bytes themselves in proxy mode.
 */
import { ResourceNotFoundError } from './errors';
import type { Response } from './http/handler';
import { HEX_DIGEST, keys } from './keys';
import type { Registry } from './registry';

/** Lambda's response limit; the production server (streaming) has none. */
const PROXY_LIMIT = 4 * 1024 * 1024;

export async function resourceAnswer(registry: Registry, digest: string, name: string, origin: string): Promise<Response> {
  if (!HEX_DIGEST.test(digest)) throw new ResourceNotFoundError(`${digest}/${name}`);
  const { state } = await registry.catalog.read();
  const asset = state.versions.flatMap((v) => v.assets).find((a) => a.digest === `sha256:${digest}` && a.name === name);
  if (!asset) throw new ResourceNotFoundError(`${digest}/${name}`);
  const key = keys.blob(digest);
  const headers = { etag: `"${digest}"`, 'cache-control': 'public, max-age=31536000, immutable' };
  if (registry.config.downloads === 'proxy' && asset.size <= PROXY_LIMIT) {
    const { body } = await registry.storage.get(key);
    return {
      statusCode: 200,
      headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(body.length), 'content-encoding': 'identity', 'content-disposition': `attachment; filename="${name.replace(/["\\]/g, '_')}"` },
      body: body.toString('base64'),
      isBase64Encoded: true,
    };
  }
  const location = await registry.storage.signGet(key, { expiresIn: 300, origin, filename: name, contentType: 'application/octet-stream' });
  return { statusCode: 307, headers: { location, 'cache-control': 'private, max-age=60' }, body: '' };
}
