/**
 * The HTTP app's own request and answer types, the same on every runtime (the adapters in
 * lib/http/lambda.ts and server/ build them), and the small answer helpers operations use.
 * Operations stay thin: already-authorised, already-parsed input → one lib call → answer.
 */
import type { Readable } from 'node:stream';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Registry } from '../registry';
import type { StoreGrant } from '../storage/signing';

export interface Request {
  /** The registry this request is answered from, set by the adapter (Lambda: the process's; the server: its own). */
  registry: Registry;
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
  /** scheme://host[:port][/prefix] the client used (or REGISTRY_PUBLIC_URL); a bad Host throws 400 on read. */
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

/**
 * A rendered answer the store also holds (or can be given), such as a big /repo: each runtime
 * delivers it the way that is fastest for its client. The node server writes `bytes` itself,
 * whatever their size (no redirect, no store request). Lambda answers inline while the encoded
 * payload fits its response limit and `bytes.length <= inlineBytes`, and past that answers a
 * 307 to `location()` (which writes the object first when needed); without `location` it is
 * always inline (lib/http/lambda.ts lambdaResponse).
 */
export interface BytesResponse {
  statusCode: number;
  /** Headers of the inline answer (Content-Type, Content-Encoding...); a redirect keeps all but Content-Encoding. */
  headers: Record<string, string>;
  bytes: Buffer;
  /** The body as a Lambda payload carries it, encoded once by the operation (and cached by it). */
  payload(): { body: string; isBase64Encoded: boolean };
  /** Largest `bytes` a payload-limited runtime answers inline (it also applies its own limit). */
  inlineBytes: number;
  /** Where a client can GET the same bytes with the same Content-Type and Content-Encoding; absent: never redirect. */
  location?: () => Promise<string>;
}

export type Answer = Response | StreamResponse | BytesResponse;
export type Operation = (req: Request) => Promise<Answer>;

export const isStream = (a: Answer): a is StreamResponse => 'stream' in a && a.stream !== undefined;
export const isBytes = (a: Answer): a is BytesResponse => 'bytes' in a && Buffer.isBuffer(a.bytes);

export const MAX_JSON_BYTES = 5 * 1024 * 1024;

/** Lambda's cap on a synchronous response: the JSON of the structured result, body encoding included. */
export const LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024;
/** Room left in that response for the status, the headers and the JSON around the body. */
const ENVELOPE_BYTES = 64 * 1024;
/** Most body bytes that fit a Lambda response once base64-encoded (4 characters per 3 bytes): 4,669,440. */
export const LAMBDA_INLINE_MAX = Math.floor((LAMBDA_RESPONSE_LIMIT - ENVELOPE_BYTES) / 4) * 3;
/** Most bytes of a JSON document that fit as text whatever JSON escapes (at most 2 characters per byte). */
export const LAMBDA_TEXT_MAX = Math.floor((LAMBDA_RESPONSE_LIMIT - ENVELOPE_BYTES) / 2);

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return { statusCode: status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export function noContent(): Response {
  return { statusCode: 204, headers: {}, body: '' };
}
