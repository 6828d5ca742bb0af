/**
 * Configuration, parsed once from the environment into a frozen object. Nothing else in
 * the code base reads process.env. A bad setting fails at start and names the variable.
 *
 * | variable                      | default          | meaning
 * | REGISTRY_STORAGE              | file:.registry   | file:<dir> or s3://<bucket>/<prefix>
 * | REGISTRY_S3_ENDPOINT          | (AWS)            | endpoint of an S3-compatible store
 * | REGISTRY_S3_REGION            | us-east-1        |
 * | REGISTRY_S3_FORCE_PATH_STYLE  | false            | true for most on-prem stores
 * | REGISTRY_S3_PUBLIC_ENDPOINT   | (endpoint)       | endpoint named in signed URLs given to clients
 * | REGISTRY_S3_ETAG_FORM         | (probed)         | unquoted | quoted: skip the If-Match form probe
 * | REGISTRY_S3_CONNECT_TIMEOUT_MS | 2000            | TCP connect to the store
 * | REGISTRY_S3_TIMEOUT_MS        | 5000             | deadline of a store call that answers at once (reads, heads, small
 * |                               |                  | writes, listings), SDK retries included; past it: 503 StoreUnavailable
 * | REGISTRY_S3_IDLE_TIMEOUT_MS   | 30000            | longest silence on a store connection (streamed bodies, copies,
 * |                               |                  | multipart completion, which have no deadline)
 * | REGISTRY_WRITE_TOKENS         | (none: no writes)| comma-separated bearer tokens allowed to write
 * | REGISTRY_PUBLIC_URL           | (request Host)   | base of rewritten resource URLs
 * | REGISTRY_DOCKER_HOST          | (public host)    | host[:port] in rewritten image references
 * | REGISTRY_DOWNLOADS            | redirect         | redirect | proxy
 * | REGISTRY_UPLOADS              | direct           | direct: clients PUT to the store's own signed URLs; proxy: upload targets
 * |                               |                  | are the registry's signed /_store URLs, relative to its base, and the
 * |                               |                  | production server streams each body to the store (clients reach only the
 * |                               |                  | registry, e.g. through Admin Router; set it with REGISTRY_DOWNLOADS=proxy).
 * |                               |                  | Lambda cannot stream such bodies: an S3 upload there is refused (501)
 * | REGISTRY_REPO_INLINE_BYTES    | 4669440          | Lambda: largest /repo body (after gzip) answered inline; bigger
 * |                               |                  | ones redirect to a stored rendering (0..4669440, what a 6 MB
 * |                               |                  | response holds after base64). The server never redirects
 * |                               |                  | /repo, nor does any runtime with proxy downloads
 * | REGISTRY_REPO_RENDERINGS_PER_STATE | 4           | /repo renderings an instance holds in memory per catalog state (1..64)
 * | REGISTRY_SIGNING_KEY          | (in the store)   | hex/base64 HMAC key for filesystem signed URLs
 * | REGISTRY_MAX_UPLOAD_BYTES     | 68719476736 (64 GiB) | most bytes one upload may declare (sum of its blobs); 413 above
 * | REGISTRY_MAX_BLOB_BYTES       | 34359738368 (32 GiB) | most bytes one blob of an upload may declare; 413 above
 * | REGISTRY_MAX_UPLOAD_PARTS     | 10000            | most upload targets (single PUTs plus parts) one upload may need; 413 above
 * | REGISTRY_UPLOAD_URLS_PER_ANSWER | 1000           | signed upload URLs in one /uploads answer; the rest on the next GET /uploads/{id}
 * | REGISTRY_LOG_LEVEL            | info             | debug | info | warn | error
 * | REGISTRY_TRUST_PROXY          | false            | true: take the origin from X-Forwarded-Proto/Host/Prefix (only behind a
 * |                               |                  | proxy that sets them; serverless.yml sets true: API Gateway does)
 * | REGISTRY_JWKS_URL             | (none: no JWTs)  | JWKS of the issuer of writers' JWTs (DC/OS: <cluster>/acs/api/v1/auth/jwks)
 * | REGISTRY_JWT_ISSUER           | (not checked)    | required `iss` (set it for OIDC issuers)
 * | REGISTRY_JWT_AUDIENCE         | (not checked)    | required `aud` (set it for OIDC issuers)
 * | REGISTRY_WRITERS              | (none)           | comma-separated `uid`s / `sub`s allowed to write with a JWT
 * | REGISTRY_JWKS_REFRESH_SECONDS | 60               | least time between two JWKS fetches (unknown `kid`, stale keys)
 */
