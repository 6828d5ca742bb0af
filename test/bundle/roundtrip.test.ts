import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yauzl from 'yauzl';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { BundleExistsError, openBundle } from '../../lib/bundle';
import { sampleContent, sha, writeSample } from './helpers';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bundle-rt-'));
});

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('bundle writer and reader', () => {
  it('round-trips manifest and blobs, and verifies', async () => {
    const content = sampleContent();
    const path = join(dir, 'rt.dcos');
    await writeSample(path, content);
    const b = await openBundle(path);
    try {
      expect(b.manifest).toEqual(content.manifest);
      await b.verify();
      for (const blob of content.blobs) {
        const h = b.blobs.get(sha(blob))!;
        expect(h.size).toBe(blob.length);
        expect(await readAll(h.open())).toEqual(blob);
        expect(await readAll(h.openRange(3, 9))).toEqual(blob.subarray(3, 9));
      }
      expect(b.index.manifests[0].annotations['org.opencontainers.image.ref.name']).toBe('example.com/library/nginx:1.0');
      expect(b.index.manifests[0].digest).toBe(content.manifest.images[0].manifestDigest);
    } finally {
      b.close();
    }
  });

  it('is deterministic: same inputs give byte-identical files', async () => {
    // A different wall clock must not matter. Faked, not slept: zip (DOS) times have a 2-second
    // resolution, so a real 1.1 s pause often left both writes in the same time slot.
    vi.useFakeTimers({ toFake: ['Date'], now: new Date(2021, 2, 3, 4, 5, 6) });
    try {
      await writeSample(join(dir, 'd1.dcos'));
      vi.setSystemTime(new Date(2024, 8, 10, 11, 12, 13));
      await writeSample(join(dir, 'd2.dcos'));
    } finally {
      vi.useRealTimers();
    }
    const [a, b] = await Promise.all([readFile(join(dir, 'd1.dcos')), readFile(join(dir, 'd2.dcos'))]);
    expect(a.equals(b)).toBe(true);
  });

  it('lays out entries: manifest first, then OCI files, then sorted STORED blobs without extra fields', async () => {
    const path = join(dir, 'layout.dcos');
    await writeSample(path);
    const zip = await yauzl.openPromise(path, { lazyEntries: true });
    const entries: yauzl.Entry[] = [];
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (e: yauzl.Entry) => {
        entries.push(e);
        zip.readEntry();
      });
      zip.on('end', () => resolve());
      zip.on('error', reject);
      zip.readEntry();
    });
    zip.close();
    const names = entries.map((e) => e.fileName);
    expect(names.slice(0, 3)).toEqual(['manifest.json', 'oci-layout', 'index.json']);
    const blobNames = names.slice(3);
    expect(blobNames).toEqual([...blobNames].sort());
    expect(blobNames.length).toBe(4);
    for (const e of entries.slice(3)) {
      expect(e.compressionMethod).toBe(0);
      expect(e.extraFields.filter((f) => f.id !== 0x0001)).toEqual([]);
    }
  });

  it('refuses to overwrite and leaves no partial file', async () => {
    const path = join(dir, 'exists.dcos');
    await writeFile(path, 'already here');
    await expect(writeSample(path)).rejects.toThrow(BundleExistsError);
    await expect(writeSample(path)).rejects.toThrow(/already exists/);
    expect(await readFile(path, 'utf8')).toBe('already here');
    expect((await readdir(dir)).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });
});
