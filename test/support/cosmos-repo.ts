/**
 * /repo as Cosmos asks for it, for tests that call lib/repo.ts in process: Cosmos's request (the
 * v5, v4 and v3 media types, gzip, its User-Agent) and a registry at ORIGIN with a configured
 * public URL (only then are large answers stored: test/security/repo.test.ts), and catalog
 * entries big enough to need them.
 */
import { randomBytes } from 'node:crypto';
import { Catalog } from '../../lib/catalog/catalog';
import { parseConfig } from '../../lib/config';
import type { Registry } from '../../lib/registry';
import type { RepoRequest } from '../../lib/repo';
import type { Storage } from '../../lib/storage/port';
import { WriteGate } from '../../lib/storage/probe';
import { catalogEntry } from './fixtures';
import { ORIGIN } from './inprocess';

export { ORIGIN };
export const V5 = 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5';
export const COSMOS_REPO_REQUEST: RepoRequest = {
  accept: [V5, V5.replace('v5', 'v4'), V5.replace('v5', 'v3')].join(','),
  acceptEncoding: 'gzip',
  userAgent: 'cosmos/0.6.0 dcos/2.2.0',
  origin: ORIGIN,
};

/**
 * A catalog entry with `bytes` of incompressible text (base64 of random bytes) followed by as many of
 * repeated text: about 2 × `bytes` of JSON that gzip keeps about 38% of, so gzip pays (lib/repo.ts
 * gzipPays) and is about 0.76 × `bytes`.
 */
export function bigEntry(name: string, version: string, bytes: number) {
  const entry = catalogEntry(name, version);
  entry.package = {
    ...entry.package,
    description: `${incompressibleEntry(name, version, bytes).package.description} ${'a long and repetitive description. '.repeat(Math.ceil(bytes / 35)).slice(0, bytes)}`,
  };
  return entry;
}

/** A catalog entry whose description is `bytes` of base64 of random bytes: gzip keeps about 76% of it. */
export function incompressibleEntry(name: string, version: string, bytes: number) {
  const entry = catalogEntry(name, version);
  entry.package = {
    ...entry.package,
    description: randomBytes(Math.ceil((bytes * 3) / 4))
      .toString('base64')
      .slice(0, bytes),
  };
  return entry;
}

/** A registry over `storage` whose public URL is ORIGIN; `env` adds or overrides settings. */
export function publicRegistry(storage: Storage, env: Record<string, string> = {}): Registry {
  return {
    config: parseConfig({ REGISTRY_WRITE_TOKENS: 'x'.repeat(16), REGISTRY_PUBLIC_URL: ORIGIN, ...env }),
    storage,
    catalog: new Catalog(storage),
    gate: new WriteGate(storage),
  };
}
