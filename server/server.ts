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
import { type App, type BodySource, ClientGone, createApp, makeRequest, TransportError } from '../lib/http/app';
import { type Answer, isBytes, isStream, type Operation, type StreamResponse } from '../lib/http/handler';
import { answerHeaders, PREFLIGHT_HEADERS } from '../lib/http/headers';
import { type OperationId, ROUTE_LIST, type Route, routeKeyOf } from '../lib/http/routes';
import { errorAnswer } from '../lib/http/errors';
import { describeError, log } from '../lib/log';
import type { Registry } from '../lib/registry';
import { BodyBudget, checkDeclaredLength, readBody, streamBody } from './body';
import type { ServerOptions } from './options';
import { blobOf, proxiedBlob } from './proxy';
import { type RouteMatch, Router } from './router';

/** Every operation of the table, from the same modules the Lambda functions are built from. */
const OPERATIONS: Record<OperationId, Operation> = {
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

function buildRouter(): Router<Route> {
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
  // A rendered answer the store also holds: this server has no payload limit, so its bytes go
  // to the client as they are (gzip as rendered), never by a redirect and with no store request.
  const body = isBytes(answer)
    ? answer.bytes
    : answer.body
      ? Buffer.from(answer.body, answer.isBase64Encoded ? 'base64' : 'utf8')
      : Buffer.alloc(0);
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

/** What every request of one server shares: built once in createRegistryServer. */
interface ServerContext {
  options: ServerOptions;
  registry: Registry;
  router: Router<Route>;
  app: App;
  budget: BodyBudget;
  origin: { publicUrl?: string; trustProxy: boolean; scheme: 'http' | 'https' };
}

/** A request's notes for its access-log line (and for the error path). */
type Note = Record<string, unknown>;

/**
 * The body of a request, read only when the app's chain asks (after auth and the declared
 * limit): buffered within --max-body and the budget over all connections, or streamed.
 */
function bodySource(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, expectsContinue: boolean, note: Note): BodySource {
  const { options } = ctx;
  const go = () => {
    // Only now, authorised and within the declared limit, is the client told to send.
    if (expectsContinue && !note.continued) res.writeContinue();
    note.continued = true;
  };
  return {
    buffer: async (limit) => {
      const max = Math.min(limit, options.maxBodyBytes);
      const body = await readBody(req, max, options.bodyTimeoutMs, ctx.budget, go);
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

/** The request target, or undefined when it does not parse (answered 400 by the caller). */
function requestUrl(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', 'http://registry.invalid');
  } catch {
    return undefined;
  }
}

function badTarget(res: ServerResponse): void {
  writeAnswer(res, {
    statusCode: 400,
    headers: { 'content-type': 'application/json', 'x-content-type-options': 'nosniff', connection: 'close' },
    body: JSON.stringify({ type: 'BadRequest', message: 'Malformed request target' }),
  });
}

/** A CORS preflight for a public read is answered here, before any route runs. */
function answeredPreflight(
  ctx: ServerContext,
  method: string,
  path: string,
  headers: Record<string, string>,
  res: ServerResponse,
): boolean {
  if (method !== 'OPTIONS' || !headers['access-control-request-method']) return false;
  const reads = ctx.router.routesFor(path).filter((r) => r.auth === 'public' && (r.method === 'GET' || r.method === 'HEAD'));
  if (!reads.length) return false;
  res.writeHead(204, { ...PREFLIGHT_HEADERS, 'x-content-type-options': 'nosniff' }).end();
  return true;
}

/**
 * Proxy mode: clients cannot reach the store, and a blob over the Lambda payload limit gets a
 * redirect from its operation; this server has no such limit and streams it instead.
 */
async function streamedInsteadOfRedirect(
  ctx: ServerContext,
  match: RouteMatch<Route> | undefined,
  answer: Answer,
  headers: Record<string, string>,
): Promise<Answer> {
  if (!match || answer.statusCode !== 307 || !match.target.streams || ctx.registry.config.downloads !== 'proxy') return answer;
  const blob = blobOf(match.target.id, match.pathParameters);
  if (!blob) return answer;
  const streamed = await proxiedBlob(ctx.registry, blob, answer.headers as Record<string, string>, headers.range);
  return { ...streamed, headers: { ...streamed.headers, ...answerHeaders(match.target, headers) } };
}

/** One request through the app: route match, the app's chain, proxy-mode streaming, the answer written. */
async function route(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  note: Note,
  expectsContinue: boolean,
) {
  const method = (req.method ?? 'GET').toUpperCase();
  const headers = requestHeaders(req);
  const url = requestUrl(req);
  if (!url) return badTarget(res);
  const path = url.pathname;
  note.path = path;
  if (answeredPreflight(ctx, method, path, headers, res)) return;
  const match = ctx.router.match(method, path);
  note.route = match?.routeKey;
  const request = makeRequest(
    {
      registry: ctx.registry,
      method,
      routeKey: match?.routeKey ?? `${method} ${path}`,
      path: match?.path ?? path,
      params: match?.pathParameters ?? {},
      query: queryOf(url.searchParams),
      headers,
      requestId,
    },
    ctx.origin,
  );
  const deadline = Date.now() + ctx.options.handlerTimeoutMs;
  const context = {
    functionName: match?.target.fn ?? '-',
    awsRequestId: requestId,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  } as Partial<Context> as Context;
  const event = { route: match?.target, req: request, source: bodySource(ctx, req, res, expectsContinue, note) };
  const answer = await streamedInsteadOfRedirect(ctx, match, await ctx.app(event, context), headers);
  if (hasUnreadBody(req) && !res.headersSent) {
    res.setHeader('connection', 'close');
    lingeringClose(req.socket, LINGER_MS);
  }
  if (isStream(answer)) await sendStream(res, answer, ctx.options.writeTimeoutMs, note);
  else writeAnswer(res, answer);
}

/**
 * A request that failed outside the app's chain (the proxy-mode stream, a stream that failed
 * before its first byte): the same error table and headers as the chain's. Mid-answer (a
 * client gone, a stream cut off) there is nobody to tell; the access line says so.
 */
function fail(res: ServerResponse, error: unknown, note: Note): void {
  if (res.headersSent || error instanceof ClientGone) {
    note.aborted = true;
    if (!(error instanceof ClientGone) && !note.writeTimeout)
      log.warn('answer cut short', { requestId: note.requestId, ...describeError(error) });
    res.destroy();
    return;
  }
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

/** The access-log line of a finished request. Query strings are not logged: they carry URL signatures. */
function accessLine(req: IncomingMessage, res: ServerResponse, note: Note, started: number): Record<string, unknown> {
  return {
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
    requestId: note.requestId,
    ...(note.aborted ? { aborted: true } : {}),
    ...(note.writeTimeout ? { writeTimeout: true } : {}),
  };
}

/**
 * The server over `registry`, built once by the caller (server/main.ts): every request carries
 * it (req.registry), so several servers over different registries can share a process.
 */
export function createRegistryServer(
  options: ServerOptions,
  registry: Registry,
  /** A certificate held in memory (server/tls.ts) instead of options.tls's files. */
  tls?: { cert: string; key: string },
): RegistryServer {
  const cfg = registry.config;
  const ctx: ServerContext = {
    options,
    registry,
    router: buildRouter(),
    app: createApp(OPERATIONS),
    budget: new BodyBudget(options.maxBufferedBodiesBytes),
    origin: { publicUrl: cfg.publicUrl, trustProxy: cfg.trustProxy, scheme: options.tls || tls ? 'https' : 'http' },
  };
  let draining = false;
  let inFlight = 0;
  const responses = new Set<ServerResponse>();
  let idleWaiter: (() => void) | undefined;

  function onRequest(req: IncomingMessage, res: ServerResponse, expectsContinue = false): void {
    const started = performance.now();
    const requestId = randomUUID();
    const note: Note = { requestId };
    inFlight++;
    responses.add(res);
    res.setHeader('x-request-id', requestId);
    if (draining) res.setHeader('connection', 'close');
    res.once('close', () => {
      inFlight--;
      responses.delete(res);
      log.info('access', accessLine(req, res, note, started));
      if (inFlight === 0) idleWaiter?.();
    });
    // A small unread body is dropped as it arrives (node's default); one that stalls does not hold the connection.
    res.once('finish', () => {
      if (req.complete || req.socket.destroyed) return;
      const timer = setTimeout(() => req.socket.destroy(), options.bodyTimeoutMs).unref();
      req.once('end', () => clearTimeout(timer)).once('close', () => clearTimeout(timer));
    });
    route(ctx, req, res, requestId, note, expectsContinue).catch((error) => fail(res, error, note));
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
