/**
 * The production HTTP server: runs the very handlers of functions/ (the route table in
 * routes.ts) behind node:http, one API Gateway v2 event per request, as Lambda and
 * serverless-offline do. It adds what a long-running server needs and a Lambda does not:
 * body limits and timeouts (413/408), a handler timeout (504), CORS as serverless.yml's
 * `httpApi.cors: true`, one structured access-log line per request, streamed big files
 * (native.ts) and a graceful drain on shutdown. Stateless: every instance over the same
 * store behaves the same, so any number can run behind a load balancer.
 *
 * Why node:http and no framework: the server's whole job is translating requests into
 * events; routing is the API Gateway route table (router.ts), so a framework's router,
 * body parsers and response helpers would be bypassed or duplicated. node:http gives the
 * pieces that matter directly (socket-level timeouts, 100-continue, closeIdleConnections
 * for draining) with no dependency to keep patched in air-gapped sites.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { RegistryError } from '../lib/errors';
import { errorAnswer } from '../lib/http/errors';
import { describeError, log } from '../lib/log';
import type { Registry } from '../lib/registry';
import { checkDeclaredLength, ClientGone, CutOff, readBody, streamBody } from './body';
import { lambdaContext, normalizeResult, toEvent, writeResult } from './event';
import { blobOf, fileStorageOf, proxiedBlob, storeGet, storePut, type StreamAnswer } from './native';
import type { ServerOptions } from './options';
import { Router } from './router';
import { HTTP_FUNCTIONS, type HttpHandler } from './routes';

interface Target {
  functionName: string;
  handler: HttpHandler;
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token,X-Amz-User-Agent',
  'access-control-allow-methods': 'OPTIONS,GET,POST,PUT,PATCH,DELETE',
  'access-control-expose-headers': 'ETag,Location,Content-Length',
};

export interface RegistryServer {
  listen(): Promise<AddressInfo>;
  /** Stop accepting, let in-flight requests finish (up to the grace period), close everything. */
  shutdown(): Promise<{ drained: boolean; cutOff: number }>;
  readonly inFlight: number;
  /** HTTPS: replace the certificate and key for new connections (renewal without a restart; server/tls.ts). */
  setSecureContext(material: { cert: string; key: string }): void;
}

