/**
 * Node HTTP request ⇄ API Gateway HTTP API (payload 2.0) event and result, field for field
 * what Lambda behind API Gateway and serverless-offline hand the handlers
 * (lib/http/handler.ts toRequest reads them), so the handlers cannot tell the difference.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';

/** Content types API Gateway passes as text; everything else (and invalid UTF-8) goes base64, so no byte is ever mangled. */
const TEXT_TYPE = /^(text\/|application\/(json|[\w.+-]*\+json|xml|[\w.+-]*\+xml|x-www-form-urlencoded|javascript))/i;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface EventInput {
  req: IncomingMessage;
  url: URL;
  routeKey: string;
  pathParameters: Record<string, string>;
  body: Buffer;
  requestId: string;
  secure: boolean;
  now: Date;
}

function clfTime(d: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** Lower-cased headers, repeated ones joined with commas; cookies apart, as API Gateway does. */
export function eventHeaders(req: IncomingMessage, secure: boolean): { headers: Record<string, string>; cookies?: string[] } {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    if (name === 'cookie') cookies.push(...value.split(/;\s*/).filter(Boolean));
    else headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  // API Gateway adds these; a load balancer in front of us may have set them already.
  const remote = req.socket.remoteAddress ?? '';
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${remote}` : remote;
  headers['x-forwarded-proto'] ??= secure ? 'https' : 'http';
  headers['x-forwarded-port'] ??= String(req.socket.localPort ?? '');
  return { headers, cookies: cookies.length ? cookies : undefined };
}

function queryParameters(search: URLSearchParams): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of search) out[k] = k in out ? `${out[k]},${v}` : v;
  return Object.keys(out).length ? out : undefined;
}

function encodeBody(body: Buffer, contentType: string | undefined): { body?: string; isBase64Encoded: boolean } {
  if (body.length === 0) return { body: undefined, isBase64Encoded: false };
  if (contentType && TEXT_TYPE.test(contentType)) {
    try {
      return { body: utf8.decode(body), isBase64Encoded: false };
    } catch {
      /* not UTF-8 after all: base64 below */
    }
  }
  return { body: body.toString('base64'), isBase64Encoded: true };
}

export function toEvent(input: EventInput): APIGatewayProxyEventV2 {
  const { req, url, secure } = input;
  const { headers, cookies } = eventHeaders(req, secure);
  const method = (req.method ?? 'GET').toUpperCase();
  const rawQuery = (req.url ?? '').includes('?') ? (req.url ?? '').slice((req.url ?? '').indexOf('?') + 1) : '';
  const host = headers.host ?? 'localhost';
  return {
    version: '2.0',
    routeKey: input.routeKey,
    rawPath: url.pathname,
    rawQueryString: rawQuery,
    cookies,
    headers,
    queryStringParameters: queryParameters(url.searchParams),
    pathParameters: Object.keys(input.pathParameters).length ? input.pathParameters : undefined,
    stageVariables: undefined,
    ...encodeBody(input.body, headers['content-type']),
    requestContext: {
      accountId: 'anonymous',
      apiId: 'dcos-registry-server',
      domainName: host,
      domainPrefix: host.split('.')[0],
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: input.requestId,
      routeKey: input.routeKey,
      stage: '$default',
      time: clfTime(input.now),
      timeEpoch: input.now.getTime(),
    },
  };
}

export function lambdaContext(functionName: string, requestId: string, deadline: number): Context {
  const unsupported = () => {
    throw new Error('callback-style completion is not supported');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '0',
    awsRequestId: requestId,
    logGroupName: `/dcos-registry/${functionName}`,
    logStreamName: 'server',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

/**
 * A handler's result as API Gateway turns it into a response: a structured result as is;
 * anything else is 200 JSON of the value (payload 2.0's rule).
 */
export function normalizeResult(result: unknown): APIGatewayProxyStructuredResultV2 {
  if (result && typeof result === 'object' && 'statusCode' in result) return result as APIGatewayProxyStructuredResultV2;
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: typeof result === 'string' ? result : JSON.stringify(result ?? null),
  };
}

export function writeResult(res: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const body = result.body ? Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0);
  for (const [k, v] of Object.entries(result.headers ?? {})) res.setHeader(k.toLowerCase(), String(v));
  if (result.cookies?.length) res.setHeader('set-cookie', result.cookies);
  // A HEAD answer keeps the GET's Content-Length when the handler set one (the glue empties
  // the body, not the headers); the length of an emptied body would be wrong.
  const status = result.statusCode ?? 200;
  const head = res.req.method === 'HEAD';
  if (!res.hasHeader('content-length') && !head && status !== 204 && status !== 304) res.setHeader('content-length', body.length);
  res.statusCode = status;
  res.end(head ? undefined : body);
}
