/**
 * Writers by JWT, besides static write tokens: a DC/OS login (DC/OS IAM publishes its keys at
 * `/acs/api/v1/auth/jwks`: RSA keys, RS256, claims `uid` and `exp`) or any OIDC issuer's token.
 *
 * - RS256 only: `none`, HS256 (whatever the secret, the public key included) and every other
 *   algorithm are refused before any key is looked at;
 * - the subject is `uid` (DC/OS) or else `sub` (OIDC); `exp` is required; `iss` / `aud` are checked
 *   when configured (required for OIDC issuers, whose tokens are valid for many audiences);
 * - a writer is a subject listed in REGISTRY_WRITERS; none listed means no JWT writer at all;
 * - keys come from the JWKS URL and are cached: an unknown `kid` (a rotation) or keys older than
 *   the maximum age trigger a refetch, at most once per refresh interval whatever the traffic;
 *   when the JWKS cannot be fetched, tokens signed with a cached key still verify and every other
 *   token is refused (fail closed).
 *
 * The HTTP layer calls verifyLogin(jwt, token, log.warn), with the request's registry's settings, for a bearer / `token=`
 * credential that is not a static write token. In the function bundles this module and jose are a
 * file of their own (functions/jwt.js, scripts/esbuild-plugins.cjs), loaded when such a credential
 * first arrives; so it imports no module that holds process state (the configuration, the logger):
 * its caller hands them over.
 */
import { decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import type { JwtConfig } from '../config';

export interface JwtWriter {
  subject: string;
}

/** A valid login: its subject, and whether REGISTRY_WRITERS lists it. */
export interface JwtLogin extends JwtWriter {
  writer: boolean;
}

export interface JwtVerifierOptions {
  /** The clock for the refresh interval and cache age (default Date.now). */
  now?: () => number;
  fetch?: typeof fetch;
  /** Where a failed JWKS fetch is reported (the process's log.warn; default: nowhere). */
  warn?: Warn;
}

type Warn = (msg: string, fields?: Record<string, unknown>) => void;

type VerifyKey = Awaited<ReturnType<typeof importJWK>>;

/** Largest JWKS document accepted. */
const MAX_JWKS_BYTES = 1024 * 1024;

export class JwtVerifier {
  private keys = new Map<string, VerifyKey>();
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  private readonly now: () => number;
  private readonly fetchImpl: typeof fetch;
  private readonly warn: Warn;
  /** JWKS requests made so far (for tests and logs). */
  fetches = 0;

  constructor(
    private readonly cfg: JwtConfig,
    opts: JwtVerifierOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.fetchImpl = opts.fetch ?? fetch;
    this.warn = opts.warn ?? (() => undefined);
  }

  /** The writer this token proves, or undefined: not a JWT, invalid, expired, or not a writer. */
  async verify(token: string): Promise<JwtWriter | undefined> {
    const login = await this.login(token);
    return login?.writer ? { subject: login.subject } : undefined;
  }

  /** Whose valid login this token is (writer or not), or undefined: not a JWT, invalid, expired; always undefined without writers. */
  async login(token: string): Promise<JwtLogin | undefined> {
    if (this.cfg.writers.length === 0) return undefined;
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return undefined;
    }
    if (header.alg !== 'RS256') return undefined;
    const key = await this.key(header.kid);
    if (!key) return undefined;
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: ['RS256'],
        requiredClaims: ['exp'],
        ...(this.cfg.issuer ? { issuer: this.cfg.issuer } : {}),
        ...(this.cfg.audience ? { audience: this.cfg.audience } : {}),
        clockTolerance: 30,
      });
      const subject = typeof payload.uid === 'string' && payload.uid ? payload.uid : payload.sub;
      if (!subject) return undefined;
      return { subject, writer: this.cfg.writers.includes(subject) };
    } catch {
      return undefined;
    }
  }

  /** The key for a kid: cached, else after at most one refetch per interval. */
  private async key(kid: string | undefined): Promise<VerifyKey | undefined> {
    const pick = () => (kid === undefined ? (this.keys.size === 1 ? [...this.keys.values()][0] : undefined) : this.keys.get(kid));
    const stale = this.now() - this.fetchedAt >= this.cfg.maxAgeMs;
    if (!stale && pick()) return pick();
    if (this.now() - this.attemptedAt >= this.cfg.refreshIntervalMs) {
      this.inflight ??= this.refresh().finally(() => {
        this.inflight = undefined;
      });
    }
    if (this.inflight) await this.inflight;
    return pick();
  }

  private async refresh(): Promise<void> {
    this.attemptedAt = this.now();
    this.fetches++;
    try {
      const res = await this.fetchImpl(this.cfg.jwksUrl, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.cfg.timeoutMs),
        redirect: 'error',
      });
      if (!res.ok) throw new Error(`answered ${res.status}`);
      const text = await res.text();
      if (text.length > MAX_JWKS_BYTES) throw new Error('JWKS document too large');
      const doc = JSON.parse(text) as { keys?: unknown };
      if (!Array.isArray(doc.keys)) throw new Error('no "keys" array');
      const keys = new Map<string, VerifyKey>();
      for (const jwk of doc.keys as JWK[]) {
        if (jwk?.kty !== 'RSA' || (jwk.use && jwk.use !== 'sig') || (jwk.alg && jwk.alg !== 'RS256')) continue;
        keys.set(jwk.kid ?? '', await importJWK({ kty: jwk.kty, n: jwk.n, e: jwk.e }, 'RS256'));
      }
      this.keys = keys;
      this.fetchedAt = this.now();
    } catch (err) {
      // Fail closed for what the cache cannot answer; keep the cached keys for what it can.
      this.warn('jwks.fetch-failed', { url: this.cfg.jwksUrl, error: (err as Error).message, cachedKeys: this.keys.size });
    }
  }
}

/** One verifier (one key cache) per configuration: a process has one, unless it serves several registries. */
const verifiers = new WeakMap<JwtConfig, JwtVerifier>();

/**
 * Whose valid login a credential is, writer or not (a valid non-writer gets 403, not 401), under a registry's settings
 * (REGISTRY_JWKS_URL, REGISTRY_JWT_ISSUER, REGISTRY_JWT_AUDIENCE, REGISTRY_WRITERS); undefined when JWT writers are not
 * configured or the token proves no login.
 */
export async function verifyLogin(cfg: JwtConfig | undefined, token: string, warn: Warn): Promise<JwtLogin | undefined> {
  if (!cfg) return undefined;
  let verifier = verifiers.get(cfg);
  if (!verifier) verifiers.set(cfg, (verifier = new JwtVerifier(cfg, { warn })));
  return verifier.login(token);
}
