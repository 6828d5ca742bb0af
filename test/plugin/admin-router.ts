/**
 * A stand-in for DC/OS Admin Router in front of one Marathon app (Admin Router cannot run here):
 * `/service/<name>/<path>` is proxied to the app as `/<path>` (the prefix stripped, as Admin Router
 * does for apps labelled DCOS_SERVICE_NAME / DCOS_SERVICE_PORT_INDEX / DCOS_SERVICE_SCHEME), bodies
 * streamed both ways; every request must carry the DC/OS login as `Authorization: token=<token>`
 * (Admin Router gates `/service/<name>/` with `dcos:adminrouter:service:<name>`): otherwise 401 with
 * `WWW-Authenticate: acsjwt`, and the request never reaches the app. Anything outside the prefix: 404.
 *
 * Upstream, the header goes on unchanged, as Admin Router passes it: the registry accepts `token=`
 * itself (lib/http/auth.ts). This double checks the client's side: `token=` on every request.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AdminRouter {
  url: string;
  requests: Array<{ method: string; path: string; authorization?: string; status: number }>;
  close(): Promise<void>;
}

/** `token`: the DC/OS login(s) Admin Router lets through (a real one lets through every valid login of a user holding the service's permission). */
export async function startAdminRouter(opts: {
  service: string;
  upstream: () => string;
  token: string | readonly string[];
}): Promise<AdminRouter> {
  const prefix = `/service/${opts.service}`;
  const requests: AdminRouter['requests'] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    const entry = { method: req.method ?? 'GET', path, authorization: req.headers.authorization, status: 0 };
    requests.push(entry);
    const answer = (status: number, body: string, headers: Record<string, string> = {}) => {
      entry.status = status;
      req.resume();
      res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(body);
    };
    if (path !== prefix && !path.startsWith(`${prefix}/`)) return answer(404, 'not found');
    const logins = typeof opts.token === 'string' ? [opts.token] : opts.token;
    if (!logins.some((t) => req.headers.authorization === `token=${t}`))
      return answer(401, 'Unauthorized', { 'www-authenticate': 'acsjwt' });
    const upstream = new URL(opts.upstream());
    // The header goes upstream unchanged: the registry accepts DC/OS's `token=` form itself.
    const headers = { ...req.headers, host: upstream.host };
    const up = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: path.slice(prefix.length) || '/', headers },
      (upRes) => {
        entry.status = upRes.statusCode ?? 502;
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => (res.headersSent ? res.destroy() : answer(502, 'Bad Gateway')));
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
