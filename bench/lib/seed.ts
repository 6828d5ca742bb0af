/**
 * Catalogs for the /repo figures, seeded through the commit path (addVersions in batches,
 * as a bulk import does), never by writing catalog objects by hand.
 *
 *  - small: versions of about 2 KB each (the shape of test/support/fixtures packageMetadata,
 *    with a longer description), 10 versions per package;
 *  - real: versions of about 37 KB each, built from a real Universe package directory
 *    (readPackageDirectory), its asset URIs recorded as assets, padded with base64 text
 *    (as the marathon templates of big packages are) to the target size.
 */
import { createHash } from 'node:crypto';
import { Catalog } from '../../lib/catalog/catalog';
import type { CatalogVersion } from '../../lib/catalog/model';
import { addVersions } from '../../lib/catalog/ops';
import type { Storage } from '../../lib/storage/port';
import { readPackageDirectory } from '../../lib/universe/package-dir';
import { resourceUrls } from '../../lib/universe/render';
import { packageMetadata } from '../../test/support/fixtures';

type Entry = Omit<CatalogVersion, 'seq'>;

const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
/** 2,000 pseudo-words: filler that gzip shrinks about as much as real package prose (4-6×). */
const WORDS = Array.from({ length: 2000 }, (_, i) => {
  let x = (i + 1) * 2654435761;
  let w = '';
  for (let n = 3 + (i % 7); n > 0; n--) {
    x = (x * 1103515245 + 12345) >>> 0;
    w += 'abcdefghijklmnopqrstuvwxyz'[x % 26];
  }
  return w;
});

/** Deterministic filler text of n characters. */
function prose(n: number, seed: number): string {
  let s = '';
  let x = (seed + 1) * 2654435761;
  while (s.length < n) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += `${WORDS[(x >>> 8) % WORDS.length]} `;
  }
  return s.slice(0, n);
}

/** Deterministic base64 text of n characters (random-looking: compresses like a template blob). */
function base64Filler(n: number, seed: string): string {
  let out = '';
  for (let i = 0; out.length < n; i++) out += createHash('sha512').update(`${seed}/${i}`).digest('base64');
  return out.slice(0, n);
}

function entry(name: string, version: string, pkg: Record<string, unknown>, assets: CatalogVersion['assets'] = []): Entry {
  return {
    name,
    version,
    uploadId: 'benchseedaaaaaaaaaaaaaaaaa',
    addedAt: new Date(0).toISOString(),
    contentDigest: sha(`${name}/${version}/${JSON.stringify(pkg).length}`),
    package: { ...pkg, name, version },
    assets,
    images: [],
    blobs: assets.map((a) => ({ digest: a.digest, size: a.size })),
  };
}

export function smallEntries(count: number): Entry[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `bench-pkg-${i % Math.max(1, Math.floor(count / 10))}`;
    const version = `1.${Math.floor(i / Math.max(1, Math.floor(count / 10)))}.0`;
    const base = packageMetadata(name, version);
    const size = JSON.stringify(base).length;
    return entry(name, version, { ...base, description: prose(Math.max(0, 2048 - size), i) });
  });
}

export async function realEntries(count: number, packageDir: string, targetBytes = 37 * 1024): Promise<Entry[]> {
  const def = (await readPackageDirectory(packageDir)) as unknown as Record<string, unknown>;
  const packages = Math.max(1, Math.floor(count / 10));
  return Array.from({ length: count }, (_, i) => {
    const name = `${String(def.name)}-${i % packages}`;
    const version = `1.${Math.floor(i / packages)}.0`;
    const assets = resourceUrls(def.resource as Record<string, unknown> | undefined)
      .filter(([path]) => path.startsWith('assets.uris.') || path.startsWith('cli.'))
      .map(([, uri], k) => ({ uri, digest: sha(`${name}/${version}/${uri}`), size: 1000 + k, name: uri.split('/').pop() || `asset-${k}` }));
    const pkg = { ...def, name, version };
    const pad = Math.max(0, targetBytes - JSON.stringify(pkg).length - 40);
    return entry(
      name,
      version,
      { ...pkg, postUninstallNotes: `${String(def.postUninstallNotes ?? '')} ${base64Filler(pad, `${name}/${version}`)}` },
      assets,
    );
  });
}

/** Commits the entries in batches through a catalog of its own (the bulk-import path). */
export async function seed(storage: Storage, entries: Entry[], batch: number): Promise<void> {
  const catalog = new Catalog(storage);
  for (let i = 0; i < entries.length; i += batch) await addVersions(catalog, entries.slice(i, i + batch));
}

export function averageSize(entries: Entry[]): number {
  return entries.reduce((n, e) => n + JSON.stringify(e.package).length, 0) / Math.max(1, entries.length);
}