import { LAMBDA_INLINE_MAX } from './http/handler';

type StorageConfig =
  | { kind: 'file'; root: string }
  | {
      kind: 's3';
      bucket: string;
      prefix: string;
      endpoint?: string;
      publicEndpoint?: string;
      region: string;
      forcePathStyle: boolean;
      etagForm?: 'quoted' | 'unquoted';
      timeouts: { connectMs: number; callMs: number; idleMs: number };
    };

export interface Config {
  storage: StorageConfig;
  writeTokens: readonly string[];
  publicUrl?: string;
  dockerHost?: string;
  downloads: 'redirect' | 'proxy';
  /** Upload targets: the store's signed URLs (direct) or the registry's own /_store URLs, streamed to the store (proxy). */
  uploads: 'direct' | 'proxy';
  /** Largest /repo body (after gzip when accepted) answered inline; bigger ones redirect. */
  repoInlineBytes: number;
  /** /repo renderings held in memory per catalog state (the only ones for a header-derived base). */
  repoRenderingsPerState: number;
  signingKey?: Buffer;
  /** Upload limits (issue 10 item 6): declared bytes per upload and per blob, targets per upload. */
  uploadLimits: { maxUploadBytes: number; maxBlobBytes: number; maxUploadParts: number; urlsPerAnswer: number };
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** X-Forwarded-Proto/Host come from a proxy we trust (else they are ignored). */
  trustProxy: boolean;
  /** Writers by JWT (lib/auth/jwt.ts); undefined without REGISTRY_JWKS_URL. */
  jwt?: JwtConfig;
}

export interface JwtConfig {
  jwksUrl: string;
  issuer?: string;
  audience?: string;
  writers: readonly string[];
  /** Least time between two JWKS fetches. */
  refreshIntervalMs: number;
  /** Keys older than this are refetched (at most once per refresh interval; kept if that fails). */
  maxAgeMs: number;
  timeoutMs: number;
}

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = env[name]?.trim() || fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new ConfigError(name, `must be one of ${allowed.join(', ')} (got "${value}")`);
  return value as T;
}

function url(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  if (!value) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, `must be an http(s) URL (got "${value}")`);
  }
  if (!['http:', 'https:'].includes(parsed.protocol)) throw new ConfigError(name, `must be an http(s) URL (got "${value}")`);
  return value.replace(/\/+$/, '');
}

function byteCount(env: Env, name: string, max: number, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) > max)
    throw new ConfigError(name, `must be a whole number of bytes from 0 to ${max} (got "${raw}")`);
  return Number(raw);
}

function wholeNumber(env: Env, name: string, min: number, max: number, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max)
    throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${raw}")`);
  return Number(raw);
}

function parseStorage(env: Env): StorageConfig {
  const raw = env.REGISTRY_STORAGE?.trim() || 'file:.registry';
  if (raw.startsWith('file:')) {
    const root = raw.slice('file:'.length);
    if (!root) throw new ConfigError('REGISTRY_STORAGE', 'file: needs a directory, e.g. file:.registry');
    return { kind: 'file', root };
  }
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(raw);
  if (!m) throw new ConfigError('REGISTRY_STORAGE', `must be file:<dir> or s3://<bucket>/<prefix> (got "${raw}")`);
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((s) => s === '.' || s === '..') || /[\\\0]/.test(prefix)) {
    throw new ConfigError('REGISTRY_STORAGE', 'prefix must not contain ".", ".." segments, backslashes or NUL');
  }
  const etag = env.REGISTRY_S3_ETAG_FORM?.trim();
  return {
    kind: 's3',
    bucket: m[1],
    prefix: prefix ? `${prefix}/` : '',
    endpoint: url(env, 'REGISTRY_S3_ENDPOINT'),
    publicEndpoint: url(env, 'REGISTRY_S3_PUBLIC_ENDPOINT'),
    region: env.REGISTRY_S3_REGION?.trim() || 'us-east-1',
    forcePathStyle: oneOf(env, 'REGISTRY_S3_FORCE_PATH_STYLE', ['true', 'false'], 'false') === 'true',
    etagForm: etag ? oneOf(env, 'REGISTRY_S3_ETAG_FORM', ['quoted', 'unquoted'] as const, 'unquoted') : undefined,
    timeouts: {
      connectMs: wholeNumber(env, 'REGISTRY_S3_CONNECT_TIMEOUT_MS', 100, 600_000, 2000),
      callMs: wholeNumber(env, 'REGISTRY_S3_TIMEOUT_MS', 100, 600_000, 5000),
      idleMs: wholeNumber(env, 'REGISTRY_S3_IDLE_TIMEOUT_MS', 100, 3_600_000, 30_000),
    },
  };
}

