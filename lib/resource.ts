/**
 * Asset downloads. The URL /resource/<sha256 hex>/<file name> is stable (content addressed,
 * so caches may keep it forever) and answers only for assets of packages in the catalog:
 * a redirect to a short-lived signed store URL, or the bytes themselves in proxy mode
 * (lib/downloads.ts). HEAD answers the size without a redirect.
 */
import { downloadAnswer } from './downloads';
import { ResourceNotFoundError } from './errors';
import type { Response } from './http/handler';
import { HEX_DIGEST } from './keys';
import type { Registry } from './registry';

export interface ResourceRequest {
  digest: string;
  name: string;
  origin: string;
  head?: boolean;
  range?: string;
  ifNoneMatch?: string;
}

function decoded(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}

export async function resourceAnswer(registry: Registry, req: ResourceRequest): Promise<Response> {
  const { digest } = req;
  if (!HEX_DIGEST.test(digest)) throw new ResourceNotFoundError(`${digest}/${req.name}`);
  const { state } = await registry.catalog.read();
  // Path parameters arrive decoded (offline) or not (some gateways): accept both spellings.
  const names = new Set([req.name, decoded(req.name)]);
  const asset = state.versions.flatMap((v) => v.assets).find((a) => a.digest === `sha256:${digest}` && names.has(a.name));
  if (!asset) throw new ResourceNotFoundError(`${digest}/${req.name}`);
  const etag = `"${digest}"`;
  const headers = { etag, 'cache-control': 'public, max-age=31536000, immutable' };
  if (req.ifNoneMatch?.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*')) {
    return { statusCode: 304, headers, body: '' };
  }
  return downloadAnswer(registry, {
    hex: digest,
    size: asset.size,
    range: req.range,
    origin: req.origin,
    filename: asset.name,
    headers,
    head: !!req.head,
  });
}
