/**
 * Hostile input for the end-to-end tests, on both sides of the wire:
 *
 * - bundle files that `dcos-registry add` must refuse before it talks to the registry (crafted with
 *   the zip helpers of test/bundle/helpers.ts);
 * - the same attacks sent straight to the registry's upload protocol (manifest and bytes, with the
 *   helpers of test/support/upload.ts), which it must refuse with a Cosmos-shaped error, without
 *   ever letting unverified bytes into the blob area.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { centralRecords, craftZip, replaceAll, sampleContent, sampleEntries, sha, writeSample, type CraftEntry } from '../bundle/helpers';
import { addBundle, api, completeUpload, sendBlobs, testBundle, type TestBundle } from '../support/upload';

export interface HostileBundle {
  label: string;
  path: string;
  /** What the one-line error must say. */
  message: RegExp;
}

export async function hostileBundleCases(dir: string): Promise<{ cases: HostileBundle[]; baseline: string }> {
  const cases: HostileBundle[] = [];
  const crafted = async (label: string, message: RegExp, entries: CraftEntry[], patch?: (zip: Buffer) => Buffer) => {
    const p = path.join(dir, `${label.replace(/\W+/g, '-')}.dcos`);
    await craftZip(p, entries);
    if (patch) await writeFile(p, patch(await readFile(p)));
    cases.push({ label, path: p, message });
  };

  await crafted(
    'entry escaping with ../',
    /entry name escapes the bundle|invalid relative path: \.\.\/evil/,
    [...sampleEntries(), { name: 'aa/evil', data: 'x' }],
    (z) => replaceAll(z, 'aa/evil', '../evil'),
  );
  await crafted('absolute entry name', /absolute path: \/etc\/passwd/, [...sampleEntries(), { name: 'xetc/passwd', data: 'x' }], (z) =>
    replaceAll(z, 'xetc/passwd', '/etc/passwd'),
  );
  const e = sampleEntries();
  await crafted('duplicate entry', /duplicate entry blobs\/sha256\/[a-f0-9]{64}/, [...e, e[4]]);

  {
    const content = sampleContent();
    const entries = sampleEntries(content);
    const asset = content.blobs[0];
    const lying = {
      ...content.manifest,
      blobs: content.manifest.blobs.map((b) => (b.digest === sha(asset) ? { ...b, size: b.size + 1 } : b)),
    };
    lying.assets = [{ ...lying.assets[0], size: asset.length + 1 }];
    entries[0] = { ...entries[0], data: JSON.stringify(lying) };
    await crafted('manifest lying about a size', /has 1200 bytes, the manifest says 1201/, entries);
  }
  {
    const content = sampleContent();
    const entries = sampleEntries(content);
    const name = `blobs/sha256/${sha(content.blobs[0]).slice(7)}`;
    const forged = Buffer.from(content.blobs[0]);
    forged[0] ^= 1;
    entries[entries.findIndex((x) => x.name === name)] = { name, data: forged };
    await crafted('manifest lying about a digest', /does not match its digest sha256:[a-f0-9]{64}/, entries);
  }
  {
    const entries = sampleEntries();
    entries[2] = { name: 'index.json', data: ' '.repeat(4 * 1024 * 1024), compress: true };
    await crafted('zip bomb: compression ratio', /compression ratio above 200:1/, entries);
  }
  await crafted('zip bomb: overlapping entries', /overlaps another entry/, sampleEntries(), (z) => {
    const records = centralRecords(z);
    const names = [...records.keys()].filter((k) => k.startsWith('blobs/'));
    z.writeUInt32LE(z.readUInt32LE(records.get(names[0])![0] + 42), records.get(names[1])![0] + 42);
    return z;
  });
  await crafted(
    'zip bomb: entry inflating past its declared size',
    /too many bytes in the stream|larger than|inconsistent/,
    sampleEntries(),
    (z) => {
      z.writeUInt32LE(10, centralRecords(z).get('manifest.json')![0] + 24);
      return z;
    },
  );

  const baseline = path.join(dir, 'baseline.dcos');
  await writeSample(baseline);
  const truncated = path.join(dir, 'truncated.dcos');
  const whole = await readFile(baseline);
  await writeFile(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
  cases.push({ label: 'truncated file', path: truncated, message: /not a readable zip file \(truncated or corrupt/ });
  return { cases, baseline };
}

export interface RegistryCase {
  label: string;
  status: number;
  type: string;
  message: RegExp;
  run(url: string): Promise<{ status: number; json: any }>;
}

const start = (url: string, b: TestBundle) => api(url, 'POST', '/uploads', { manifest: b.manifest });

/** Sends `bytes` in place of the blob the manifest names, then completes. */
async function sendWrong(url: string, b: TestBundle, bytes: (right: Buffer) => Buffer): Promise<{ status: number; json: any }> {
  const started = await start(url, b);
  if (started.status !== 201) return started;
  await sendBlobs(url, started.json, (d) => bytes(b.blobs.get(d)!));
  const done = await completeUpload(url, started.json.id);
  // Whatever was sent must not have reached the blob area: an honest upload still has to send it.
  const honest = await start(url, b);
  if (honest.json.blobs.some((x: any) => x.present)) throw new Error(`unverified bytes of upload ${started.json.id} reached the blob area`);
  await api(url, 'DELETE', `/uploads/${honest.json.id}`);
  return done;
}

export function registryHostileCases(tag: string): RegistryCase[] {
  const unique = (what: string) => `hostile-${tag}-${what}-${randomBytes(3).toString('hex')}`;
  const bundle = (what: string, bytes = randomBytes(20_000)) => testBundle(unique(what), '1.0.0', { 'file.bin': bytes });
  return [
    {
      label: 'asset name escaping the resource route',
      status: 400,
      type: 'InvalidManifest',
      message: /\/assets\/0\/name must match pattern|has an invalid file name/,
      run: (url) => {
        const b = bundle('escape');
        b.manifest.assets[0].name = '../../etc/passwd';
        return start(url, b);
      },
    },
    {
      label: 'image repository escaping',
      status: 400,
      type: 'InvalidManifest',
      message: /\/images\/0\/repository must match pattern|has an invalid repository name/,
      run: (url) => {
        const b = bundle('repo');
        const d = b.manifest.blobs[0];
        b.manifest.images = [
          {
            reference: 'example.com/../x:1',
            key: 'x',
            repository: '../x',
            tag: '1',
            manifestDigest: d.digest,
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
          },
        ];
        return start(url, b);
      },
    },
    {
      label: 'duplicate blobs in the manifest',
      status: 400,
      type: 'InvalidManifest',
      message: /not sorted and unique/,
      run: (url) => {
        const b = bundle('dup');
        b.manifest.blobs = [b.manifest.blobs[0], b.manifest.blobs[0]];
        return start(url, b);
      },
    },
    {
      label: 'zip-bomb sizes: a blob declared larger than any store object',
      status: 400,
      type: 'InvalidManifest',
      message: /invalid size/,
      run: (url) => {
        const b = bundle('bomb');
        const size = 6 * 1024 ** 4;
        b.manifest.blobs[0].size = size;
        b.manifest.assets[0].size = size;
        return start(url, b);
      },
    },
    {
      label: 'a manifest above 5 MB',
      status: 413,
      type: 'PayloadTooLarge',
      message: /./,
      run: (url) => {
        const b = bundle('huge');
        // Above the registry's 5 MB JSON limit, below the production server's 6 MiB transport
        // limit: the registry itself answers, after reading the whole body (a transport cut-off
        // answers before reading and closes, which a client still sending may see as a reset).
        (b.manifest.package as Record<string, unknown>).description = 'x'.repeat(5.5 * 1024 * 1024);
        return start(url, b);
      },
    },
    {
      label: 'bytes lying about their digest',
      status: 422,
      type: 'BlobDigestMismatch',
      message: /the uploaded bytes have sha256:[a-f0-9]{64}/,
      run: (url) =>
        sendWrong(url, bundle('digest'), (right) => {
          const wrong = Buffer.from(right);
          wrong[0] ^= 1;
          return wrong;
        }),
    },
    {
      label: 'bytes lying about their size',
      status: 422,
      type: 'BlobSizeMismatch',
      message: /has 20001 bytes, the manifest says 20000/,
      run: (url) => sendWrong(url, bundle('size'), (right) => Buffer.concat([right, Buffer.from('!')])),
    },
    {
      label: 'a truncated blob',
      status: 422,
      type: 'BlobSizeMismatch',
      message: /has 10000 bytes, the manifest says 20000/,
      run: (url) => sendWrong(url, bundle('truncated'), (right) => right.subarray(0, 10_000)),
    },
    {
      label: 'a blob with a missing part',
      status: 422,
      type: 'BlobMissing',
      message: /lacks parts 2/,
      run: async (url) => {
        const b = bundle('parts', randomBytes(9 * 1024 * 1024));
        const started = await start(url, b);
        const parts = started.json.blobs[0].upload.multipart.parts;
        started.json.blobs[0].upload.multipart.parts = parts.filter((p: any) => p.partNumber !== 2);
        await sendBlobs(url, started.json, (d) => b.blobs.get(d)!);
        return api(url, 'POST', `/uploads/${started.json.id}/complete`);
      },
    },
    {
      label: 'a valid bundle still goes through (the cases above fail for their own reason)',
      status: 200,
      type: undefined as unknown as string,
      message: /./,
      run: async (url) => {
        const r = await addBundle(url, bundle('valid'));
        return { status: r.status, json: { ...r.json, message: r.json.status } };
      },
    },
  ];
}
