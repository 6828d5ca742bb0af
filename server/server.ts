/**
 * The production HTTP server: the node:http adapter of the one HTTP app (lib/http/app.ts,
 * the route table in lib/http/routes.ts, the operations of functions/*), as Lambda runs it
 * through lib/http/lambda.ts. It adds what a long-running server needs and a Lambda does
 * not: bodies read only after authorisation and within limits (per request, a budget over
 * all connections, timeouts: 413/408/503), streamed /_store and proxy-mode downloads with a
 * write-idle timeout, a handler timeout (504), one structured access-log line per request and
 * a graceful drain on shutdown. Stateless: every instance over the same store behaves the same.
 *
 * Why node:http and no framework: routing is the route table, auth/body/errors/headers are
 * the app's middy chain; node:http gives the pieces that matter directly (socket-level
 * timeouts, 100-continue, closeIdleConnections for draining) with no dependency to keep
 * patched in air-gapped sites. Requests become the app's own Request type, not API Gateway
 * events: the app never needed the event, and a fabricated one cost a base64 round trip of
 * every body and forced the body to be read before the route's auth could be checked.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { Context } from 'aws-lambda';
import { operations as gc } from '../functions/gc';
import { operations as health } from '../functions/health';
import { operations as packages } from '../functions/packages';
import { operations as repo } from '../functions/repo';
import { operations as resource } from '../functions/resource';
import { operations as store } from '../functions/store';
import { operations as ui } from '../functions/ui';
import { operations as uploads } from '../functions/uploads';
import { operations as v2 } from '../functions/v2';
import { config } from '../lib/config';
import { type App, type BodySource, ClientGone, createApp, makeRequest, TransportError } from '../lib/http/app';
import { type Answer, isStream, type Operation, type StreamResponse } from '../lib/http/handler';
import { answerHeaders, PREFLIGHT_HEADERS } from '../lib/http/headers';
import { type OperationId, ROUTE_LIST, type Route, routeKeyOf } from '../lib/http/routes';
import { errorAnswer } from '../lib/http/errors';
import { describeError, log } from '../lib/log';
import { type Registry, useRegistry } from '../lib/registry';
import { BodyBudget, checkDeclaredLength, readBody, streamBody } from './body';
import type { ServerOptions } from './options';
import { blobOf, proxiedBlob } from './proxy';
import { Router } from './router';

/** Every operation of the table, from the same modules the Lambda functions are built from. */
export const OPERATIONS: Record<OperationId, Operation> = {
  ...health,
  ...repo,
  ...packages,
  ...uploads,
  ...resource,
  ...v2,
  ...store,
  ...gc,
  ...ui,
};

export interface RegistryServer {
  listen(): Promise<AddressInfo>;
  /** Stop accepting, let in-flight requests finish (up to the grace period), close everything. */
  shutdown(): Promise<{ drained: boolean; cutOff: number }>;
  readonly inFlight: number;
  /** HTTPS: replace the certificate and key for new connections (renewal without a restart; server/tls.ts). */
  setSecureContext(material: { cert: string; key: string }): void;
}

export function buildRouter(): Router<Route> {
  return new Router(ROUTE_LIST.map((r) => [routeKeyOf(r), r] as [string, Route]));
}

/** Lower-cased headers, repeated ones joined with commas (as API Gateway and the Lambda adapter see them). */
function requestHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    headers[name] = name in headers ? `${headers[name]}${name === 'cookie' ? '; ' : ','}${raw[i + 1]}` : raw[i + 1];
  }
  return headers;
}

function queryOf(search: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of search) out[k] = k in out ? `${out[k]},${v}` : v;
  return out;
}

function writeAnswer(res: ServerResponse, answer: Answer): void {
  if (isStream(answer)) throw new Error('a stream answer is written by sendStream');
  const body = answer.body ? Buffer.from(answer.body, answer.isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0);
  for (const [k, v] of Object.entries(answer.headers ?? {})) res.setHeader(k.toLowerCase(), String(v));
  // A HEAD answer keeps the GET's Content-Length when the operation set one.
  const status = answer.statusCode ?? 200;
  const head = res.req.method === 'HEAD';
  if (!res.hasHeader('content-length') && !head && status !== 204 && status !== 304) res.setHeader('content-length', body.length);
  res.statusCode = status;
  res.end(head ? undefined : body);
}

/** Pipes a streamed answer; a client that reads nothing for writeTimeoutMs is cut off. */
async function sendStream(res: ServerResponse, answer: StreamResponse, writeTimeoutMs: number, note: Record<string, unknown>) {
  res.writeHead(answer.statusCode, answer.headers);
  if (res.req.method === 'HEAD') {
    answer.stream.destroy();
    res.end();
    return;
  }
  const socket = res.socket;
  // Socket inactivity: nothing written (the client's window is full) and nothing read.
  res.setTimeout(writeTimeoutMs, () => {
    note.writeTimeout = true;
    res.destroy();
  });
  try {
    await pipeline(answer.stream, res);
  } finally {
    socket?.setTimeout(0);
  }
}

