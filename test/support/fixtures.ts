/** Small package fixtures written for this project (not copied from Universe). */
import { createHash } from 'node:crypto';
import type { CatalogVersion } from '../../lib/catalog/model';

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function packageMetadata(name: string, version: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    packagingVersion: '4.0',
    name,
    version,
    maintainer: 'registry-tests@example.com',
    description: `Test package ${name} ${version}`,
    tags: ['test'],
    marathon: { v2AppMustacheTemplate: Buffer.from('{"id":"{{service.name}}","cmd":"sleep 1000","cpus":0.1,"mem":32}').toString('base64') },
    config: { type: 'object', properties: { service: { type: 'object', properties: { name: { type: 'string', default: name } } } } },
    ...extra,
  };
}

/** A catalog entry (without seq) for protocol-level tests. */
export function catalogEntry(name: string, version: string, content = 'a'): Omit<CatalogVersion, 'seq'> {
  return {
    name,
    version,
    uploadId: 'testuploadaaaaaaaaaaaaaaaa',
    addedAt: new Date().toISOString(),
    contentDigest: sha256(`${name}/${version}/${content}`),
    package: packageMetadata(name, version),
    assets: [],
    images: [],
    blobs: [],
  };
}
