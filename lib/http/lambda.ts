/**
 * The Lambda adapter: an API Gateway HTTP API (payload 2.0) event into the app's Request,
 * the app's Answer back into a structured result. One per serverless function
 * (functions/*), over that function's operations only, so each bundle stays small.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { PayloadTooLargeError } from '../errors';
import { log } from '../log';
import { registry } from '../registry';
import { type BodySource, createApp, makeRequest } from './app';
import { type Answer, type BytesResponse, isBytes, isStream, LAMBDA_INLINE_MAX, type Operation, type Response } from './handler';
import { type FunctionName, type OperationIdOf, ROUTE_LIST, routeKeyOf } from './routes';

/** serverless-offline caps request bodies at 10 MB (API Gateway: about the same); upload parts are at most 8 MiB. */
const LAMBDA_BODY_LIMIT = 10 * 1024 * 1024;

const defined = (o: Record<string, string | undefined> | undefined) =>
  Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Record<string, string>;

let warnedOversize = false;

/**
 * A rendered answer as Lambda returns it: inline while it fits the payload (and the operation's
 * inlineBytes), else a 307 to where the store holds the same bytes. Without a location it is
 * inline whatever its size (Lambda itself refuses a payload past its limit: logged once).
 */
export async function lambdaResponse(answer: BytesResponse, head: boolean): Promise<Response> {
  const size = answer.bytes.length;
  if (answer.location && size > Math.min(answer.inlineBytes, LAMBDA_INLINE_MAX)) {
    const { 'content-encoding': _encoding, ...headers } = answer.headers;
    return { statusCode: 307, headers: { ...headers, location: await answer.location(), 'cache-control': 'no-store' }, body: '' };
  }
  if (size > LAMBDA_INLINE_MAX && !warnedOversize) {
    warnedOversize = true;
    log.warn('an answer bigger than a Lambda response can hold is answered inline (no store address to redirect to)', { bytes: size });
  }
  const headers = { ...answer.headers, 'content-length': String(size) };
  if (head) return { statusCode: answer.statusCode, headers, body: '' };
  return { statusCode: answer.statusCode, headers, ...answer.payload() };
}

/** A streamed answer as Lambda must return it: the whole body in the payload. */
async function buffered(answer: Answer, head: boolean): Promise<Response> {
  if (isBytes(answer)) return lambdaResponse(answer, head);
  if (!isStream(answer)) return answer;
  if (head) {
    answer.stream.destroy();
    return { statusCode: answer.statusCode, headers: answer.headers, body: '' };
  }
  const chunks: Buffer[] = [];
  for await (const c of answer.stream) chunks.push(Buffer.from(c as Uint8Array));
  const body = Buffer.concat(chunks);
  return {
    statusCode: answer.statusCode,
    headers: { ...answer.headers, 'content-length': String(body.length) },
    body: body.toString('base64'),
    isBase64Encoded: true,
  };
}

/** The Lambda handler of one serverless function: every one of its routes needs its operation. */
export function lambdaHandler<F extends FunctionName>(fn: F, operations: Record<OperationIdOf<F>, Operation>) {
  const app = createApp(operations);
  const routes = new Map(ROUTE_LIST.filter((r) => r.fn === fn).map((r) => [routeKeyOf(r), r]));
  return async (event: APIGatewayProxyEventV2, context: Context): Promise<Response> => {
    const started = Date.now();
    const method = (event.requestContext?.http?.method ?? 'GET').toUpperCase();
    const routeKey = event.routeKey ?? `${method} ${event.rawPath}`;
    // serverless-offline ignores HEAD routes and hands HEAD requests to the GET route.
    const route = routes.get(routeKey) ?? routes.get(routeKey.replace(/^HEAD /, 'GET '));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
    const body = event.body ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0);
    // The process's registry, built from the configuration on the first request and kept across invocations.
    const reg = registry();
    const cfg = reg.config;
    const req = makeRequest(
      {
        registry: reg,
        method,
        routeKey: route ? routeKeyOf(route) : routeKey,
        path: event.rawPath ?? event.requestContext?.http?.path ?? '/',
        params: defined(event.pathParameters),
        query: defined(event.queryStringParameters),
        headers,
        requestId: event.requestContext?.requestId ?? '-',
      },
      // API Gateway is the proxy in front of every function: serverless.yml sets REGISTRY_TRUST_PROXY.
      { publicUrl: cfg.publicUrl, trustProxy: cfg.trustProxy, scheme: 'http' },
    );
    const source: BodySource = {
      buffer: async (limit) => {
        if (body.length > limit) throw new PayloadTooLargeError(`Request body exceeds ${limit} bytes`);
        return body;
      },
      stream: async function* () {
        if (body.length) yield body;
      },
      streamLimit: LAMBDA_BODY_LIMIT,
    };
    const response = await buffered(await app({ route, req, source }, context), method === 'HEAD');
    log.debug('request', { method, path: req.path, status: response.statusCode, ms: Date.now() - started, requestId: req.requestId });
    return response;
  };
}
