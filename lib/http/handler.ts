/**
 * The HTTP app's own request and answer types, the same on every runtime (the adapters in
 * lib/http/lambda.ts and server/ build them), and the small answer helpers operations use.
 * Operations stay thin: already-authorised, already-parsed input → one lib call → answer.
 */
import type { Readable } from 'node:stream';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { StoreGrant } from '../storage/signing';

export interface Request {
  method: string;
  /** "GET /package/{name}/{version}" (the matched route; the request line when none matched). */
  routeKey: string;
  /** Raw (percent-encoded) path. */
  path: string;
  /** Percent-decoded path parameters. */
  params: Record<string, string>;
  /** Query parameters, repeated ones joined with commas (as API Gateway does). */
  query: Record<string, string>;
  /** Lower-cased header names, repeated ones joined with commas. */
  headers: Record<string, string>;
  /** scheme://host[:port] the client used (or REGISTRY_PUBLIC_URL); a bad Host throws 400 on read. */
  readonly origin: string;
  requestId: string;
  /** `json` routes: the body, a JSON object (parsed after authorisation). */
  json: Record<string, unknown>;
  /** `stream` routes: the body as it arrives, and the most bytes this runtime accepts. */
  body: AsyncIterable<Uint8Array>;
  bodyLimit: number;
  /** `signed-url` routes: what the verified signature grants. */
  grant?: StoreGrant;
  /** `write` routes: who was authorised (a static token's label or a JWT's uid/sub). */
  writer?: { subject: string };
}

/** A buffered answer (what Lambda returns behind API Gateway). */
export type Response = APIGatewayProxyStructuredResultV2;

/** A streamed answer (routes with `streams`): node pipes it, Lambda buffers it. */
export interface StreamResponse {
  statusCode: number;
  headers: Record<string, string>;
  stream: Readable;
}

export type Answer = Response | StreamResponse;
export type Operation = (req: Request) => Promise<Answer>;

export const isStream = (a: Answer): a is StreamResponse => 'stream' in a && a.stream !== undefined;

export const MAX_JSON_BYTES = 5 * 1024 * 1024;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return { statusCode: status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export function redirect(location: string, headers: Record<string, string> = {}): Response {
  return { statusCode: 307, headers: { location, 'cache-control': 'no-store', ...headers }, body: '' };
}

export function noContent(): Response {
  return { statusCode: 204, headers: {}, body: '' };
}
