/**
 * The one route table of the HTTP API. Both runtimes serve exactly this: the Lambda adapter
 * (lib/http/lambda.ts, one thin entry point per serverless function in functions/) and the
 * production server's node:http adapter (server/). serverless.yml's httpApi events and
 * docs/openapi.yaml's operations are checked against it (test/server/routes.test.ts).
 *
 * Data only, no handler imports: a Lambda bundle links in the operations of its own
 * function and nothing else. Each function's operations are typed from this table
 * (`OperationsOf<'packages'>`), so a route without an operation, or an operation without a
 * route, does not compile. Keys are docs/openapi.yaml's operationIds.
 *
 * - auth: `public` anyone; `write` a write token (lib/http/auth.ts); `signed-url` the
 *   filesystem driver's HMAC-signed URL. Decided from the headers and URL alone, before
 *   `100 Continue` and before a byte of the body is read.
 * - body: `none` never read; `json` a JSON object, buffered within the adapter's limit;
 *   `stream` handed to the operation as a stream (the node adapter never buffers it).
 * - streams: the answer may be a stream (node pipes it; Lambda buffers it into its payload).
 */
type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
export type Auth = 'public' | 'write' | 'signed-url';
type BodyKind = 'none' | 'json' | 'stream';

export interface RouteSpec {
  method: Method;
  /** API Gateway path: `{name}` one segment, `{key+}` the rest. */
  path: string;
  /** The serverless function (serverless.yml `functions:` key) that serves it on Lambda. */
  fn: string;
  auth: Auth;
  body: BodyKind;
  streams?: boolean;
}

export const ROUTES = {
  root: { method: 'GET', path: '/', fn: 'health', auth: 'public', body: 'none' },
  health: { method: 'GET', path: '/health', fn: 'health', auth: 'public', body: 'none' },
  getRepo: { method: 'GET', path: '/repo', fn: 'repo', auth: 'public', body: 'none' },
  listPackages: { method: 'GET', path: '/package', fn: 'packages', auth: 'public', body: 'none' },
  describePackage: { method: 'GET', path: '/package/{name}/{version}', fn: 'packages', auth: 'public', body: 'none' },
  removePackage: { method: 'DELETE', path: '/package/{name}/{version}', fn: 'packages', auth: 'write', body: 'none' },
  startUpload: { method: 'POST', path: '/uploads', fn: 'uploads', auth: 'write', body: 'json' },
  getUpload: { method: 'GET', path: '/uploads/{id}', fn: 'uploads', auth: 'write', body: 'none' },
  completeUpload: { method: 'POST', path: '/uploads/{id}/complete', fn: 'uploads', auth: 'write', body: 'none' },
  abortUpload: { method: 'DELETE', path: '/uploads/{id}', fn: 'uploads', auth: 'write', body: 'none' },
  getResource: { method: 'GET', path: '/resource/{digest}/{name}', fn: 'resource', auth: 'public', body: 'none', streams: true },
  // Explicit HEAD routes: API Gateway needs them declared (elsewhere HEAD falls back to GET).
  headResource: { method: 'HEAD', path: '/resource/{digest}/{name}', fn: 'resource', auth: 'public', body: 'none' },
  v2Base: { method: 'GET', path: '/v2', fn: 'v2', auth: 'public', body: 'none' },
  v2Get: { method: 'GET', path: '/v2/{proxy+}', fn: 'v2', auth: 'public', body: 'none', streams: true },
  v2Head: { method: 'HEAD', path: '/v2/{proxy+}', fn: 'v2', auth: 'public', body: 'none' },
  storeGet: { method: 'GET', path: '/_store/{key+}', fn: 'store', auth: 'signed-url', body: 'none', streams: true },
  storePut: { method: 'PUT', path: '/_store/{key+}', fn: 'store', auth: 'signed-url', body: 'stream' },
  collectGarbage: { method: 'POST', path: '/gc', fn: 'gc', auth: 'write', body: 'none' },
  readAudit: { method: 'GET', path: '/audit', fn: 'packages', auth: 'write', body: 'none' },
  // The web catalog (lib/ui/): public pages; writers act through the JSON routes above.
  uiList: { method: 'GET', path: '/ui', fn: 'ui', auth: 'public', body: 'none' },
  uiPackage: { method: 'GET', path: '/ui/packages/{name}', fn: 'ui', auth: 'public', body: 'none' },
  uiAsset: { method: 'GET', path: '/ui/assets/{file}', fn: 'ui', auth: 'public', body: 'none' },
} as const satisfies Record<string, RouteSpec>;

export type OperationId = keyof typeof ROUTES;
export type FunctionName = (typeof ROUTES)[OperationId]['fn'];
export type Route = RouteSpec & { id: OperationId };

/** The table as a list, each entry with its id. */
export const ROUTE_LIST: readonly Route[] = Object.entries(ROUTES).map(([id, spec]) => ({ ...spec, id: id as OperationId }));

/** "GET /package/{name}/{version}": API Gateway's route key. */
export const routeKeyOf = (r: RouteSpec): string => `${r.method} ${r.path}`;

/** Operation ids served by one function. */
export type OperationIdOf<F extends FunctionName> = {
  [K in OperationId]: (typeof ROUTES)[K]['fn'] extends F ? K : never;
}[OperationId];

/** serverless.yml `handler:` of each function (HTTP and scheduled), and the schedules. */
export const FUNCTIONS = {
  health: { handler: 'functions/health.handler' },
  repo: { handler: 'functions/repo.handler' },
  packages: { handler: 'functions/packages.handler' },
  uploads: { handler: 'functions/uploads.handler' },
  resource: { handler: 'functions/resource.handler' },
  v2: { handler: 'functions/v2.handler' },
  store: { handler: 'functions/store.handler' },
  gc: { handler: 'functions/gc.handler' },
  ui: { handler: 'functions/ui.handler' },
  gcScheduled: { handler: 'functions/gc.scheduled', schedule: 'rate(1 hour)' },
  sweeper: { handler: 'functions/sweeper.handler', schedule: 'rate(10 minutes)' },
} as const satisfies Record<string, { handler: string; schedule?: string }>;

/** "rate(10 minutes)" → 600000. Only rate() expressions: cron needs a clock we do not trust across instances. */
export function rateMs(expression: string): number {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!m) throw new Error(`Unsupported schedule expression: ${expression}`);
  const unit = m[2].startsWith('minute') ? 60_000 : m[2].startsWith('hour') ? 3_600_000 : 86_400_000;
  return Number(m[1]) * unit;
}
