/**
 * The one route table (lib/http/routes.ts) against serverless.yml and docs/openapi.yaml (they
 * must never drift), the router's API Gateway matching rules, and the Lambda adapter's
 * reading of an API Gateway event.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { json, type Request } from '../../lib/http/handler';
import { lambdaHandler } from '../../lib/http/lambda';
import { FUNCTIONS, ROUTE_LIST, ROUTES, rateMs, routeKeyOf } from '../../lib/http/routes';
import { registry } from '../../lib/registry';
import { Router } from '../../server/router';

const ROOT = path.resolve(__dirname, '../..');

describe('route table', () => {
  const sls = yaml.load(readFileSync(path.join(ROOT, 'serverless.yml'), 'utf8')) as any;

  it('has exactly the functions, handlers, routes and schedules of serverless.yml', () => {
    const fromYaml: Record<string, { handler: string; routes: string[]; schedules: string[] }> = {};
    for (const [name, fn] of Object.entries<any>(sls.functions)) {
      const events: any[] = fn.events ?? [];
      fromYaml[name] = {
        handler: fn.handler,
        routes: events
          .filter((e) => e.httpApi)
          .map((e) => (typeof e.httpApi === 'string' ? e.httpApi : `${e.httpApi.method.toUpperCase()} ${e.httpApi.path}`))
          .sort(),
        schedules: events.filter((e) => e.schedule).map((e) => (typeof e.schedule === 'string' ? e.schedule : e.schedule.rate)),
      };
    }
    const fromTable: typeof fromYaml = {};
    for (const [name, fn] of Object.entries(FUNCTIONS)) {
      fromTable[name] = {
        handler: fn.handler,
        routes: ROUTE_LIST.filter((r) => r.fn === name)
          .map(routeKeyOf)
          .sort(),
        schedules: 'schedule' in fn ? [fn.schedule] : [],
      };
    }
    expect(fromTable).toEqual(fromYaml);
  });

  it('has exactly the operations of docs/openapi.yaml, by operationId, method and path', () => {
    const doc = yaml.load(readFileSync(path.join(ROOT, 'docs/openapi.yaml'), 'utf8')) as any;
    const documented: Record<string, string> = {};
    for (const [p, item] of Object.entries<any>(doc.paths))
      for (const [method, op] of Object.entries<any>(item))
        if (op?.operationId) documented[op.operationId] = `${method.toUpperCase()} ${p}`;
    // OpenAPI has no greedy parameter: `{key+}` is documented as `{key}` (a path with slashes).
    const table = Object.fromEntries(ROUTE_LIST.map((r) => [r.id, routeKeyOf(r).replace(/\{(\w+)\+\}/, '{$1}')]));
    expect(table).toEqual(documented);
  });

  it('reads schedule rates', () => {
    expect(rateMs('rate(10 minutes)')).toBe(600_000);
    expect(rateMs('rate(1 hour)')).toBe(3_600_000);
    expect(() => rateMs('cron(0 * * * ? *)')).toThrow(/Unsupported/);
  });

  it('decides auth from the table: every route that changes state needs a token or a signed URL', () => {
    for (const r of ROUTE_LIST) if (!['GET', 'HEAD'].includes(r.method)) expect(r.auth, r.id).not.toBe('public');
    expect(ROUTES.storePut.body).toBe('stream');
  });
});

describe('router', () => {
  const router = new Router<string>(ROUTE_LIST.map((r) => [routeKeyOf(r), routeKeyOf(r)] as [string, string]));

  it('matches literal, parameter and greedy segments, decoding parameters', () => {
    expect(router.match('GET', '/')?.routeKey).toBe('GET /');
    expect(router.match('GET', '/package')?.routeKey).toBe('GET /package');
    expect(router.match('GET', '/package/hello-world/1.0.0')).toMatchObject({
      routeKey: 'GET /package/{name}/{version}',
      pathParameters: { name: 'hello-world', version: '1.0.0' },
    });
    expect(router.match('POST', '/uploads/abc/complete')).toMatchObject({
      routeKey: 'POST /uploads/{id}/complete',
      pathParameters: { id: 'abc' },
    });
    expect(router.match('PUT', '/_store/uploads/a%2Fb/blobs/x')).toMatchObject({
      routeKey: 'PUT /_store/{key+}',
      pathParameters: { key: 'uploads/a/b/blobs/x' },
    });
    expect(router.match('GET', '/resource/abc/my%20file.tgz')?.pathParameters).toEqual({ digest: 'abc', name: 'my file.tgz' });
  });

  it('does not match extra, missing or empty segments, unknown methods or bad encoding', () => {
    expect(router.match('GET', '/package/a')).toBeUndefined();
    expect(router.match('GET', '/package/a/b/c')).toBeUndefined();
    expect(router.match('GET', '/package//b')).toBeUndefined();
    expect(router.match('PATCH', '/repo')).toBeUndefined();
    expect(router.match('GET', '/_store/')).toBeUndefined();
    expect(router.match('GET', '/resource/%E0%A4%A/x')).toBeUndefined();
  });

  it("takes a trailing slash as the same route, as serverless-offline does (GET /v2/ is every Docker client's first request)", () => {
    expect(router.match('GET', '/v2/')?.routeKey).toBe('GET /v2');
    expect(router.match('GET', '/repo/')?.routeKey).toBe('GET /repo');
    expect(router.match('GET', '/v2/library/x/manifests/latest/')?.routeKey).toBe('GET /v2/{proxy+}');
    // The path the operation sees is the matched one, as serverless-offline's rawPath.
    expect(router.match('GET', '/v2/_catalog/')).toMatchObject({ path: '/v2/_catalog', pathParameters: { proxy: '_catalog' } });
  });

  it('answers HEAD from the GET route', () => {
    expect(router.match('HEAD', '/repo')?.routeKey).toBe('GET /repo');
    expect(router.methodsFor('/uploads/abc')).toEqual(expect.arrayContaining(['GET', 'DELETE']));
  });
});

describe('Lambda adapter', () => {
  const seen: Request[] = [];
  const echo = async (req: Request) => {
    seen.push(req);
    return json(200, { ok: true });
  };
  const handler = lambdaHandler('packages', { listPackages: echo, describePackage: echo, removePackage: echo, readAudit: echo });
  const context = { getRemainingTimeInMillis: () => 10_000 } as unknown as Context;

  it('reads what the operations see from the event: route, path, parameters, query, lower-case headers, origin', async () => {
    const event = JSON.parse(readFileSync(path.join(ROOT, 'events/describe.json'), 'utf8')) as APIGatewayProxyEventV2;
    const res = await handler({ ...event, headers: { ...event.headers, 'X-Custom': 'One' }, queryStringParameters: { a: '1,2' } }, context);
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({ 'content-type': 'application/json', 'x-content-type-options': 'nosniff' });
    const r = seen.at(-1)!;
    expect(r).toMatchObject({
      method: 'GET',
      routeKey: 'GET /package/{name}/{version}',
      path: '/package/hello-world/1.0.0',
      params: { name: 'hello-world', version: '1.0.0' },
      query: { a: '1,2' },
      requestId: 'event-describe',
    });
    expect(r.headers['x-custom']).toBe('One');
    expect(r.origin).toBe('http://localhost:3000');
    // The registry the operation answers from: the process's, built once and the same on every invocation.
    expect(r.registry).toBe(registry());
    await handler(event, context);
    expect(seen.at(-1)!.registry).toBe(r.registry);
  });

  it('checks the token before the operation runs, and answers HEAD without a body', async () => {
    const before = seen.length;
    const event = JSON.parse(readFileSync(path.join(ROOT, 'events/describe.json'), 'utf8')) as APIGatewayProxyEventV2;
    const del = await handler(
      {
        ...event,
        routeKey: 'DELETE /package/{name}/{version}',
        requestContext: { ...event.requestContext, http: { ...event.requestContext.http, method: 'DELETE' } },
      },
      context,
    );
    expect(del.statusCode).toBe(401);
    expect(del.headers?.['cache-control']).toBe('no-store');
    expect(seen.length).toBe(before);
    const head = await handler(
      { ...event, requestContext: { ...event.requestContext, http: { ...event.requestContext.http, method: 'HEAD' } } },
      context,
    );
    expect(head).toMatchObject({ statusCode: 200, body: '' });
  });
});
