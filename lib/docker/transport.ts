/**
 * HTTP access to one repository of one registry (Docker Registry HTTP API v2): scheme choice,
 * authentication (anonymous or Basic credentials → Bearer token, or plain Basic), redirects and
 * status translation. Bodies are returned as streams; the caller reads or dumps them.
 *
 * Authentication follows the distribution token spec: GET /v2/ answers 401 with a challenge;
 * a Bearer challenge names a token realm, which is asked for a token scoped to
 * "repository:<name>:pull". A later 401 (token expired, other scope) refreshes the token once.
 */
import { request, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { parseChallenges, type Challenge } from './challenge.js';
import type { BasicCredentials } from './credentials.js';
import { ImagePullError } from './errors.js';
import { TransientHttpError, parseRetryAfter } from './retry.js';

export interface TransportOptions {
  /** Reference as the user wrote it; used in error messages. */
  readonly reference: string;
  /** "https://host" or "http://host:port" — the API base, no trailing slash. */
  readonly baseUrl: string;
  readonly repository: string;
  readonly credentials?: BasicCredentials;
  readonly dispatcher?: Dispatcher;
  readonly userAgent: string;
  /** Time allowed until response headers arrive (the body may take as long as it takes). */
  readonly responseTimeoutMs: number;
}

export interface RegistryResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Dispatcher.ResponseData['body'];
  /** URL that finally answered (after redirects). */
  readonly url: string;
}

const MAX_REDIRECTS = 5;

export class RegistryTransport {
  private authorization: string | undefined;
  private pinged = false;

  constructor(private readonly opts: TransportOptions) {}

  /** GET a path under the API base, authenticating and following redirects; throws unless 2xx. */
  async get(path: string, headers: Record<string, string> = {}): Promise<RegistryResponse> {
    if (!this.pinged) await this.ping();
    let res = await this.send(`${this.opts.baseUrl}${path}`, headers);
    if (res.status === 401) {
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
      await this.authenticate(await this.challengeOf(res));
    } else if (res.status >= 200 && res.status < 300) {
      await res.body.dump();
    } else {
      await this.fail(res, 'GET /v2/');
    }
    this.pinged = true;
  }

  private async challengeOf(res: RegistryResponse): Promise<Challenge> {
    await res.body.dump();
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
    if (service) url.searchParams.set('service', service);
    // Always ask for pull on our repository; also pass through what the registry asked for, if different.
    const wanted = `repository:${this.opts.repository}:pull`;
    url.searchParams.append('scope', wanted);
    if (challenge.params.scope && challenge.params.scope !== wanted) url.searchParams.append('scope', challenge.params.scope);
    const headers: Record<string, string> = {};
    if (this.opts.credentials) headers.authorization = basic(this.opts.credentials);
    const res = await this.send(url.toString(), headers, { noAuth: true });
    if (res.status === 401 || res.status === 403) {
      await res.body.dump();
      throw this.error(
        this.opts.credentials ? 'token service rejected the credentials from the Docker config' : 'token service refused anonymous access',
        { status: res.status },
      );
    }
    if (res.status < 200 || res.status >= 300) await this.fail(res, `token request to ${url.origin}${url.pathname}`);
    const body = (await res.body.json()) as { token?: unknown; access_token?: unknown };
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
      const res = await this.requestWithTimeout(url, h);
      const location = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(res.statusCode) && typeof location === 'string') {
        await res.body.dump();
        if (hop >= MAX_REDIRECTS) throw this.error(`more than ${MAX_REDIRECTS} redirects from ${startUrl}`);
        url = new URL(location, url).toString();
        continue;
      }
      return { status: res.statusCode, headers: res.headers, body: res.body, url };
    }
  }

  /**
   * undici has no deadline for a request that never gets a connection: with a proxy that drops
   * CONNECT, ProxyAgent reconnects in a loop and the request stays queued, deaf to its abort
   * signal (nodejs/undici#3897, unfixed in 7.30). So the deadline races the request; it is
   * cleared once headers are in, so long layer downloads are not cut. ETIMEDOUT → retryable.
   * The looping connection stops only when the caller closes or destroys its dispatcher.
   */
  private async requestWithTimeout(url: string, headers: Record<string, string>) {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = Object.assign(new Error(`no response from ${new URL(url).origin} within ${this.opts.responseTimeoutMs} ms`), {
          code: 'ETIMEDOUT',
        });
        controller.abort(err);
        reject(err);
      }, this.opts.responseTimeoutMs);
    });
    const pending = request(url, { method: 'GET', headers, dispatcher: this.opts.dispatcher, signal: controller.signal });
    try {
      return await Promise.race([pending, deadline]);
    } catch (err) {
      // An answer arriving after the deadline must not hold its connection.
      pending.then(
        (late) => late.body.destroy(),
        () => undefined,
      );
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Translates a non-2xx answer: 5xx/429 are transient (retried by the caller), the rest final. */
  private async fail(res: RegistryResponse, what: string): Promise<never> {
    let detail = '';
    try {
      detail = (await res.body.text()).slice(0, 300).trim();
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
