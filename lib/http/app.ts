/**
 * The HTTP app both runtimes run: one middy chain over the route table's operations.
 * The adapters (lib/http/lambda.ts for Lambda, server/adapter.ts for node:http) only turn
 * their request into an AppEvent and the Answer back into their response.
 *
 * The middlewares, in the order they see a request:
 *   1. answer headers   after/onError: nosniff, no-store on write routes, CORS on public reads, HEAD
 *   2. errors           onError: domain errors through lib/http/errors.ts; transport refusals
 *                       (413/408/503) as they are; middy's timeout as 504; 5xx logged, never shown
 *   3. authorise        before: the route table's `auth`, from headers and URL only
 *   4. body             before: only now is a body read (`json`) or handed over (`stream`); on
 *                       node that is also when `100 Continue` is sent
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { BadRequestError, ERRORS, RegistryError } from '../errors';
import { describeError, log } from '../log';
import { authorizeSigned, authorizeWrite } from './auth';
import { errorAnswer } from './errors';
import { type AuditWrite, recordWrite } from '../audit';
import { type Answer, isBytes, isStream, json, MAX_JSON_BYTES, type Operation, type Request } from './handler';
import { answerHeaders, type OriginSettings, originOf } from './headers';
import type { OperationId, Route } from './routes';

/** How an adapter delivers a request body; nothing is read until the body middleware asks. */
export interface BodySource {
  /** The whole body; a refusal (413) past `limit` or the adapter's own limit. */
  buffer(limit: number): Promise<Buffer>;
  /** The body as it arrives (a stalled one fails with 408 on node). */
  stream(): AsyncIterable<Uint8Array>;
  /** Most bytes a streamed body may have on this runtime. */
  streamLimit: number;
}

export interface AppEvent {
  /** The matched route; undefined answers 404 through the same chain. */
  route: Route | undefined;
  req: Request;
  source: BodySource;
}

export type Operations = Partial<Record<OperationId, Operation>>;

/** A refusal decided by the transport, not the domain (body limits, timeouts, load): status as is. */
export class TransportError extends Error {
  readonly status: number;
  constructor(
    readonly type: 'RequestTimeout' | 'PayloadTooLarge' | 'ServerBusy',
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'TransportError';
    // The status comes from the one error registry, as for every other error type.
    this.status = ERRORS[type].status;
  }
}

/** The client went away mid-request: nobody to answer (the adapter drops the connection). */
export class ClientGone extends Error {
  constructor() {
    super('client closed the connection');
    this.name = 'ClientGone';
  }
}

type Fields = Omit<Request, 'origin' | 'json' | 'body' | 'bodyLimit' | 'grant'>;

/** A Request whose origin is computed on first read (a bad Host is a 400 only where it matters). */
export function makeRequest(fields: Fields, origin: OriginSettings): Request {
  let cached: string | undefined;
  return {
    ...fields,
    get origin() {
      cached ??= originOf(fields.headers, origin);
      return cached;
    },
    json: {},
    body: (async function* () {})(),
    bodyLimit: 0,
  };
}

function parseJson(body: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new BadRequestError('Request body is not valid JSON', undefined, 'InvalidJson');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new BadRequestError('Request body must be a JSON object', undefined, 'InvalidJson');
  }
  return parsed as Record<string, unknown>;
}

type MiddyRequest = middy.Request<AppEvent, Answer, Error, Context>;

const answerHeadersMiddleware = (): middy.MiddlewareObj<AppEvent, Answer> => {
  const finish = (request: MiddyRequest) => {
    const { route, req } = request.event;
    const answer = request.response;
    if (!answer) return;
    const headers: Record<string, string> = { ...(answer.headers as Record<string, string>), ...answerHeaders(route, req.headers) };
    if (req.method === 'HEAD' && !isStream(answer) && !isBytes(answer))
      request.response = { ...answer, headers, body: '', isBase64Encoded: false };
    else request.response = { ...answer, headers };
  };
  return { after: finish, onError: finish };
};

const errorsMiddleware = (): middy.MiddlewareObj<AppEvent, Answer> => ({
  onError: (request) => {
    const { error } = request;
    const { req } = request.event;
    if (error instanceof ClientGone) return; // rethrown: the adapter drops the connection
    if (error instanceof TransportError) {
      request.response = json(error.status, { type: error.type, message: error.message }, error.headers);
      return;
    }
    if (error?.name === 'TimeoutError') {
      log.error('handler timeout', { route: req.routeKey, requestId: req.requestId });
      request.response = json(504, { type: 'GatewayTimeout', message: 'The registry did not answer in time; retry' });
      return;
    }
    const answer = errorAnswer(error);
    if (answer.status >= 500) log.error('request failed', { route: req.routeKey, requestId: req.requestId, ...describeError(error) });
    request.response = json(answer.status, answer.body);
  },
});

