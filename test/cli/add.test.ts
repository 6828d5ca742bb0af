import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AddFailedError, addBundle, statePath, type AddProgress } from '../../lib/client';
import { sampleContent, sha, writeSample } from '../bundle/helpers';
import { startFakeRegistry, type FakeRegistry } from './fake-registry';

let reg: FakeRegistry;
let dir: string;
beforeEach(async () => {
  reg = await startFakeRegistry({ partSize: 256, multipartAbove: 300 });
  dir = await mkdtemp(join(tmpdir(), 'add-test-'));
});
afterEach(async () => {
  await reg.close();
});

const fast = { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 };
type AddOptions = Parameters<typeof addBundle>[1];
/** The fake registry with its token, fast retries and polls, and `more`. */
const optionsFor = (more: Partial<AddOptions> = {}): AddOptions => ({
  url: reg.url,
  token: reg.token,
  retry: fast,
  pollIntervalMs: 1,
  ...more,
});
const totalBlobBytes = () => sampleContent().blobs.reduce((n, b) => n + b.length, 0);

describe('addBundle against a fake registry', () => {
  it('uploads every blob (the 1200-byte asset in 256-byte parts), completes through Processing, and clears its state', async () => {
    const path = join(dir, 'hello-1.0.0.dcos');
    await writeSample(path);
    const events: AddProgress[] = [];
    const body = await addBundle(path, optionsFor({ onProgress: (e) => events.push(e) }));
    expect(body).toMatchObject({ name: 'hello', version: '1.0.0', status: 'Added' });
    expect(reg.putBytes).toBe(totalBlobBytes());
    const upload = [...reg.uploads.values()][0];
    expect([...upload.received.keys()].filter((k) => k.startsWith(sha(sampleContent().blobs[0])))).toHaveLength(5); // ceil(1200/256)
    expect(events.some((e) => e.kind === 'processing')).toBe(true);
    expect(existsSync(statePath(path))).toBe(false);
  });

  it('a second add of blobs the registry has uploads no bytes', async () => {
    const path = join(dir, 'hello-1.0.0.dcos');
    await writeSample(path);
    await addBundle(path, optionsFor());
    const before = reg.putBytes;
    reg.packages.clear();
    await addBundle(path, optionsFor());
    expect(reg.putBytes).toBe(before);
  });

  it('resumes an interrupted upload: same upload id, only the missing part is sent again', async () => {
    const path = join(dir, 'hello-1.0.0.dcos');
    await writeSample(path);
    // The first add creates upload up000..0; its part 3 of the asset keeps failing with 403 (an expired URL, say).
    const assetDigest = sha(sampleContent().blobs[0]);
    const id = `up${'0'.repeat(24)}`;
    reg.failPut.set(`/put/${id}/${assetDigest}/3`, { status: 403, times: 100 });
    await expect(addBundle(path, optionsFor())).rejects.toThrow(/upload PUT answered 403/);
    const state = JSON.parse(await readFile(statePath(path), 'utf8'));
    expect(state.uploadId).toBe(id);
    const sentBefore = reg.putBytes;
    expect(sentBefore).toBe(totalBlobBytes() - 256);

    reg.failPut.clear();
    const events: AddProgress[] = [];
    const body = await addBundle(path, optionsFor({ onProgress: (e) => events.push(e) }));
    expect(body.status).toBe('Added');
    expect(events.find((e) => e.kind === 'start')).toMatchObject({ resumed: true, uploadId: id, bytesToSend: 256 });
    expect(reg.putBytes - sentBefore).toBe(256);
    expect(reg.uploads.size).toBe(1);
    expect(existsSync(statePath(path))).toBe(false);
  });

  it('retries transient PUT failures (503) within one round', async () => {
    const path = join(dir, 'hello-1.0.0.dcos');
    await writeSample(path);
    const id = `up${'0'.repeat(24)}`;
    reg.failPut.set(`/put/${id}/${sha(sampleContent().blobs[0])}/1`, { status: 503, times: 1 });
    const events: AddProgress[] = [];
    await addBundle(path, optionsFor({ retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 }, onProgress: (e) => events.push(e) }));
    expect(events.filter((e) => e.kind === 'retry').map((e) => (e as { what: string }).what)).toEqual([
      `${sha(sampleContent().blobs[0])} part 1`,
    ]);
  });

  it('fails with the registry reason when verification fails, and forgets the failed upload', async () => {
    const path = join(dir, 'hello-1.0.0.dcos');
    await writeSample(path);
    // Accept the PUT but lose the bytes: complete finds the blob incomplete.
    const small = sampleContent().blobs[1];
    const id = `up${'0'.repeat(24)}`;
    reg.failPut.set(`/put/${id}/${sha(small)}`, { status: 200, times: 100 });
    const err = await addBundle(path, optionsFor()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AddFailedError);
    expect((err as Error).message).toMatch(/BlobMissing: blob sha256:[a-f0-9]{64} was not fully uploaded/);
    expect(existsSync(statePath(path))).toBe(false);
  });

  it('needs a token for writes', async () => {
    const path = join(dir, 'hello-1.0.0.dcos');
    await writeSample(path);
    await expect(addBundle(path, { url: reg.url, retry: fast })).rejects.toThrow(/write token is required/);
    await expect(addBundle(path, { url: reg.url, token: 'wrong', retry: fast })).rejects.toThrow(/valid bearer token/);
  });
});
