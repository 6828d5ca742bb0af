/**
 * HTTP access to one repository of one registry (Docker Registry HTTP API v2): scheme choice,
 * authentication (anonymous or Basic credentials → Bearer token, or plain Basic), redirects and
 * status translation. Bodies are returned as streams; the caller reads or dumps them.
 *
 * Authentication follows the distribution token spec: GET /v2/ answers 401 with a challenge;
 * a Bearer challenge names a token realm, which is asked for a token scoped to
 * "repository:<name>:pull". A later 401 (token expired, other scope) refreshes the token once.
 *
 * Where credentials go (the containerd CVE-2020-15157 pattern): the Docker config's credentials
 * for the registry are sent to the registry's own origin only. A redirect to another origin (a
 * blob on a CDN or object store) carries no Authorization, and a 401 from such a target is an
 * error, never a challenge to answer (its realm could be anyone's). A token realm on another host
 * gets only the credentials the Docker config holds for that host (Docker Hub's auth.docker.io
 * counts as Docker Hub's), else the token is asked for anonymously. Redirects: http(s) only, at
 * most 5, never from https to plain http (nor an http realm for an https registry) unless
 * `allowHttpsDowngrade`.
 *
 * Requests go through the build's HttpClient (node:http), not undici: undici 7 crashes the process
 * when a server closes the connection while a body is paused (nodejs/undici#5360), which a blob
 * served by an HTTP/1.0 server does; see lib/net/http.ts.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { finished } from 'node:stream/promises';
import type { HttpClient } from '../net/http.js';
import { parseChallenges, type Challenge } from './challenge.js';
import type { BasicCredentials, CredentialLookup } from './credentials.js';
import { ImagePullError } from '../docker/errors.js';
import { TransientHttpError, parseRetryAfter } from '../net/retry.js';

export interface TransportOptions {
  /** Reference as the user wrote it; used in error messages. */
  readonly reference: string;
  /** "https://host" or "http://host:port" — the API base, no trailing slash. */
  readonly baseUrl: string;
  readonly repository: string;
  /** The registry as the reference names it ("docker.io", "127.0.0.1:5000"), for messages. */
  readonly registry?: string;
  /** The Docker config's credentials for this registry: sent to `baseUrl`'s origin only. */
  readonly credentials?: BasicCredentials;
  /** Credentials for another host (a token realm's); by default none. */
  readonly credentialsForHost?: CredentialLookup;
  /** Follow https → http redirects and accept an http realm for an https registry. */
  readonly allowHttpsDowngrade?: boolean;
  /** Proxies, extra CAs (see HttpClient). */
  readonly http: HttpClient;
  readonly userAgent: string;
  /** Time allowed for the response headers, and for each silence in a body. */
  readonly responseTimeoutMs: number;
}

export interface RegistryResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: IncomingMessage;
  /** URL that finally answered (after redirects). */
  readonly url: string;
}

const MAX_REDIRECTS = 5;
const MAX_TOKEN_BYTES = 1024 * 1024;

/** Reads and discards a body, so its connection is released. */
async function dump(body: IncomingMessage): Promise<void> {
  body.resume();
  await finished(body).catch(() => undefined);
}

