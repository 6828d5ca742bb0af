/**
 * The server's route table against serverless.yml (they must never drift), the router's
 * API Gateway matching rules, and the event it builds as lib/http/handler.ts reads it.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toRequest } from '../../lib/http/handler';
import { toEvent } from '../../server/event';
import { Router } from '../../server/router';
import { HTTP_FUNCTIONS, rateMs, SCHEDULED_FUNCTIONS } from '../../server/routes';

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
          .map((e) => (typeof e.httpApi === 'string' ? e.httpApi : `${e.httpApi.method.toUpperCase()} ${e.httpApi.path}`)),
        schedules: events.filter((e) => e.schedule).map((e) => (typeof e.schedule === 'string' ? e.schedule : e.schedule.rate)),
      };
    }
    const fromTable: typeof fromYaml = {};
    for (const [name, fn] of Object.entries(HTTP_FUNCTIONS))
      fromTable[name] = { handler: fn.handlerPath, routes: fn.routes, schedules: [] };
    for (const [name, fn] of Object.entries(SCHEDULED_FUNCTIONS))
      fromTable[name] = { handler: fn.handlerPath, routes: [], schedules: [fn.schedule] };
    expect(fromTable).toEqual(fromYaml);
  });

  it('reads schedule rates', () => {
    expect(rateMs('rate(10 minutes)')).toBe(600_000);
    expect(rateMs('rate(1 hour)')).toBe(3_600_000);
    expect(() => rateMs('cron(0 * * * ? *)')).toThrow(/Unsupported/);
  });
});

describe('router', () => {
  const router = new Router<string>(Object.values(HTTP_FUNCTIONS).flatMap((f) => f.routes.map((r) => [r, r] as [string, string])));

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
  });

  it('answers HEAD from the GET route', () => {
    expect(router.match('HEAD', '/repo')?.routeKey).toBe('GET /repo');
    expect(router.methodsFor('/uploads/abc')).toEqual(expect.arrayContaining(['GET', 'DELETE']));
  });
});

describe('API Gateway v2 event', () => {
  let server: http.Server;
  let url: string;
  let seen: ReturnType<typeof toRequest>[] = [];
  let events: any[] = [];
  const router = new Router<string>(Object.values(HTTP_FUNCTIONS).flatMap((f) => f.routes.map((r) => [r, r] as [string, string])));

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const u = new URL(req.url!, 'http://x');
        const m = router.match(req.method!, u.pathname)!;
        const event = toEvent({
          req,
          url: u,
          routeKey: m.routeKey,
          pathParameters: m.pathParameters,
          body: Buffer.concat(chunks),
          requestId: 'r-1',
          secure: false,
          now: new Date(0),
        });
        events.push(event);
        seen.push(toRequest(event));
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('carries what toRequest reads: route key, path, parameters, query, lower-case headers, body bytes', async () => {
    seen = [];
    events = [];
    const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 10]);
    await fetch(`${url}/_store/uploads/x/blobs/y?X-Sig=a%2Bb&n=1&n=2`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream', 'X-Custom': 'One', Cookie: 'a=1; b=2' },
      body: binary,
    });
    const r = seen[0];
    expect(r.routeKey).toBe('PUT /_store/{key+}');
    expect(r.method).toBe('PUT');
    expect(r.path).toBe('/_store/uploads/x/blobs/y');
    expect(r.params).toEqual({ key: 'uploads/x/blobs/y' });
    expect(r.query).toEqual({ 'X-Sig': 'a+b', n: '1,2' });
    expect(r.headers['x-custom']).toBe('One');
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect(r.body.equals(binary)).toBe(true);
    expect(r.requestId).toBe('r-1');
    expect(r.origin).toBe(`${url}`);
    const e = events[0];
    expect(e).toMatchObject({ version: '2.0', rawQueryString: 'X-Sig=a%2Bb&n=1&n=2', cookies: ['a=1', 'b=2'], isBase64Encoded: true });
    expect(e.requestContext.http).toMatchObject({
      method: 'PUT',
      path: '/_store/uploads/x/blobs/y',
      protocol: 'HTTP/1.1',
      sourceIp: '127.0.0.1',
    });
    expect(e.headers.cookie).toBeUndefined();
  });

  it('passes JSON as text and never mangles bytes that are not UTF-8', async () => {
    seen = [];
    events = [];
    await fetch(`${url}/uploads`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"é":1}' });
    await fetch(`${url}/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from([0x7b, 0xff, 0x7d]),
    });
    await fetch(`${url}/repo`);
    expect(events[0]).toMatchObject({ body: '{"é":1}', isBase64Encoded: false });
    expect(events[1].isBase64Encoded).toBe(true);
    expect(seen[1].body.equals(Buffer.from([0x7b, 0xff, 0x7d]))).toBe(true);
    expect(events[2].body).toBeUndefined();
    expect(events[2].pathParameters).toBeUndefined();
    expect(events[2].queryStringParameters).toBeUndefined();
  });
});