function parseSigningKey(env: Env): Buffer | undefined {
  const raw = env.REGISTRY_SIGNING_KEY?.trim();
  if (!raw) return undefined;
  const key = /^[0-9a-f]+$/i.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
  if (key.length < 32) throw new ConfigError('REGISTRY_SIGNING_KEY', 'must hold at least 32 bytes (hex or base64)');
  return key;
}

function parseJwt(env: Env): JwtConfig | undefined {
  const jwksUrl = url(env, 'REGISTRY_JWKS_URL');
  const writers = (env.REGISTRY_WRITERS ?? '')
    .split(',')
    .map((w) => w.trim())
    .filter(Boolean);
  if (!jwksUrl) {
    if (writers.length) throw new ConfigError('REGISTRY_WRITERS', 'needs REGISTRY_JWKS_URL (the keys that sign the writers’ tokens)');
    return undefined;
  }
  const refresh = env.REGISTRY_JWKS_REFRESH_SECONDS?.trim() || '60';
  if (!/^\d+$/.test(refresh) || Number(refresh) < 1 || Number(refresh) > 86_400)
    throw new ConfigError('REGISTRY_JWKS_REFRESH_SECONDS', `must be whole seconds from 1 to 86400 (got "${refresh}")`);
  return Object.freeze({
    jwksUrl,
    issuer: env.REGISTRY_JWT_ISSUER?.trim() || undefined,
    audience: env.REGISTRY_JWT_AUDIENCE?.trim() || undefined,
    writers: Object.freeze(writers),
    refreshIntervalMs: Number(refresh) * 1000,
    maxAgeMs: 3600_000,
    timeoutMs: 5000,
  });
}

export function parseConfig(env: Env): Config {
  const tokens = (env.REGISTRY_WRITE_TOKENS ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const t of tokens) {
    if (t.length < 8) throw new ConfigError('REGISTRY_WRITE_TOKENS', 'each token must be at least 8 characters');
  }
  const dockerHost = env.REGISTRY_DOCKER_HOST?.trim() || undefined;
  if (dockerHost && !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(dockerHost)) {
    throw new ConfigError('REGISTRY_DOCKER_HOST', `must be host[:port] (got "${dockerHost}")`);
  }
  return Object.freeze({
    storage: Object.freeze(parseStorage(env)),
    writeTokens: Object.freeze(tokens),
    publicUrl: url(env, 'REGISTRY_PUBLIC_URL'),
    dockerHost,
    downloads: oneOf(env, 'REGISTRY_DOWNLOADS', ['redirect', 'proxy'] as const, 'redirect'),
    uploads: oneOf(env, 'REGISTRY_UPLOADS', ['direct', 'proxy'] as const, 'direct'),
    // Lambda only (the server never redirects /repo): at most what a 6 MB response holds after base64.
    repoInlineBytes: byteCount(env, 'REGISTRY_REPO_INLINE_BYTES', LAMBDA_INLINE_MAX, LAMBDA_INLINE_MAX),
    repoRenderingsPerState: wholeNumber(env, 'REGISTRY_REPO_RENDERINGS_PER_STATE', 1, 64, 4),
    signingKey: parseSigningKey(env),
    // 5 TiB: S3's largest object; 10,000 parts per blob is S3's cap too.
    uploadLimits: Object.freeze({
      maxUploadBytes: wholeNumber(env, 'REGISTRY_MAX_UPLOAD_BYTES', 1, 1024 * 1024 ** 4, 64 * 1024 ** 3),
      maxBlobBytes: wholeNumber(env, 'REGISTRY_MAX_BLOB_BYTES', 1, 5 * 1024 ** 4, 32 * 1024 ** 3),
      maxUploadParts: wholeNumber(env, 'REGISTRY_MAX_UPLOAD_PARTS', 1, 1_000_000, 10_000),
      urlsPerAnswer: wholeNumber(env, 'REGISTRY_UPLOAD_URLS_PER_ANSWER', 1, 10_000, 1000),
    }),
    logLevel: oneOf(env, 'REGISTRY_LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, 'info'),
    trustProxy: oneOf(env, 'REGISTRY_TRUST_PROXY', ['true', 'false'], 'false') === 'true',
    jwt: parseJwt(env),
  });
}

let cached: Config | undefined;
/** The process's configuration, parsed on first use. */
export function config(): Config {
  return (cached ??= parseConfig(process.env));
}
