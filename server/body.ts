/**
 * Request bodies with limits: buffered (handler routes, as API Gateway would deliver them)
 * up to a size and within a total time; streamed (/_store) with an idle timeout. Breaking a
 * limit throws CutOff, which the server answers with 413 or 408 and then closes the connection.
 */
import type { IncomingMessage } from 'node:http';

export class CutOff extends Error {
  constructor(
    readonly status: 408 | 413,
    message: string,
  ) {
    super(message);
    this.name = 'CutOff';
  }
  get type(): string {
    return this.status === 408 ? 'RequestTimeout' : 'PayloadTooLarge';
  }
}

/** The client went away mid-body: nobody to answer. */
export class ClientGone extends Error {
  constructor() {
    super('client closed the connection');
    this.name = 'ClientGone';
  }
}

/** 413 before reading a byte when Content-Length already says too much. */
export function checkDeclaredLength(req: IncomingMessage, limit: number): void {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new CutOff(413, `Request body of ${declared} bytes exceeds the limit of ${limit} bytes`);
}

export function readBody(req: IncomingMessage, limit: number, totalMs: number): Promise<Buffer> {
  checkDeclaredLength(req, limit);
  return new Promise((resolve, reject) => {
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
      if (size > limit) return finish(new CutOff(413, `Request body exceeds the limit of ${limit} bytes`));
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onAborted = () => finish(new ClientGone());
    const timer = setTimeout(() => finish(new CutOff(408, `Request body did not arrive within ${totalMs} ms`)), totalMs);
    req.on('data', onData).on('end', onEnd).on('aborted', onAborted).on('error', onAborted);
  });
}

/** The body as a stream of chunks that fails with 408 when no byte arrives for idleMs. */
export async function* streamBody(req: IncomingMessage, idleMs: number): AsyncGenerator<Uint8Array> {
  const chunks = req[Symbol.asyncIterator]();
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CutOff(408, `Request body stalled for ${idleMs} ms`)), idleMs);
    });
    try {
      const next = await Promise.race([chunks.next(), idle]).catch((error) => {
        throw error instanceof CutOff ? error : new ClientGone();
      });
      if (next.done) return;
      yield next.value as Uint8Array;
    } finally {
      clearTimeout(timer);
    }
  }
}