export function buildRouter(functions = HTTP_FUNCTIONS): Router<Target> {
  const table: Array<[string, Target]> = [];
  for (const [functionName, fn] of Object.entries(functions))
    for (const key of fn.routes) table.push([key, { functionName, handler: fn.handler }]);
  return new Router(table);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

async function sendStream(res: ServerResponse, answer: StreamAnswer): Promise<void> {
  res.writeHead(answer.status, answer.headers);
  if (res.req.method === 'HEAD') {
    answer.stream.destroy();
    res.end();
    return;
  }
  await pipeline(answer.stream, res);
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HandlerTimeout(ms)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

class HandlerTimeout extends Error {
  constructor(ms: number) {
    super(`handler did not answer within ${ms} ms`);
    this.name = 'HandlerTimeout';
  }
}

export function createRegistryServer(
  options: ServerOptions,
  registry: () => Registry,
  /** A certificate held in memory (server/tls.ts) instead of options.tls's files. */
  tls?: { cert: string; key: string },
): RegistryServer {
  const router = buildRouter();
  const secure = Boolean(options.tls || tls);
  let draining = false;
  let inFlight = 0;
  const responses = new Set<ServerResponse>();
  let idleWaiter: (() => void) | undefined;

  async function route(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    note: Record<string, unknown>,
    expectsContinue: boolean,
  ): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://registry.invalid');
    } catch {
      throw new RegistryError('BadRequest', 'Malformed request target');
    }
    const method = (req.method ?? 'GET').toUpperCase();
    note.path = url.pathname;
    if (req.headers.origin) for (const [k, v] of Object.entries(CORS)) res.setHeader(k, v);
    if (method === 'OPTIONS' && req.headers['access-control-request-method'] && router.methodsFor(url.pathname).length) {
      res.writeHead(204, { 'access-control-max-age': '600' }).end();
      return;
    }
    const match = router.match(method, url.pathname);
    if (!match) throw new RegistryError('RouteNotFound', `No route for ${method} ${url.pathname}`);
    note.route = match.routeKey;
    const query = Object.fromEntries(url.searchParams);

    // Streamed: the filesystem driver's signed targets.
    const files = match.target.functionName === 'store' ? fileStorageOf(registry()) : undefined;
    if (files && match.routeKey === 'PUT /_store/{key+}') {
      checkDeclaredLength(req, options.maxStoreBodyBytes);
      if (expectsContinue) res.writeContinue();
      const result = await storePut(files, url.pathname, query, streamBody(req, options.idleTimeoutMs), options.maxStoreBodyBytes);
      note.bytesIn = result.size;
      sendJson(res, 200, { etag: result.etag, size: result.size }, { etag: `"${result.etag}"` });
      return;
    }
    if (files && match.routeKey === 'GET /_store/{key+}') {
      await sendStream(res, await storeGet(files, url.pathname, query));
      return;
    }

    // Everything else: the Lambda handler, with the body buffered as API Gateway would.
    checkDeclaredLength(req, options.maxBodyBytes);
    if (expectsContinue) res.writeContinue();
    const body = await readBody(req, options.maxBodyBytes, options.bodyTimeoutMs);
    note.bytesIn = body.length;
    const event = toEvent({
      req,
      url,
      routeKey: match.routeKey,
      pathParameters: match.pathParameters,
      body,
      requestId,
      secure,
      now: new Date(),
    });
    const deadline = Date.now() + options.handlerTimeoutMs;
    const result = normalizeResult(
      await withTimeout(
        match.target.handler(event, lambdaContext(match.target.functionName, requestId, deadline)),
        options.handlerTimeoutMs,
      ),
    );
    const blob =
      result.statusCode === 307 && registry().config.downloads === 'proxy' ? blobOf(match.routeKey, match.pathParameters) : undefined;
    if (blob) {
      // Proxy mode: clients cannot reach the store, and a blob over the Lambda payload limit
      // gets a redirect from the handler; this server has no such limit and streams it.
      await sendStream(res, await proxiedBlob(registry(), blob, (result.headers ?? {}) as Record<string, string>, req.headers.range));
      return;
    }
    writeResult(res, result);
  }

  function fail(req: IncomingMessage, res: ServerResponse, error: unknown, note: Record<string, unknown>): void {
    if (error instanceof ClientGone) {
      note.aborted = true;
      res.destroy();
      return;
    }
    if (error instanceof CutOff) {
      // The rest of the body is unread: close the connection after answering. A 413 drains
      // the body for a moment first, so clients still sending can read the answer.
      res.setHeader('connection', 'close');
      sendJson(res, error.status, { type: error.type, message: error.message });
      if (error.status === 413) {
        req.resume();
        setTimeout(() => req.socket.destroy(), 2000).unref();
      } else res.once('finish', () => req.socket.destroy());
      return;
    }
    if (error instanceof HandlerTimeout) {
      log.error('handler timeout', { requestId: note.requestId, route: note.route });
      sendJson(res, 504, { type: 'GatewayTimeout', message: 'The registry did not answer in time; retry' });
      return;
    }
    const answer = errorAnswer(error);
    if (answer.status >= 500) log.error('request failed', { requestId: note.requestId, route: note.route, ...describeError(error) });
    if (!res.headersSent && answer.status === 413) res.setHeader('connection', 'close');
    sendJson(res, answer.status, answer.body);
  }

  function onRequest(req: IncomingMessage, res: ServerResponse, expectsContinue = false): void {
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
      });
      if (inFlight === 0) idleWaiter?.();
    });
    route(req, res, requestId, note, expectsContinue).catch((error) => fail(req, res, error, note));
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
  // Answer Expect: 100-continue only once the size is known to be acceptable.
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