const authorizeMiddleware = (): middy.MiddlewareObj<AppEvent, Answer> => ({
  before: async ({ event: { route, req } }) => {
    if (!route) throw new RegistryError('RouteNotFound', `No route for ${req.method} ${req.path}`);
    if (route.auth === 'write') req.writer = await authorizeWrite(req.registry.config, req.headers);
    else if (route.auth === 'signed-url') req.grant = await authorizeSigned(req.registry, req);
  },
});

const bodyMiddleware = (): middy.MiddlewareObj<AppEvent, Answer> => ({
  before: async ({ event: { route, req, source } }) => {
    if (route?.body === 'json') {
      const type = req.headers['content-type'] ?? '';
      if (type && !/^application\/(json|octet-stream)\b/i.test(type)) {
        throw new RegistryError('UnsupportedMediaType', `Content-Type must be application/json (got ${type.slice(0, 100)})`);
      }
      req.json = parseJson(await source.buffer(MAX_JSON_BYTES));
    } else if (route?.body === 'stream') {
      req.body = source.stream();
      req.bodyLimit = source.streamLimit;
    }
  },
});

/** Write routes whose success is recorded in the audit log (lib/audit.ts); getUpload only reads. */
const AUDITED: ReadonlySet<string> = new Set(['startUpload', 'completeUpload', 'abortUpload', 'removePackage', 'collectGarbage']);

/** What an audited write's operation tells the audit middleware; `null`: no write happened (a poll). */
export type AuditFields = Pick<AuditWrite, 'name' | 'version' | 'uploadId' | 'outcome'> | null;

/** The key of the audit fields on an Answer: a symbol, so no adapter serializes it (JSON.stringify skips symbols). */
const AUDIT_FIELDS: unique symbol = Symbol('audit fields');

/** An answer carrying what the audit log records of this write (read by the audit middleware, then dropped). */
export function withAudit<A extends Answer>(answer: A, fields: AuditFields): A {
  return Object.assign(answer, { [AUDIT_FIELDS]: fields });
}

/**
 * Every successful write goes into the audit log (who, what, when, which instance), apart from
 * the commit log. Recorded after the write: a failure to record is logged, never turned into a
 * failure of a write that happened. The operation hands the fields (name, version, upload id,
 * outcome) on its answer (withAudit); path parameters fill in what it does not say.
 */
const auditMiddleware = (): middy.MiddlewareObj<AppEvent, Answer> => ({
  after: async (request) => {
    const {
      event: { route, req },
      response,
    } = request;
    if (!response) return;
    const tagged = response as Answer & { [AUDIT_FIELDS]?: AuditFields };
    const fields = tagged[AUDIT_FIELDS];
    delete tagged[AUDIT_FIELDS];
    if (!route || !req.writer || !AUDITED.has(route.id) || (response.statusCode ?? 200) >= 400 || fields === null) return;
    await recordWrite(req.registry.storage, {
      subject: req.writer.subject,
      action: route.id,
      name: req.params.name ?? fields?.name,
      version: req.params.version ?? fields?.version,
      uploadId: req.params.id ?? fields?.uploadId,
      requestId: req.requestId,
      outcome: fields?.outcome ?? 'ok',
    }).catch((error) => log.error('audit record failed', { route: route.id, requestId: req.requestId, ...describeError(error) }));
  },
});

/** The app over some operations (one function's on Lambda, all of them on the server). */
export function createApp(operations: Operations) {
  const dispatch = async ({ route, req }: AppEvent): Promise<Answer> => {
    const operation = route && operations[route.id];
    if (!operation) throw new RegistryError('RouteNotFound', `No route for ${req.method} ${req.path}`);
    return operation(req);
  };
  return middy<AppEvent, Answer, Error, Context>(dispatch)
    .use(answerHeadersMiddleware())
    .use(errorsMiddleware())
    .use(authorizeMiddleware())
    .use(auditMiddleware())
    .use(bodyMiddleware());
}

export type App = ReturnType<typeof createApp>;
