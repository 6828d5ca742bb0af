/** Random asset files and build definitions that point at them (file: URIs, no server needed). */
import { randomFillSync } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';

export async function randomFile(file: string, bytes: number): Promise<void> {
  const out = createWriteStream(file);
  const chunk = Buffer.alloc(4 * 1024 * 1024);
  for (let left = bytes; left > 0; left -= chunk.length) {
    randomFillSync(chunk);
    if (!out.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** A build definition with one asset (the file), next to it. */
export async function definitionFor(dir: string, name: string, version: string, assetFile: string): Promise<string> {
  const file = path.join(dir, `${name}-${version}.json`);
  const def = {
    packagingVersion: '4.0',
    name,
    version,
    maintainer: 'bench@example.com',
    description: 'benchmark package',
    tags: ['bench'],
    resource: { assets: { uris: { blob: `file://${assetFile}` } } },
  };
  await writeFile(file, JSON.stringify(def, null, 2));
  return file;
}
