/** An in-memory writeBlob/hasBlob pair that keeps a blob only when its stream ended cleanly. */
import type { BlobBody } from '../../lib/image-pull/pull.js';

export interface BlobSink {
  blobs: Map<string, Buffer>;
  /** Every writeBlob call, including failed ones. */
  calls: { digest: string; size: number; ok: boolean }[];
  writeBlob(digest: string, size: number, body: BlobBody): Promise<void>;
  hasBlob(digest: string): boolean;
}

export function memorySink(): BlobSink {
  const blobs = new Map<string, Buffer>();
  const calls: BlobSink['calls'] = [];
  return {
    blobs,
    calls,
    async writeBlob(digest, size, body) {
      const chunks: Uint8Array[] = [];
      try {
        for await (const chunk of body) chunks.push(chunk);
      } catch (err) {
        calls.push({ digest, size, ok: false });
        throw err;
      }
      calls.push({ digest, size, ok: true });
      blobs.set(digest, Buffer.concat(chunks));
    },
    hasBlob: (digest) => blobs.has(digest),
  };
}