/**
 * Up to this many declared bytes of a body nobody read are let through and dropped (node
 * discards them, keeping the connection), so that a client that sent a small body without
 * `Expect: 100-continue` reads its 401 instead of a reset. A bigger or chunked body closes the
 * connection after the answer, its rest never read.
 */
const DISCARD_BYTES = 64 * 1024;

/** How long a closing connection keeps dropping an unread body so that its client reads the answer (nginx: lingering_time). */
const LINGER_MS = 2000;

/**
 * Close after the answer as nginx's lingering close does: stop sending (FIN), keep dropping
 * what the client still sends for a moment, then close. Closing at once, with the client's
 * body in flight, makes the kernel answer with a reset that destroys the answer unread.
 */
function lingeringClose(socket: Socket, ms: number): void {
  socket.destroySoon = function lingering(this: Socket) {
    this.end();
    const timer = setTimeout(() => this.destroy(), ms).unref();
    this.once('close', () => clearTimeout(timer));
  };
}

function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const declared = Number(req.headers['content-length'] ?? 0);
  return declared > DISCARD_BYTES || (req.headers['transfer-encoding'] !== undefined && !req.readableEnded);
}

export function createRegistryServer(
  options: ServerOptions,
  registry: () => Registry,
  /** A certificate held in memory (server/tls.ts) instead of options.tls's files. */
  tls?: { cert: string; key: string },
): RegistryServer {
  // The handlers answer from the process-wide registry (as on Lambda): make it this one,
  // on the first request (a provider may build it lazily).
  let bound = false;
  const router = buildRouter();
  const app: App = createApp(OPERATIONS);
  const budget = new BodyBudget(options.maxBufferedBodiesBytes);
  const cfg = config();
  const scheme = options.tls || tls ? 'https' : 'http';
  let draining = false;
  let inFlight = 0;
  const responses = new Set<ServerResponse>();
  let idleWaiter: (() => void) | undefined;

  function bodySource(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean, note: Record<string, unknown>): BodySource {
    const go = () => {
      // Only now, authorised and within the declared limit, is the client told to send.
      if (expectsContinue && !note.continued) res.writeContinue();
      note.continued = true;
    };
    return {
      buffer: async (limit) => {
        const max = Math.min(limit, options.maxBodyBytes);
        const body = await readBody(req, max, options.bodyTimeoutMs, budget, go);
        note.bytesIn = body.length;
        return body;
      },
      stream: () => {
        checkDeclaredLength(req, options.maxStoreBodyBytes);
        go();
        return streamBody(req, options.idleTimeoutMs);
      },
      streamLimit: options.maxStoreBodyBytes,
    };
  }

  async function route(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    note: Record<string, unknown>,
    expectsContinue: boolean,
  ): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const headers = requestHeaders(req);
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? '/', 'http://registry.invalid');
    } catch {
      /* answered below as a bad request */
    }
    if (!url) {
      writeAnswer(res, {
        statusCode: 400,
        headers: { 'content-type': 'application/json', 'x-content-type-options': 'nosniff', connection: 'close' },
        body: JSON.stringify({ type: 'BadRequest', message: 'Malformed request target' }),
      });
      return;
    }
    const path = url.pathname;
    note.path = path;
    if (method === 'OPTIONS' && headers['access-control-request-method']) {
      const reads = router.routesFor(path).filter((r) => r.auth === 'public' && (r.method === 'GET' || r.method === 'HEAD'));
      if (reads.length) {
        res.writeHead(204, { ...PREFLIGHT_HEADERS, 'x-content-type-options': 'nosniff' }).end();
        return;
      }
    }
    const match = router.match(method, path);
    note.route = match?.routeKey;
    const req2 = makeRequest(
      {
        method,
        routeKey: match?.routeKey ?? `${method} ${path}`,
        path: match?.path ?? path,
        params: match?.pathParameters ?? {},
        query: queryOf(url.searchParams),
        headers,
        requestId,
      },
      { publicUrl: cfg.publicUrl, trustProxy: cfg.trustProxy, scheme },
    );
    const deadline = Date.now() + options.handlerTimeoutMs;
    const context = {
      functionName: match?.target.fn ?? '-',
      awsRequestId: requestId,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    } as Partial<Context> as Context;
    const event = { route: match?.target, req: req2, source: bodySource(req, res, expectsContinue, note) };
    let answer = await app(event, context);
    const blob =
      match && answer.statusCode === 307 && match.target.streams && registry().config.downloads === 'proxy'
        ? blobOf(match.target.id, match.pathParameters)
        : undefined;
    if (blob) {
      // Proxy mode: clients cannot reach the store, and a blob over the Lambda payload limit
      // gets a redirect from its operation; this server has no such limit and streams it.
      const streamed = await proxiedBlob(registry(), blob, answer.headers as Record<string, string>, headers.range);
      answer = { ...streamed, headers: { ...streamed.headers, ...answerHeaders(match?.target, headers) } };
    }
    if (hasUnreadBody(req) && !res.headersSent) {
      res.setHeader('connection', 'close');
      lingeringClose(req.socket, LINGER_MS);
    }
    if (isStream(answer)) await sendStream(res, answer, options.writeTimeoutMs, note);
    else writeAnswer(res, answer);
  }

  function fail(res: ServerResponse, error: unknown, note: Record<string, unknown>): void {
    if (res.headersSent || error instanceof ClientGone) {
      // Mid-answer (a client gone, a stream cut off): nobody to tell; the access line says so.
      note.aborted = true;
      if (!(error instanceof ClientGone) && !note.writeTimeout)
        log.warn('answer cut short', { requestId: note.requestId, ...describeError(error) });
      res.destroy();
      return;
    }
    // Outside the app's chain (the proxy-mode stream, a stream that failed before its first
    // byte): the same error table and headers as the chain's.
    const answer =
      error instanceof TransportError ? { status: error.status, body: { type: error.type, message: error.message } } : errorAnswer(error);
    if (answer.status >= 500) log.error('request failed', { requestId: note.requestId, route: note.route, ...describeError(error) });
    const text = JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'x-content-type-options': 'nosniff',
    });
    res.end(res.req.method === 'HEAD' ? undefined : text);
  }

  function onRequest(req: IncomingMessage, res: ServerResponse, expectsContinue = false): void {
    if (!bound) {
      useRegistry(registry());
      bound = true;
    }
    const started = performance.now();
    const requestId = randomUUID();
    const note: Record<string, unknown> = { requestId };
    inFlight++;
    responses.add(res);
    res.setHeader('x-request-id', requestId);
    if (draining) res.setHeader('connection', 'close');
    res.once('close', () => {
      inFlight--;
      responses.delete(res);
      // Query strings are not logged: they carry URL signatures.
      log.info('access', {
        method: req.method,
        path: note.path ?? '-',
        route: note.route,
        status: res.statusCode,
        complete: res.writableFinished,
        bytesIn: note.bytesIn ?? 0,
        bytesOut: Number(res.getHeader('content-length') ?? 0) || 0,
        ms: Math.round(performance.now() - started),
        remote: req.socket.remoteAddress,
        userAgent: req.headers['user-agent'],
        requestId,
        ...(note.aborted ? { aborted: true } : {}),
        ...(note.writeTimeout ? { writeTimeout: true } : {}),
      });
      if (inFlight === 0) idleWaiter?.();
    });
    // A small unread body is dropped as it arrives (node's default); one that stalls does not hold the connection.
    res.once('finish', () => {
      if (req.complete || req.socket.destroyed) return;
      const timer = setTimeout(() => req.socket.destroy(), options.bodyTimeoutMs).unref();
      req.once('end', () => clearTimeout(timer)).once('close', () => clearTimeout(timer));
    });
    route(req, res, requestId, note, expectsContinue).catch((error) => fail(res, error, note));
  }

  const serverOptions: http.ServerOptions = {
    headersTimeout: options.headersTimeoutMs,
    // Bodies are timed by body.ts (whole buffered body, or idle gaps of a streamed one):
    // node's requestTimeout would also cut a legitimate multi-GB upload.
    requestTimeout: 0,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    // How often node checks headersTimeout (default 30 s: far coarser than the timeout).
    connectionsCheckingInterval: Math.min(1000, options.headersTimeoutMs),
  };
  const material = tls ?? (options.tls && { cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) });
  const server = material
    ? https.createServer({ ...serverOptions, cert: material.cert, key: material.key }, (q, s) => onRequest(q, s))
    : http.createServer(serverOptions, (q, s) => onRequest(q, s));
  // Expect: 100-continue is answered only once the route's auth and the declared size pass.
  server.on('checkContinue', (q, s) => onRequest(q, s, true));
  // Malformed requests and slow headers: node's own clientError answers (400, 431, 408) fit.

  return {
    get inFlight() {
      return inFlight;
    },
    setSecureContext: (next) => {
      if (!(server instanceof https.Server)) throw new Error('setSecureContext: the server is not serving HTTPS');
      server.setSecureContext({ cert: next.cert, key: next.key });
    },
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    shutdown: async () => {
      draining = true;
      // Answers still to come close their connection, so keep-alive clients reconnect elsewhere.
      for (const res of responses) if (!res.headersSent) res.setHeader('connection', 'close');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let drained = inFlight === 0;
      if (!drained) {
        drained = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), options.shutdownGraceMs);
          idleWaiter = () => {
            clearTimeout(timer);
            resolve(true);
          };
        });
      }
      const cutOff = inFlight;
      server.closeAllConnections();
      await closed;
      return { drained, cutOff };
    },
  };
}