/** A small body as text; past `limit` bytes the rest is dropped and the connection closed. */
async function readText(body: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    n += chunk.length;
    if (n >= limit) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

export class RegistryTransport {
  private authorization: string | undefined;
  private pinged = false;

  constructor(private readonly opts: TransportOptions) {}

  /** GET a path under the API base, authenticating and following redirects; throws unless 2xx. */
  async get(path: string, headers: Record<string, string> = {}): Promise<RegistryResponse> {
    if (!this.pinged) await this.ping();
    let res = await this.send(`${this.opts.baseUrl}${path}`, headers);
    if (res.status === 401) {
      await this.refuseForeignChallenge(res);
      // Token expired or scoped too narrowly: one fresh token, then give up.
      const challenge = await this.challengeOf(res);
      await this.authenticate(challenge);
      res = await this.send(`${this.opts.baseUrl}${path}`, headers);
    }
    if (res.status >= 200 && res.status < 300) return res;
    return await this.fail(res, `GET ${path}`);
  }

  /** GET /v2/: confirms the API version and learns how to authenticate. */
  private async ping(): Promise<void> {
    const res = await this.send(`${this.opts.baseUrl}/v2/`, {});
    if (res.status === 401) {
      await this.refuseForeignChallenge(res);
      await this.authenticate(await this.challengeOf(res));
    } else if (res.status >= 200 && res.status < 300) {
      await dump(res.body);
    } else {
      await this.fail(res, 'GET /v2/');
    }
    this.pinged = true;
  }

  /** A 401 from another origin than the registry's (after a redirect) is answered with nothing. */
  private async refuseForeignChallenge(res: RegistryResponse): Promise<void> {
    const from = new URL(res.url).origin;
    if (from === new URL(this.opts.baseUrl).origin) return;
    await dump(res.body);
    throw this.error(
      `${from} answered 401 after a redirect from the registry: credentials are sent only to the registry itself, so this cannot be answered`,
      { status: 401 },
    );
  }

  private async challengeOf(res: RegistryResponse): Promise<Challenge> {
    await dump(res.body);
    const challenges = parseChallenges(res.headers['www-authenticate']);
    const challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
    if (!challenge) throw this.error(`registry answered 401 without a Bearer or Basic challenge`, { status: 401 });
    return challenge;
  }

  private async authenticate(challenge: Challenge): Promise<void> {
    const creds = this.opts.credentials;
    if (challenge.scheme === 'basic') {
      if (!creds) throw this.error('registry requires credentials (Basic auth) and the Docker config has none for it', { status: 401 });
      if (this.authorization?.startsWith('Basic '))
        throw this.error('registry rejected the credentials from the Docker config', { status: 401 });
      this.authorization = basic(creds);
      return;
    }
    this.authorization = `Bearer ${await this.fetchToken(challenge)}`;
  }

  private async fetchToken(challenge: Challenge): Promise<string> {
    const { realm, service } = challenge.params;
    if (!realm || !/^https?:\/\//i.test(realm)) throw this.error(`Bearer challenge has no usable realm (${realm ?? 'none'})`);
    const url = new URL(realm);
    const base = new URL(this.opts.baseUrl);
    if (base.protocol === 'https:' && url.protocol === 'http:' && !this.opts.allowHttpsDowngrade) {
      throw this.error(`token realm ${url.origin} is plain HTTP for an HTTPS registry: refused; give --allow-https-downgrade to use it`);
    }
    if (service) url.searchParams.set('service', service);
    // Always ask for pull on our repository; also pass through what the registry asked for, if different.
    const wanted = `repository:${this.opts.repository}:pull`;
    url.searchParams.append('scope', wanted);
    if (challenge.params.scope && challenge.params.scope !== wanted) url.searchParams.append('scope', challenge.params.scope);
    // The registry's credentials go to the registry's origin only; a realm elsewhere gets its own, if any.
    const foreign = url.origin !== base.origin;
    const creds = foreign ? this.opts.credentialsForHost?.(url.host) : this.opts.credentials;
    const headers: Record<string, string> = {};
    if (creds) headers.authorization = basic(creds);
    const res = await this.send(url.toString(), headers, { noAuth: true });
    if (res.status === 401 || res.status === 403) {
      await dump(res.body);
      const withheld =
        !creds && foreign && this.opts.credentials
          ? ` at ${url.host}; the Docker config's credentials for ${this.opts.registry ?? base.host} are not sent to ${url.host}: ` +
            `add an auths entry for ${url.host} to authenticate there`
          : '';
      throw this.error(
        creds ? 'token service rejected the credentials from the Docker config' : `token service refused anonymous access${withheld}`,
        { status: res.status },
      );
    }
    if (res.status < 200 || res.status >= 300) await this.fail(res, `token request to ${url.origin}${url.pathname}`);
    let body: { token?: unknown; access_token?: unknown };
    try {
      body = JSON.parse(await readText(res.body, MAX_TOKEN_BYTES));
    } catch (err) {
      throw this.error(`token service answered something that is not a JSON token: ${(err as Error).message}`);
    }
    const token = typeof body.token === 'string' && body.token ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '') throw this.error('token service answered without a token');
    return token;
  }

  /**
   * One request with manual redirects, so the registry's Authorization is dropped when a blob
   * redirects to another origin (object stores reject or would leak a foreign bearer token).
   */
  private async send(startUrl: string, headers: Record<string, string>, opts: { noAuth?: boolean } = {}): Promise<RegistryResponse> {
    let url = startUrl;
    const origin = new URL(startUrl).origin;
    for (let hop = 0; ; hop++) {
      const sameOrigin = new URL(url).origin === origin;
      const h: Record<string, string> = { 'user-agent': this.opts.userAgent, ...headers };
      if (!opts.noAuth && sameOrigin && this.authorization) h.authorization = this.authorization;
      if (!sameOrigin) delete h.authorization;
      const res = await this.opts.http.request(new URL(url), h, { timeoutMs: this.opts.responseTimeoutMs });
      const location = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(res.statusCode ?? 0) && typeof location === 'string') {
        await dump(res);
        if (hop >= MAX_REDIRECTS) throw this.error(`more than ${MAX_REDIRECTS} redirects from ${startUrl}`);
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw this.error(`${url} redirected to an invalid location ${JSON.stringify(location)}`);
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          throw this.error(`${url} redirected to ${next.href}: only http and https redirects are followed`);
        }
        if (new URL(url).protocol === 'https:' && next.protocol === 'http:' && !this.opts.allowHttpsDowngrade) {
          throw this.error(`${url} redirected from HTTPS to plain HTTP (${next.href}): refused; give --allow-https-downgrade to follow it`);
        }
        next.username = '';
        next.password = '';
        url = next.toString();
        continue;
      }
      return { status: res.statusCode ?? 0, headers: res.headers, body: res, url };
    }
  }

  /** Translates a non-2xx answer: 5xx/429 are transient (retried by the caller), the rest final. */
  private async fail(res: RegistryResponse, what: string): Promise<never> {
    let detail = '';
    try {
      detail = (await readText(res.body, 4096)).slice(0, 300).trim();
    } catch {
      // the body is only decoration for the message
    }
    const message = `${what} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`;
    if (res.status >= 500 || res.status === 429) {
      throw new TransientHttpError(res.status, message, parseRetryAfter(res.headers['retry-after']));
    }
    if (res.status === 404) throw this.error(`not found (${message})`, { status: 404 });
    throw this.error(message, { status: res.status });
  }

  private error(message: string, data?: Record<string, unknown>): ImagePullError {
    return new ImagePullError(this.opts.reference, message, data);
  }
}

function basic(creds: BasicCredentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}
