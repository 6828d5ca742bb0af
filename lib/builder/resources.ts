/**
 * Which files a package needs, read from its resource: asset URIs, icons and screenshots, CLI
 * binaries (with their sha256 contentHash when given), and Docker images by key.
 */
import type { Json } from './json';

export interface AssetSource {
  uri: string;
  /** Lower-case hex sha256 the downloaded bytes must have (from cli.binaries contentHash). */
  sha256?: string;
}

const obj = (v: unknown): Record<string, Json> | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, Json>) : undefined;

export function assetSources(resource: unknown): AssetSource[] {
  const r = obj(resource);
  const byUri = new Map<string, AssetSource>();
  const add = (uri: unknown, sha256?: string) => {
    if (typeof uri !== 'string' || uri === '') return;
    const seen = byUri.get(uri);
    if (seen?.sha256 && sha256 && seen.sha256 !== sha256) throw new Error(`conflicting contentHash values for ${uri}`);
    byUri.set(uri, { uri, sha256: seen?.sha256 ?? sha256 });
  };
  for (const uri of Object.values(obj(obj(r?.assets)?.uris) ?? {})) add(uri);
  const images = obj(r?.images);
  for (const key of ['icon-small', 'icon-medium', 'icon-large']) add(images?.[key]);
  const screenshots = images?.screenshots;
  if (Array.isArray(screenshots)) for (const s of screenshots) add(s);
  for (const arches of Object.values(obj(obj(r?.cli)?.binaries) ?? {})) {
    for (const binary of Object.values(obj(arches) ?? {})) {
      const b = obj(binary);
      const hashes = Array.isArray(b?.contentHash) ? b.contentHash : [];
      const sha = hashes.map(obj).find((h) => h?.algo === 'sha256')?.value;
      add(b?.url, typeof sha === 'string' ? sha.toLowerCase() : undefined);
    }
  }
  return [...byUri.values()].sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
}

/** [key, reference] of resource.assets.container.docker, sorted by key. */
export function imageSources(resource: unknown): Array<[string, string]> {
  const docker = obj(obj(obj(obj(resource)?.assets)?.container)?.docker) ?? {};
  return Object.entries(docker)
    .filter((e): e is [string, string] => typeof e[1] === 'string')
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** The file name an asset is served under: the URI's last path segment. */
export function assetName(uri: string): string {
  let path = uri.replace(/[?#].*$/, '');
  path = path.replace(/\/+$/, '');
  const raw = path.slice(path.lastIndexOf('/') + 1);
  let name = raw;
  try {
    name = decodeURIComponent(raw);
  } catch {
    /* keep the raw segment */
  }
  if (!name || name === '.' || name === '..' || /[/\\]/.test(name))
    name = raw && !/[/\\]/.test(raw) && raw !== '..' && raw !== '.' ? raw : 'asset';
  return name.slice(0, 255);
}

/**
 * A copy of `resource` with every asset URI (assets.uris, icons, screenshots, CLI binary urls)
 * replaced by `map(uri)`; the places are the ones assetSources reads.
 */
export async function mapAssetUris(resource: unknown, map: (uri: string) => Promise<string>): Promise<unknown> {
  const r = obj(resource);
  if (!r) return resource;
  const copy = structuredClone(r) as Record<string, Json>;
  const each = async (holder: Record<string, Json> | Json[] | undefined, key: string | number) => {
    const h = holder as Record<string | number, Json> | undefined;
    const v = h?.[key];
    if (h && typeof v === 'string' && v !== '') h[key] = await map(v);
  };
  const uris = obj(obj(copy.assets)?.uris);
  for (const key of Object.keys(uris ?? {})) await each(uris, key);
  const images = obj(copy.images);
  for (const key of ['icon-small', 'icon-medium', 'icon-large']) await each(images, key);
  const screenshots = images?.screenshots;
  if (Array.isArray(screenshots)) for (let i = 0; i < screenshots.length; i++) await each(screenshots, i);
  for (const arches of Object.values(obj(obj(copy.cli)?.binaries) ?? {})) {
    for (const binary of Object.values(obj(arches) ?? {})) await each(obj(binary), 'url');
  }
  return copy;
}
