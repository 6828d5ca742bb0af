/**
 * HTTP glue shared by every function: turns an API Gateway v2 event into a small
 * request object, runs the route, and turns results and errors into responses.
 * Handlers stay thin: parse → one lib call → answer.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { config } from '../config';
import { BadRequestError, PayloadTooLargeError, RegistryError, UnauthorizedError } from '../errors';
import { describeError, log } from '../log';
import { errorAnswer } from './errors';

export interface Request {
  method: string;
  /** "GET /package/{name}/{version}" */
  routeKey: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, string>;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** Raw body bytes (empty when none). */
  body: Buffer;
  /** scheme://host[:port] the client used (or REGISTRY_PUBLIC_URL). */
  origin: string;
  requestId: string;
}

export type Response = APIGatewayProxyStructuredResultV2;
export type Route = (req: Request) => Promise<Response>;

export interface RouteOptions {
  /** Needs a write token; checked before anything else is looked at. */
  write?: boolean;
}

export const MAX_JSON_BYTES = 5 * 1024 * 1024;

function tokenMatches(given: string, allowed: readonly string[]): boolean {
  // Compare digests so length differences do not leak through timing.
  const g = createHash('sha256').update(given).digest();
  let ok = false;
  for (const t of allowed) ok = timingSafeEqual(g, createHash('sha256').update(t).digest()) || ok;
  return ok;
}

export function requireWriter(headers: Record<string, string>): void {
  const tokens = config().writeTokens;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  if (tokens.length === 0) throw new UnauthorizedError('Writes are disabled: no write token is configured (REGISTRY_WRITE_TOKENS)');
  if (!m || !tokenMatches(m[1], tokens)) throw new UnauthorizedError();
}

function originOf(headers: Record<string, string>): string {
  const configured = config().publicUrl;
  if (configured) return configured;
  const host = headers['x-forwarded-host'] ?? headers.host ?? 'localhost';
  const proto = headers['x-forwarded-proto'] ?? 'http';
  return `${proto.split(',')[0].trim()}://${host.split(',')[0].trim()}`;
}

export function toRequest(event: APIGatewayProxyEventV2): Request {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  const body = event.body ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0);
  const method = event.requestContext?.http?.method ?? 'GET';
  return {
    method,
    routeKey: event.routeKey ?? `${method} ${event.rawPath}`,
    path: event.rawPath ?? event.requestContext?.http?.path ?? '/',
    params: Object.fromEntries(Object.entries(event.pathParameters ?? {}).filter(([, v]) => v !== undefined)) as Record<string, string>,
    query: Object.fromEntries(Object.entries(event.queryStringParameters ?? {}).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >,
    headers,
    body,
    origin: originOf(headers),
    requestId: event.requestContext?.requestId ?? '-',
  };
}

/** Parse a JSON request body: clear 4xx for anything but a JSON object under the size limit. */
export function jsonBody<T = Record<string, unknown>>(req: Request, maxBytes = MAX_JSON_BYTES): T {
  if (req.body.length > maxBytes) throw new PayloadTooLargeError(`Request body exceeds ${maxBytes} bytes`);
  const type = req.headers['content-type'] ?? '';
  if (type && !/^application\/(json|octet-stream)\b/i.test(type)) {
    throw new RegistryError('UnsupportedMediaType', `Content-Type must be application/json (got ${type.slice(0, 100)})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(req.body.toString('utf8'));
  } catch {
    throw new BadRequestError('Request body is not valid JSON', undefined, 'InvalidJson');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new BadRequestError('Request body must be a JSON object', undefined, 'InvalidJson');
  }
  return parsed as T;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return { statusCode: status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export function redirect(location: string, headers: Record<string, string> = {}): Response {
  return { statusCode: 307, headers: { location, 'cache-control': 'no-store', ...headers }, body: '' };
}

export function noContent(): Response {
  return { statusCode: 204, headers: {}, body: '' };
}

/**
 * Build a Lambda handler from routes keyed by API Gateway route key
 * ("GET /package/{name}/{version}"). Unknown routes get 404.
 */
export function httpHandler(routes: Record<string, Route | [Route, RouteOptions]>) {
  const table = new Map(Object.entries(routes).map(([k, v]) => [k, Array.isArray(v) ? v : ([v, {}] as [Route, RouteOptions])]));
  const base = async (event: APIGatewayProxyEventV2, _context: Context): Promise<Response> => {
    const started = Date.now();
    let response: Response;
    let req: Request | undefined;
    try {
      req = toRequest(event);
      const entry = table.get(req.routeKey) ?? table.get(req.routeKey.replace(/^HEAD /, 'GET '));
      if (!entry) throw new RegistryError('RouteNotFound', `No route for ${req.method} ${req.path}`);
      const [route, options] = entry;
      if (options.write) requireWriter(req.headers);
      response = await route(req);
      if (req.method === 'HEAD') response = { ...response, body: '', isBase64Encoded: false };
    } catch (error) {
      const answer = errorAnswer(error);
      if (answer.status >= 500) log.error('request failed', { route: req?.routeKey, requestId: req?.requestId, ...describeError(error) });
      response = json(answer.status, answer.body);
    }
    log.debug('request', {
      method: req?.method,
      path: req?.path,
      status: response.statusCode,
      ms: Date.now() - started,
      requestId: req?.requestId,
    });
    return response;
  };
  return middy(base);
}
