/**
 * GET over node:http/node:https for asset downloads, with the build's proxies and extra CAs and
 * strict redirect rules. Why not undici (which the rest of the CLI uses): undici 7's HTTP/1 parser
 * throws an uncatchable `assert(!this.paused)` when a server closes the connection while a body is
 * paused under backpressure (nodejs/undici#5360, fixed only in undici 8, which needs Node 22), and
 * that is exactly what HTTP/1.0 servers such as Python's http.server do: it killed `build` in 4 of 6
 * runs. Node's own HTTP client reads close-delimited bodies as HTTP/1.0 says.
 *
 * Redirects (301, 302, 303, 307, 308) are followed only to http and https, at most `maxRedirects`
 * times, never from https to plain http unless `allowHttpsDowngrade`. Credentials given in the URL
 * (`https://user:pass@host/...`) are sent only to that URL's origin, never after a redirect to
 * another one; credentials in a Location header are ignored. Proxy credentials (in the proxy URL) go
 * to the proxy only. Content-Encoding is never undone: the stored bytes are the server's file.
 *
 * Proxies as undici's EnvHttpProxyAgent reads them (the same settings reach the Docker pulls):
 * `httpsProxy` for https URLs (falling back to `httpProxy`), `httpProxy` for http URLs; `noProxy`
 * is a comma/space list of hosts (`example.com` also matches subdomains, a leading `.` or `*.` is
 * dropped, `host:port` matches that port only, `*` disables proxying). https goes through a CONNECT
 * tunnel; http is sent to the proxy in absolute form.
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction, type Socket } from 'node:net';
import { connect as tlsConnect, rootCertificates } from 'node:tls';
import type { NetworkSettings } from './network';

export class HttpDownloadError extends Error {
  readonly code?: string;
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options);
    this.name = 'HttpDownloadError';
    if (options?.code) this.code = options.code;
  }
}

export interface HttpClientOptions extends NetworkSettings {
  /** Follow a redirect from https to plain http (default false: refused). */
  allowHttpsDowngrade?: boolean;
  /** Default 10. */
  maxRedirects?: number;
  /** A connection silent this long (waiting for headers, or between body chunks) fails with ETIMEDOUT (retryable). Default 60 s. */
  idleTimeoutMs?: number;
  userAgent?: string;
  /** Host name resolution for direct connections (default: the system's); tests map names to loopback. */
  lookup?: LookupFunction;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body; the caller reads it to the end or destroys it. */
  readonly body: IncomingMessage;
  /** The URL that answered, after redirects (credentials removed). */
  readonly url: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const ignore = () => undefined;
const DEFAULT_PORT: Record<string, number> = { 'http:': 80, 'https:': 443 };

/** A URL for messages: never its credentials. */
export function redact(url: string | URL): string {
  try {
    const u = new URL(url.toString());
    if (u.username || u.password) {
      u.username = '';
      u.password = '';
    }
    return u.href;
  } catch {
    return String(url);
  }
}

const bare = (hostname: string) => hostname.replace(/^\[(.*)\]$/, '$1');
const basic = (user: string, pass: string) =>
  `Basic ${Buffer.from(`${decodeURIComponent(user)}:${decodeURIComponent(pass)}`).toString('base64')}`;

interface NoProxyEntry {
  hostname: string;
  port: number;
}

export class HttpClient {
  private readonly ca?: string[];
  private readonly httpAgent: HttpAgent;
  private readonly httpsAgent: HttpsAgent;
  private readonly noProxy: NoProxyEntry[] | '*';
  private readonly maxRedirects: number;
  private readonly idleTimeoutMs: number;

