/**
 * Pulls from a real docker-registry (distribution 2.8) filled by skopeo from layouts made here,
 * and compares what was pulled with what skopeo sees in the registry.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImagePullError } from '../../lib/docker/errors.js';
import * as mt from '../../lib/docker/media-types.js';
import { pullImage, type PullProgress } from '../../lib/image-pull/pull.js';
import { memorySink } from './blob-sink.js';
import { makeOciImage, pushWithSkopeo, sha256, skopeoInspectRaw, type TestImageLayout } from './make-image.js';
import { startRegistry, type RegistryProcess } from './registry-process.js';

let registry: RegistryProcess;
let work: string;
let single: TestImageLayout;
let multi: TestImageLayout;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'pull-registry-'));
  registry = await startRegistry();
  single = makeOciImage(join(work, 'single'), { tag: 'v1', layerSizes: [3000, 3_000_000] });
  multi = makeOciImage(join(work, 'multi'), {
    tag: 'v2',
    platforms: [
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
      { os: 'linux', architecture: 'amd64' },
    ],
  });
  await pushWithSkopeo(single, `${registry.host}/test/oci:v1`);
  await pushWithSkopeo(single, `${registry.host}/test/schema2:v1`, { format: 'v2s2' });
  await pushWithSkopeo(multi, `${registry.host}/test/multi:v2`, { all: true });
  await pushWithSkopeo(multi, `${registry.host}/test/multi-s2:v2`, { all: true, format: 'v2s2' });
});

afterAll(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Every stored blob hashes to its name, and the manifest/config/layers are all there. */
function expectComplete(sink: ReturnType<typeof memorySink>, pulled: Awaited<ReturnType<typeof pullImage>>) {
  for (const [digest, bytes] of sink.blobs) expect(sha256(bytes)).toBe(digest);
  expect([...sink.blobs.keys()].sort()).toEqual([pulled.manifestDigest, pulled.configDigest, ...pulled.layers.map((l) => l.digest)].sort());
  expect(sink.blobs.get(pulled.manifestDigest)).toEqual(Buffer.from(pulled.manifestBytes));
}

