/**
 * A minimal client of the upload protocol for API tests: bytes in memory, targets from
 * the registry, parts cut by the registry's part size.
 */
import { BUNDLE_FORMAT, type BundleManifest } from '../../lib/bundle/manifest';
import { packageMetadata, sha256 } from './fixtures';
import { TEST_TOKEN } from './offline';

export interface TestBundle {
  manifest: BundleManifest;
  blobs: Map<string, Buffer>;
}

/** A package with one asset (and an icon) whose bytes are given. */
export function testBundle(
  name: string,
  version: string,
  assets: Record<string, Buffer> = {},
  extra: Record<string, unknown> = {},
): TestBundle {
  const blobs = new Map<string, Buffer>();
  const uris: Record<string, string> = {};
  const assetList = Object.entries(assets).map(([file, bytes], i) => {
    const digest = sha256(bytes);
    blobs.set(digest, bytes);
    const uri = `https://downloads.example.com/${name}/${file}`;
    uris[`asset-${i}`] = uri;
    return { uri, digest: digest as `sha256:${string}`, size: bytes.length, name: file };
  });
  const pkg = packageMetadata(name, version, { ...(assetList.length ? { resource: { assets: { uris } } } : {}), ...extra });
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    package: pkg as BundleManifest['package'],
    assets: assetList.sort((a, b) => (a.uri < b.uri ? -1 : 1)),
    images: [],
    blobs: [...blobs.entries()]
      .map(([digest, b]) => ({ digest: digest as `sha256:${string}`, size: b.length }))
      .sort((a, b) => (a.digest < b.digest ? -1 : 1)),
  };
  return { manifest, blobs };
}

export const auth = { authorization: `Bearer ${TEST_TOKEN}` };

export async function api(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = auth,
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

/**
 * An upload target as a client resolves it: against the registry's base URL (`/_store` targets the
 * registry serves are relative to it; S3's presigned ones are absolute and come back unchanged).
 */
export function targetUrl(base: string, target: string): URL {
  return new URL(target, `${base.replace(/\/+$/, '')}/`);
}

/** Sends every missing blob of a started upload to targets resolved against `base` (override bytes to misbehave). */
export async function sendBlobs(base: string, started: any, bytesOf: (digest: string) => Buffer): Promise<number> {
  let sent = 0;
  for (const b of started.blobs) {
    if (b.present || !b.upload) continue;
    const bytes = bytesOf(b.digest);
    if (b.upload.url) {
      const r = await fetch(targetUrl(base, b.upload.url), { method: 'PUT', headers: b.upload.headers, body: bytes });
      if (!r.ok) throw new Error(`PUT blob ${b.digest}: ${r.status} ${await r.text()}`);
      sent += bytes.length;
    } else {
      const { partSize, parts } = b.upload.multipart;
      for (const p of parts) {
        const chunk = bytes.subarray((p.partNumber - 1) * partSize, p.partNumber * partSize);
        const r = await fetch(targetUrl(base, p.url), { method: 'PUT', headers: b.upload.headers, body: chunk });
        if (!r.ok) throw new Error(`PUT part ${p.partNumber} of ${b.digest}: ${r.status} ${await r.text()}`);
        sent += chunk.length;
      }
    }
  }
  return sent;
}

/** complete until done; returns the last answer. */
export async function completeUpload(url: string, id: string): Promise<{ status: number; json: any }> {
  for (let i = 0; i < 600; i++) {
    const r = await api(url, 'POST', `/uploads/${id}/complete`);
    if (r.status !== 202) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('upload never completed');
}

export async function addBundle(url: string, bundle: TestBundle): Promise<{ status: number; json: any; sent: number }> {
  const start = await api(url, 'POST', '/uploads', { manifest: bundle.manifest });
  if (start.status !== 201) return { ...start, sent: 0 };
  const sent = await sendBlobs(url, start.json, (d) => bundle.blobs.get(d)!);
  return { ...(await completeUpload(url, start.json.id)), sent };
}