  constructor(private readonly opts: HttpClientOptions = {}) {
    // `ca` replaces the default roots in Node's TLS, so the bundled ones are added back.
    this.ca = opts.caFile ? [...rootCertificates, readFileSync(opts.caFile, 'utf8')] : undefined;
    // No keep-alive: assets are few and large; a pooled socket closed by the server between two
    // downloads would only add a failure mode.
    this.httpAgent = new HttpAgent({ keepAlive: false });
    this.httpsAgent = new HttpsAgent({ keepAlive: false, ...(this.ca ? { ca: this.ca } : {}) });
    this.maxRedirects = opts.maxRedirects ?? 10;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
    const np = (opts.noProxy ?? '').trim();
    this.noProxy =
      np === '*'
        ? '*'
        : np
            .split(/[,\s]/)
            .filter(Boolean)
            .map((entry) => {
              const m = /^(.+):(\d+)$/.exec(entry);
              return { hostname: (m ? m[1]! : entry).replace(/^\*?\./, '').toLowerCase(), port: m ? Number(m[2]) : 0 };
            });
  }

  /** The proxy URL for `url`, or undefined for a direct connection. */
  proxyFor(url: URL): URL | undefined {
    const proxy = url.protocol === 'https:' ? this.opts.httpsProxy || this.opts.httpProxy : this.opts.httpProxy;
    if (!proxy || this.noProxy === '*') return undefined;
    const hostname = url.hostname.toLowerCase();
    const port = Number(url.port) || DEFAULT_PORT[url.protocol] || 0;
    for (const e of this.noProxy) {
      if (e.port && e.port !== port) continue;
      if (hostname === e.hostname || hostname.endsWith(`.${e.hostname}`)) return undefined;
    }
    try {
      const parsed = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(proxy) ? proxy : `http://${proxy}`);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`unsupported proxy scheme ${parsed.protocol}`);
      return parsed;
    } catch (err) {
      throw new HttpDownloadError(`unusable proxy ${redact(proxy)}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** GET `url`, following redirects by the rules above. Any status is returned; the caller judges it. */
  async get(url: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
    let current: URL;
    try {
      current = new URL(url);
    } catch (err) {
      throw new HttpDownloadError(`invalid URL ${redact(url)}`, { cause: err });
    }
    if (current.protocol !== 'http:' && current.protocol !== 'https:') throw new HttpDownloadError(`not an http(s) URL: ${redact(url)}`);
    const origin = current.origin;
    const authorization = current.username || current.password ? basic(current.username, current.password) : undefined;
    for (let hop = 0; ; hop++) {
      const h: Record<string, string> = { ...headers };
      if (authorization && current.origin === origin) h.authorization = authorization;
      const res = await this.request(current, h);
      const location = res.headers.location;
      if (!REDIRECTS.has(res.statusCode ?? 0) || typeof location !== 'string') {
        current.username = '';
        current.password = '';
        return { status: res.statusCode ?? 0, headers: res.headers, body: res, url: current.href };
      }
      res.resume();
      if (hop >= this.maxRedirects) throw new HttpDownloadError(`more than ${this.maxRedirects} redirects from ${redact(url)}`);
      let next: URL;
      try {
        next = new URL(location, current);
      } catch (err) {
        throw new HttpDownloadError(`${redact(current)} redirected to an invalid location ${JSON.stringify(location)}`, { cause: err });
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new HttpDownloadError(`${redact(current)} redirected to ${redact(next)}: only http and https redirects are followed`);
      }
      if (current.protocol === 'https:' && next.protocol === 'http:' && !this.opts.allowHttpsDowngrade) {
        throw new HttpDownloadError(
          `${redact(current)} redirected from HTTPS to plain HTTP (${redact(next)}): refused; give --allow-https-downgrade to follow it`,
        );
      }
      next.username = '';
      next.password = '';
      current = next;
    }
  }

  /** Ends every connection the client holds. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /**
   * One GET, no redirects (the caller applies its own redirect rules): direct, through a proxy in
   * absolute form (http), or through a CONNECT tunnel (https). `timeoutMs` overrides the idle timeout.
   */
  async request(url: URL, headers: Record<string, string>, opts: { timeoutMs?: number } = {}): Promise<IncomingMessage> {
    const timeoutMs = opts.timeoutMs ?? this.idleTimeoutMs;
    const lookup = this.opts.lookup ? { lookup: this.opts.lookup } : {};
    const hostname = bare(url.hostname);
    const port = Number(url.port) || DEFAULT_PORT[url.protocol]!;
    const common = {
      method: 'GET',
      headers: {
        host: url.host,
        'user-agent': this.opts.userAgent ?? 'dcos-registry',
        'accept-encoding': 'identity',
        ...headers,
      },
    };
    const path = `${url.pathname}${url.search}`;
    const servername = isIP(hostname) ? undefined : hostname;
    const proxy = this.proxyFor(url);
    if (!proxy) {
      return url.protocol === 'https:'
        ? this.send(
            httpsRequest({
              ...common,
              ...lookup,
              host: hostname,
              port,
              path,
              agent: this.httpsAgent,
              ...(servername ? { servername } : {}),
            }),
            url.origin,
            timeoutMs,
          )
        : this.send(httpRequest({ ...common, ...lookup, host: hostname, port, path, agent: this.httpAgent }), url.origin, timeoutMs);
    }
    const proxyAuth = proxy.username || proxy.password ? { 'proxy-authorization': basic(proxy.username, proxy.password) } : {};
    const proxyHost = bare(proxy.hostname);
    const proxyPort = Number(proxy.port) || DEFAULT_PORT[proxy.protocol]!;
    const toProxy = proxy.protocol === 'https:' ? httpsRequest : httpRequest;
    const proxyTls = proxy.protocol === 'https:' ? { ...(this.ca ? { ca: this.ca } : {}) } : {};
    if (url.protocol === 'http:') {
      const absolute = new URL(url.href);
      absolute.hash = '';
      return this.send(
        toProxy({
          ...common,
          ...proxyTls,
          ...lookup,
          headers: { ...common.headers, ...proxyAuth },
          host: proxyHost,
          port: proxyPort,
          path: absolute.href,
          agent: proxy.protocol === 'https:' ? this.httpsAgent : this.httpAgent,
        }),
        url.origin,
        timeoutMs,
      );
    }
    const tunnel = await this.connectTunnel(
      toProxy({
        ...proxyTls,
        ...lookup,
        method: 'CONNECT',
        host: proxyHost,
        port: proxyPort,
        path: `${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`,
        headers: { host: `${url.hostname}:${port}`, ...proxyAuth },
        agent: false,
      }),
      proxy,
      `${url.hostname}:${port}`,
      timeoutMs,
    );
    return this.send(
      httpsRequest({
        ...common,
        host: hostname,
        port,
        path,
        createConnection: () =>
          tlsConnect({ socket: tunnel, host: hostname, ...(servername ? { servername } : {}), ...(this.ca ? { ca: this.ca } : {}) }),
      }),
      url.origin,
      timeoutMs,
    );
  }

  private connectTunnel(req: ClientRequest, proxy: URL, target: string, timeoutMs: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      req.setTimeout(timeoutMs, () =>
        req.destroy(Object.assign(new Error(`proxy ${proxy.origin} did not answer CONNECT ${target} in time`), { code: 'ETIMEDOUT' })),
      );
      req.once('connect', (res: IncomingMessage, socket: Socket) => {
        req.setTimeout(0);
        socket.on('error', ignore); // the TLS socket on top reports the failure
        if (res.statusCode !== 200) {
          socket.destroy();
          reject(new HttpDownloadError(`proxy ${proxy.origin} answered ${res.statusCode} to CONNECT ${target}`));
          return;
        }
        resolve(socket);
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** Sends `req` and resolves with its response; an idle connection (before or after headers) fails with ETIMEDOUT. */
  private send(req: ClientRequest, origin: string, timeoutMs: number): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      let response: IncomingMessage | undefined;
      req.setTimeout(timeoutMs, () => {
        if (response) response.destroy(Object.assign(new Error(`no data from ${origin} for ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
        else req.destroy(Object.assign(new Error(`no response from ${origin} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      });
      req.once('response', (res: IncomingMessage) => {
        response = res;
        // A body that fails while nobody reads it (a discarded redirect or error body, or between
        // the answer and the caller's pipeline) must not become an uncaught 'error': the reader
        // still sees the failure through its own listener or the size check.
        res.on('error', ignore);
        resolve(res);
      });
      req.on('error', reject);
      req.end();
    });
  }
}