describe('pullImage against docker-registry', () => {
  it('pulls an OCI image exactly as the registry serves it', async () => {
    const ref = `${registry.host}/test/oci:v1`;
    const raw = await skopeoInspectRaw(ref);
    const sink = memorySink();
    const events: PullProgress[] = [];
    const pulled = await pullImage(ref, { ...sink, onProgress: (e) => events.push(e) });

    expect(pulled.manifestMediaType).toBe(mt.OCI_MANIFEST);
    expect(pulled.manifestDigest).toBe(raw.digest);
    expect(Buffer.from(pulled.manifestBytes)).toEqual(raw.bytes);
    expect(pulled.configDigest).toBe(raw.json.config.digest);
    expect(pulled.layers).toEqual(raw.json.layers.map((l: any) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })));
    // skopeo copied our layout unchanged, so the digests are the ones we made.
    expect(pulled.manifestDigest).toBe(single.top.digest);
    expect(pulled.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(pulled).toMatchObject({ registry: registry.host, repository: 'test/oci', tag: 'v1', canonicalReference: ref });
    expect(pulled.index).toBeUndefined();
    expectComplete(sink, pulled);
    // The 3 MB layer arrived in several chunks, reported as it streamed.
    const big = pulled.layers.find((l) => l.size > 1_000_000)!;
    const bigEvents = events.filter((e) => e.kind === 'blob' && e.digest === big.digest);
    expect(bigEvents.length).toBeGreaterThan(1);
    expect(bigEvents.at(-1)).toMatchObject({ transferred: big.size, total: big.size });
  });

  it('pulls a Docker schema2 image', async () => {
    const ref = `${registry.host}/test/schema2:v1`;
    const raw = await skopeoInspectRaw(ref);
    const sink = memorySink();
    const pulled = await pullImage(ref, sink);
    expect(raw.json.mediaType).toBe(mt.DOCKER_MANIFEST);
    expect(pulled.manifestMediaType).toBe(mt.DOCKER_MANIFEST);
    expect(pulled.manifestDigest).toBe(raw.digest);
    expect(pulled.layers.map((l) => l.mediaType)).toEqual([mt.DOCKER_LAYER_GZIP, mt.DOCKER_LAYER_GZIP]);
    expect(pulled.layers.map((l) => l.digest)).toEqual(raw.json.layers.map((l: any) => l.digest));
    expectComplete(sink, pulled);
  });

  it('picks linux/amd64 from an OCI index, or the platform asked for', async () => {
    const ref = `${registry.host}/test/multi:v2`;
    const raw = await skopeoInspectRaw(ref);
    expect(raw.json.mediaType).toBe(mt.OCI_INDEX);
    const byArch = (arch: string) => raw.json.manifests.find((m: any) => m.platform.architecture === arch).digest;

    const amd = memorySink();
    const pulledAmd = await pullImage(ref, amd);
    expect(pulledAmd.index).toMatchObject({ digest: raw.digest, mediaType: mt.OCI_INDEX });
    expect(pulledAmd.manifestDigest).toBe(byArch('amd64'));
    expect(pulledAmd.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    expectComplete(amd, pulledAmd);
    expect(amd.blobs.has(raw.digest)).toBe(false); // the index itself is returned, not written

    const arm = memorySink();
    const pulledArm = await pullImage(ref, { ...arm, platform: { os: 'linux', architecture: 'arm64' } });
    expect(pulledArm.manifestDigest).toBe(byArch('arm64'));
    expect(pulledArm.platform).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(pulledArm.layers.map((l) => l.digest)).not.toEqual(pulledAmd.layers.map((l) => l.digest));
    expectComplete(arm, pulledArm);
  });

  it('picks linux/amd64 from a Docker manifest list', async () => {
    const ref = `${registry.host}/test/multi-s2:v2`;
    const raw = await skopeoInspectRaw(ref);
    expect(raw.json.mediaType).toBe(mt.DOCKER_MANIFEST_LIST);
    const sink = memorySink();
    const pulled = await pullImage(ref, sink);
    expect(pulled.index).toMatchObject({ digest: raw.digest, mediaType: mt.DOCKER_MANIFEST_LIST });
    expect(pulled.manifestMediaType).toBe(mt.DOCKER_MANIFEST);
    expect(pulled.manifestDigest).toBe(raw.json.manifests.find((m: any) => m.platform.architecture === 'amd64').digest);
    expectComplete(sink, pulled);
  });

  it('pulls by digest and skips blobs the caller already has', async () => {
    const raw = await skopeoInspectRaw(`${registry.host}/test/oci:v1`);
    const sink = memorySink();
    const first = await pullImage(`${registry.host}/test/oci@${raw.digest}`, sink);
    expect(first.manifestDigest).toBe(raw.digest);
    expect(first.tag).toBeUndefined();
    const written = sink.calls.length;
    expect(written).toBe(4);

    const events: PullProgress[] = [];
    const again = await pullImage(`${registry.host}/test/oci:v1`, { ...sink, onProgress: (e) => events.push(e) });
    expect(again.manifestDigest).toBe(raw.digest);
    expect(sink.calls.length).toBe(written); // nothing downloaded or written twice
    expect(events.filter((e) => e.kind === 'blob-skipped')).toHaveLength(3);
    expect(events.filter((e) => e.kind === 'blob')).toHaveLength(0);
  });

  it('fails clearly for an unknown tag and a platform the index does not offer', async () => {
    const sink = memorySink();
    await expect(pullImage(`${registry.host}/test/oci:nope`, sink)).rejects.toThrow(ImagePullError);
    await expect(pullImage(`${registry.host}/test/oci:nope`, sink)).rejects.toThrow(/not found.*404/);
    await expect(
      pullImage(`${registry.host}/test/multi:v2`, { ...sink, platform: { os: 'linux', architecture: 's390x' } }),
    ).rejects.toThrow('no manifest for platform linux/s390x (image offers linux/arm64/v8, linux/amd64)');
    expect(sink.calls).toHaveLength(0);
  });
});
