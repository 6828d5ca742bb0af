/**
 * The bench's HTTP client for /repo and its baselines: node:http, the bytes as they cross the
 * wire (no decoding unless asked), redirects followed as Cosmos follows them, and optionally
 * held to a link rate (1 Gbit/s: a data-centre link; on loopback bytes cost nothing).
 *
 * A held client paces its reads (a paused socket fills the server's send window, as a slow
 * link would) and decodes a gzip answer as it arrives: it pays for the bytes and for the
 * decoding, so an encoding choice is judged where it matters.
 */
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** 1 Gbit/s in bits per second. */
export const GBIT = 1e9;
/** A reader only waits once it is this far ahead of the link (a timer per chunk would cost more than the link). */
const SLACK_MS = 4;

export interface Got {
  status: number;
  /** Content-Encoding of the final answer. */
  encoding?: string;
  /** Bytes on the wire of the final answer; the document's bytes when a held client decoded them. */
  wireBytes: number;
  docBytes?: number;
  /** Requests made (2 for a redirect followed). */
  hops: number;
  /** The wire bytes, when asked to keep them. */
  body?: Buffer;
}

export interface ClientOptions {
  /** Hold the client to this many bits per second (and decode gzip as it arrives). */
  bps?: number;
  /** Keep the wire bytes (to store a baseline of them). */
  keep?: boolean;
}

/** Feeds chunks to a sink at most at `bps` from `start`; resolves when the sink may take more. */
function pacer(bps: number | undefined) {
  const start = performance.now();
  let bytes = 0;
  return (n: number): number => {
    bytes += n;
    if (!bps) return 0;
    const due = start + ((bytes * 8) / bps) * 1000;
    return Math.max(0, due - performance.now());
  };
}

/** Decodes (when gzip and asked) and counts what it is given. */
function sink(encoding: string | undefined, decode: boolean) {
  if (!decode || encoding !== 'gzip') {
    let n = 0;
    return { write: (c: Buffer) => void (n += c.length), end: async () => n };
  }
  const gunzip = createGunzip();
  let n = 0;
  gunzip.on('data', (c: Buffer) => {
    n += c.length;
  });
  const done = new Promise<number>((resolve, reject) => {
    gunzip.on('end', () => resolve(n));
    gunzip.on('error', reject);
  });
  return {
    write: (c: Buffer) => void gunzip.write(c),
    end: () => {
      gunzip.end();
      return done;
    },
  };
}

/**
 * Reads a stream as a client on the given link would: counts the wire bytes (keeping them when
 * asked), decodes a gzip answer as it arrives when held, and pauses the source to keep to the
 * link's rate (a paused socket fills the sender's window, as a slow link would).
 */
function drain(
  src: Readable,
  encoding: string | undefined,
  opts: ClientOptions,
): Promise<{ wire: number; docBytes: number; body?: Buffer }> {
  return new Promise((resolve, reject) => {
    const wait = pacer(opts.bps);
    const out = sink(encoding, opts.bps !== undefined);
    let wire = 0;
    const kept: Buffer[] = [];
    src.on('data', (c: Buffer) => {
      wire += c.length;
      if (opts.keep) kept.push(c);
      out.write(c);
      const ms = wait(c.length);
      if (ms > SLACK_MS) {
        src.pause();
        setTimeout(() => src.resume(), ms);
      }
    });
    src.on('end', () => {
      const body = opts.keep ? Buffer.concat(kept) : undefined;
      out.end().then((docBytes) => resolve({ wire, docBytes, body }), reject);
    });
    src.on('error', reject);
  });
}

/** Consumes a stream (a file the registry's /_store route would send) as a client on the given link would. */
export async function consumeStream(src: Readable, encoding: string | undefined, opts: ClientOptions = {}): Promise<Got> {
  const { wire, docBytes } = await drain(src, encoding, opts);
  return { status: 200, encoding, wireBytes: wire, docBytes, hops: 0 };
}

/** Consumes bytes already in memory (an inline answer, in-process rows), in the 64 KiB chunks a file stream gives. */
export function consume(bytes: Buffer, encoding: string | undefined, opts: ClientOptions = {}): Promise<Got> {
  const chunks = function* () {
    for (let i = 0; i < bytes.length; i += 64 * 1024) yield bytes.subarray(i, i + 64 * 1024);
  };
  return consumeStream(Readable.from(chunks(), { objectMode: false }), encoding, opts);
}

function once(url: string, headers: Record<string, string>, opts: ClientOptions): Promise<Got & { location?: string }> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? https.get : http.get;
    const req = get(url, { headers }, (res) => {
      const status = res.statusCode ?? 0;
      const encoding = res.headers['content-encoding'];
      if (status >= 300 && status < 400) {
        res.resume();
        res.on('end', () => resolve({ status, wireBytes: 0, hops: 1, location: res.headers.location }));
        return;
      }
      drain(res, encoding, opts).then(
        ({ wire, docBytes, body }) => resolve({ status, encoding, wireBytes: wire, docBytes, hops: 1, body }),
        reject,
      );
    });
    req.on('error', reject);
  });
}

/** GET with the given headers, following redirects (at most 2); throws unless the final answer is 200. */
export async function getRaw(url: string, headers: Record<string, string> = {}, opts: ClientOptions = {}): Promise<Got> {
  let target = url;
  let hops = 0;
  for (;;) {
    const got = await once(target, headers, opts);
    hops += got.hops;
    if (got.location && hops < 3) {
      target = new URL(got.location, target).href;
      continue;
    }
    if (got.status !== 200) throw new Error(`GET ${target.split('?')[0]} answered ${got.status}`);
    return { ...got, hops };
  }
}
