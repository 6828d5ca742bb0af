/**
 * Request bodies with limits, read only once the app has authorised the request (the body
 * middleware asks): buffered (`json` routes) up to a size, within a total time, and within a
 * budget shared by every connection; streamed (`stream` routes) with an idle timeout.
 * Breaking a limit throws a TransportError (413, 408, 503) that the app answers as is; the
 * server then closes the connection, the rest of the body unread.
 */
import type { IncomingMessage } from 'node:http';
import { ERRORS } from '../lib/errors';
import { ClientGone, TransportError } from '../lib/http/app';

const cutOff = (status: 408 | 413, message: string) => new TransportError(status === 408 ? 'RequestTimeout' : 'PayloadTooLarge', message);

/** 413 before reading a byte when Content-Length already says too much. */
export function checkDeclaredLength(req: IncomingMessage, limit: number): void {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw cutOff(413, `Request body of ${declared} bytes exceeds the limit of ${limit} bytes`);
}

/**
 * Bytes of buffered bodies held at once, over all connections (each connection holds at
 * most one body: HTTP/1.1 has one request in flight per connection). When full, new
 * buffered bodies get 503 with Retry-After instead of growing the heap.
 */
export class BodyBudget {
  private used = 0;
  constructor(readonly total: number) {}
  get inUse(): number {
    return this.used;
  }
  take(bytes: number): void {
    if (this.used + bytes > this.total) {
      throw new TransportError('ServerBusy', ERRORS.ServerBusy.message, { 'retry-after': '1' });
    }
    this.used += bytes;
  }
  give(bytes: number): void {
    this.used -= bytes;
  }
}

/** `ready` runs once the body is known to fit (limit and budget): node sends `100 Continue` there. */
export function readBody(req: IncomingMessage, limit: number, totalMs: number, budget: BodyBudget, ready: () => void): Promise<Buffer> {
  checkDeclaredLength(req, limit);
  // A declared length is reserved whole at once: a slow sender cannot sneak under the budget.
  const declared = Number(req.headers['content-length'] ?? 0) || 0;
  budget.take(declared);
  let held = declared;
  ready();
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error?: Error) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('aborted', onAborted).off('error', onAborted);
      if (error) {
        req.pause();
        reject(error);
      } else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return finish(cutOff(413, `Request body exceeds the limit of ${limit} bytes`));
      if (size > held) {
        try {
          budget.take(size - held);
        } catch (error) {
          return finish(error as Error);
        }
        held = size;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onAborted = () => finish(new ClientGone());
    const timer = setTimeout(() => finish(cutOff(408, `Request body did not arrive within ${totalMs} ms`)), totalMs);
    req.on('data', onData).on('end', onEnd).on('aborted', onAborted).on('error', onAborted);
  }).finally(() => budget.give(held));
}

/** The body as a stream of chunks that fails with 408 when no byte arrives for idleMs. */
export async function* streamBody(req: IncomingMessage, idleMs: number): AsyncGenerator<Uint8Array> {
  const chunks = req[Symbol.asyncIterator]();
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(cutOff(408, `Request body stalled for ${idleMs} ms`)), idleMs);
    });
    try {
      const next = await Promise.race([chunks.next(), idle]).catch((error) => {
        throw error instanceof TransportError ? error : new ClientGone();
      });
      if (next.done) return;
      yield next.value as Uint8Array;
    } finally {
      clearTimeout(timer);
    }
  }
}
