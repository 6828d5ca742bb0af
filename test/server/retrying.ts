/**
 * A client of the upload protocol that retries what a well-behaved client retries when an
 * instance goes away: connection errors and 502/503/504, each step on its own (every step
 * of the protocol is idempotent: blob PUTs overwrite staged bytes, complete resumes).
 */
import type { TestBundle } from '../support/upload';
import { auth, targetUrl } from '../support/upload';

const RETRYABLE = new Set([502, 503, 504]);

export interface RetryStats {
  retries: number;
}

async function retried(stats: RetryStats, call: () => Promise<Response>, deadlineMs = 60_000): Promise<Response> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      const res = await call();
      if (!RETRYABLE.has(res.status) || Date.now() > deadline) return res;
      await res.arrayBuffer();
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    stats.retries++;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function call(stats: RetryStats, url: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await retried(stats, () =>
    fetch(`${url}${path}`, {
      method,
      headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** Adds a bundle, retrying each step; returns the final complete answer. */
export async function addWithRetries(url: string, bundle: TestBundle, stats: RetryStats): Promise<{ status: number; json: any }> {
  const start = await call(stats, url, 'POST', '/uploads', { manifest: bundle.manifest });
  if (start.status !== 201) return start;
  for (const b of start.json.blobs) {
    if (b.present || !b.upload) continue;
    const bytes = bundle.blobs.get(b.digest)!;
    const targets: Array<{ url: URL; body: Buffer }> = b.upload.url
      ? [{ url: targetUrl(url, b.upload.url), body: bytes }]
      : b.upload.multipart.parts.map((p: any) => ({
          url: targetUrl(url, p.url),
          body: bytes.subarray((p.partNumber - 1) * b.upload.multipart.partSize, p.partNumber * b.upload.multipart.partSize),
        }));
    for (const t of targets) {
      const r = await retried(stats, () => fetch(t.url, { method: 'PUT', headers: b.upload.headers, body: t.body }));
      if (!r.ok) throw new Error(`PUT ${b.digest}: ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
    }
  }
  for (let i = 0; i < 600; i++) {
    const r = await call(stats, url, 'POST', `/uploads/${start.json.id}/complete`);
    if (r.status !== 202) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('upload never completed');
}
