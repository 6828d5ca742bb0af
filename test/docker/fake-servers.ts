/**
 * Tiny node:http servers for the failure paths a real registry will not produce on demand:
 * a registry serving an OCI layout (with a hook to corrupt, redirect, fail or challenge),
 * a Bearer token realm, and a plain HTTP forward proxy that counts what passes through it.
 */
import { createSign, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import type { TestImageLayout } from './make-image.js';

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

export interface Running {
  /** "127.0.0.1:PORT" */
  host: string;
  url: string;
  requests: Recorded[];
  close(): Promise<void>;
}

export interface TlsIdentity {
  key: string;
  cert: string;
}

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  tls?: TlsIdentity,
): Promise<Running & { server: Server }> {
  const requests: Recorded[] = [];
  const record = (req: IncomingMessage, res: ServerResponse) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handler(req, res);
  };
  const server: Server = tls ? createHttpsServer(tls, record) : createServer(record);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    server,
    host,
    url: `${tls ? 'https' : 'http'}://${host}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Return true when the hook answered the request itself. */
export type Hook = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

export async function startFakeRegistry(
  layout: TestImageLayout,
  repo: string,
  hook?: { current?: Hook },
  tls?: TlsIdentity,
): Promise<Running> {
  const blob = (digest: string) => readFileSync(join(layout.dir, 'blobs', 'sha256', digest.slice('sha256:'.length)));
  const mediaTypes = new Map<string, string>();
  mediaTypes.set(layout.top.digest, layout.top.mediaType);
  for (const i of layout.images) mediaTypes.set(i.manifest.digest, i.manifest.mediaType);

  return listen((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (hook?.current?.(req, res, path)) return;
    if (path === '/v2/') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    if (!m || m[1] !== repo) return void res.writeHead(404).end('{"errors":[{"code":"NAME_UNKNOWN"}]}');
    const [, , kind, id] = m;
    const digest = kind === 'manifests' && id === layout.tag ? layout.top.digest : id!;
    let bytes: Buffer;
    try {
      bytes = blob(digest);
    } catch {
      return void res.writeHead(404).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
    }
    const headers: Record<string, string> = { 'content-length': String(bytes.length), 'docker-content-digest': digest };
    headers['content-type'] = kind === 'manifests' ? (mediaTypes.get(digest) ?? 'application/json') : 'application/octet-stream';
    res.writeHead(200, headers).end(bytes);
  }, tls);
}

/** Any HTTP server whose behaviour is one function (redirect targets, etc.). */
export async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Running> {
  return listen(handler);
}

export interface TokenServer extends Running {
  /** Scopes granted per issued token, in order. */
  issued: { scope: string[]; user?: string }[];
}

/**
 * A token realm. With `signing`, tokens are JWTs that distribution 2.8 accepts (RS256, the
 * self-signed certificate in x5c, access claims for every requested scope); otherwise opaque.
 * With `users`, only those Basic credentials get a token; anonymous requests get 401.
 */
export async function startTokenServer(opts: {
  users?: Record<string, string>;
  signing?: { keyPem: string; certDer: Buffer; issuer: string; service: string };
  /** Opaque token value to hand out when not signing. */
  opaqueToken?: () => string;
}): Promise<TokenServer> {
  const issued: TokenServer['issued'] = [];
  const running = await listen((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let user: string | undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const [u, ...p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (opts.users?.[u!] !== p.join(':'))
        return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      user = u;
    } else if (opts.users) {
      return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"credentials required"}');
    }
    const scope = url.searchParams.getAll('scope');
    issued.push({ scope, ...(user ? { user } : {}) });
    const token = opts.signing ? signJwt(opts.signing, user ?? '', scope) : (opts.opaqueToken?.() ?? randomUUID());
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
  });
  return Object.assign(running, { issued });
}

function b64url(value: Buffer | string): string {
  return Buffer.from(value).toString('base64url');
}

function signJwt(s: { keyPem: string; certDer: Buffer; issuer: string; service: string }, subject: string, scopes: string[]): string {
  const now = Math.floor(Date.now() / 1000);
  const access = scopes
    .flatMap((scope) => scope.split(' '))
    .map((scope) => {
      const [type, ...rest] = scope.split(':');
      const actions = rest.pop()!.split(',');
      return { type, name: rest.join(':'), actions };
    });
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [s.certDer.toString('base64')] }));
  const claims = b64url(
    JSON.stringify({ iss: s.issuer, sub: subject, aud: s.service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }),
  );
  const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(s.keyPem);
  return `${header}.${claims}.${b64url(signature)}`;
}

/**
 * An HTTP proxy that counts what passes through it. Plain-HTTP targets arrive in absolute form
 * ("GET http://host/path") and are replayed; CONNECT (undici's default even for http targets,
 * proxyTunnel: true) opens a raw tunnel. Both are recorded in `requests`.
 */
export async function startForwardProxy(): Promise<Running> {
  const running = await listen((req, res) => {
    const target = new URL(req.url ?? '');
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: req.method,
        headers: { ...req.headers, host: target.host },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  const tunnels = new Set<import('node:net').Socket>();
  running.server.on('connect', (req: IncomingMessage, client: import('node:net').Socket, head: Buffer) => {
    tunnels.add(client);
    client.on('close', () => tunnels.delete(client));
    running.requests.push({ method: 'CONNECT', url: req.url ?? '', headers: req.headers });
    const [host, port] = (req.url ?? '').split(':');
    const upstream = netConnect(Number(port), host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const close = running.close;
  // Tunnelled sockets are no longer the HTTP server's, so closeAllConnections misses them.
  running.close = () => {
    for (const socket of tunnels) socket.destroy();
    return close();
  };
  return running;
}
