import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openBundle } from '../../lib/bundle';
import { centralRecords, craftZip, replaceAll, sampleContent, sampleEntries, sha, writeSample, type CraftEntry } from './helpers';

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bundle-hostile-'));
});
const next = () => join(dir, `b${n++}.dcos`);

async function crafted(entries: CraftEntry[]): Promise<string> {
  const p = next();
  await craftZip(p, entries);
  return p;
}

async function rejects(path: string, message: RegExp): Promise<void> {
  await expect(openBundle(path)).rejects.toThrow(message);
}

describe('openBundle rejects hostile bundles', () => {
  it('accepts the unmodified crafted baseline (so the cases below fail for their own reason)', async () => {
    const b = await openBundle(await crafted(sampleEntries()));
    await b.verify();
    b.close();
  });

  it('entry names escaping with ../', async () => {
    const p = await crafted([...sampleEntries(), { name: 'aa/evil', data: 'x' }]);
    await writeFile(p, replaceAll(await readFile(p), 'aa/evil', '../evil'));
    await rejects(p, /\.\.\/evil/);
  });

  it('absolute entry names', async () => {
    const p = await crafted([...sampleEntries(), { name: 'xetc/passwd', data: 'x' }]);
    await writeFile(p, replaceAll(await readFile(p), 'xetc/passwd', '/etc/passwd'));
    await rejects(p, /absolute path: \/etc\/passwd/);
  });

  it('backslashes in entry names', async () => {
    const p = await crafted([...sampleEntries(), { name: 'blobs_evil', data: 'x' }]);
    await writeFile(p, replaceAll(await readFile(p), 'blobs_evil', 'blobs\\evil'));
    await rejects(p, /invalid characters in fileName/);
  });

  it('duplicate entries', async () => {
    const e = sampleEntries();
    await rejects(await crafted([...e, e[4]]), /duplicate entry blobs\/sha256\//);
  });

  it('compressed blob entries', async () => {
    const e = sampleEntries();
    e[4] = { ...e[4], compress: true };
    await rejects(await crafted(e), /is compressed; blobs must be STORED/);
  });

  it('entries not in the manifest', async () => {
    const extra = Buffer.from('smuggled');
    await rejects(
      await crafted([...sampleEntries(), { name: `blobs/sha256/${sha(extra).slice(7)}`, data: extra }]),
      /is not listed in the manifest/,
    );
    await rejects(await crafted([...sampleEntries(), { name: 'readme.txt', data: 'hi' }]), /unexpected entry readme\.txt/);
  });

  it('missing blobs', async () => {
    const e = sampleEntries();
    e.splice(5, 1);
    await rejects(await crafted(e), /listed in the manifest is missing/);
  });

  it('manifest lying about a size', async () => {
    const content = sampleContent();
    const entries = sampleEntries(content);
    const asset = content.blobs[0];
    const tampered = {
      ...content.manifest,
      blobs: content.manifest.blobs.map((b) => (b.digest === sha(asset) ? { ...b, size: b.size + 1 } : b)),
    };
    tampered.assets = [{ ...tampered.assets[0], size: asset.length + 1 }];
    entries[0] = { ...entries[0], data: JSON.stringify(tampered) };
    await rejects(await crafted(entries), /has 1200 bytes, the manifest says 1201/);
  });

  it('manifest lying about a digest (same size, other bytes): verify() and open() fail', async () => {
    const content = sampleContent();
    const entries = sampleEntries(content);
    const name = `blobs/sha256/${sha(content.blobs[0]).slice(7)}`;
    const i = entries.findIndex((e) => e.name === name);
    const forged = Buffer.from(content.blobs[0]);
    forged[0] ^= 1;
    entries[i] = { name, data: forged };
    const b = await openBundle(await crafted(entries));
    try {
      await expect(b.verify()).rejects.toThrow(/does not match its digest/);
      const s = b.blobs.get(sha(content.blobs[0]))!.open();
      await expect(
        (async () => {
          for await (const _ of s) void _;
        })(),
      ).rejects.toThrow(/does not match its digest/);
    } finally {
      b.close();
    }
  });

  it('image manifests naming blobs that are not in the bundle', async () => {
    const content = sampleContent();
    const layer = content.blobs[1];
    content.blobs.splice(1, 1);
    content.manifest.blobs = content.manifest.blobs.filter((b) => b.digest !== sha(layer));
    const b = await openBundle(await crafted(sampleEntries(content)));
    try {
      await expect(b.verify()).rejects.toThrow(/needs blob sha256:[a-f0-9]{64}, which is not in the bundle/);
    } finally {
      b.close();
    }
  });

  it('oversized manifest (> 5 MB)', async () => {
    const content = sampleContent();
    const entries = sampleEntries(content);
    entries[0] = { ...entries[0], data: JSON.stringify({ ...content.manifest, pad: 'x'.repeat(6 * 1024 * 1024) }) };
    await rejects(await crafted(entries), /manifest\.json is larger than 5242880 bytes/);
  });

  it('zip bomb: a metadata entry with a huge compression ratio', async () => {
    const entries = sampleEntries();
    entries[2] = { name: 'index.json', data: ' '.repeat(4 * 1024 * 1024), compress: true };
    await rejects(await crafted(entries), /compression ratio above 200:1/);
  });

  it('zip bomb: an entry inflating to more than its declared size', async () => {
    const p = await crafted(sampleEntries());
    const buf = await readFile(p);
    const at = centralRecords(buf).get('manifest.json')![0];
    buf.writeUInt32LE(10, at + 24); // declared uncompressed size
    await writeFile(p, buf);
    await rejects(p, /too many bytes in the stream/);
  });

  it('zip bomb: overlapping entries', async () => {
    const p = await crafted(sampleEntries());
    const buf = await readFile(p);
    const records = centralRecords(buf);
    const names = [...records.keys()].filter((k) => k.startsWith('blobs/'));
    const target = buf.readUInt32LE(records.get(names[0])![0] + 42);
    buf.writeUInt32LE(target, records.get(names[1])![0] + 42); // second blob points at the first one's data
    await writeFile(p, buf);
    await rejects(p, /overlaps another entry/);
  });

  it('truncated files', async () => {
    const p = next();
    await writeSample(p);
    const buf = await readFile(p);
    await writeFile(p, buf.subarray(0, Math.floor(buf.length / 2)));
    await rejects(p, /not a readable zip file \(truncated or corrupt/);
  });

  it('not a zip at all', async () => {
    const p = next();
    await writeFile(p, 'hello');
    await rejects(p, /not a readable zip file/);
  });
});
