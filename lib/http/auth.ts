/**
 * Who may call a route, decided from the route table and the request line and headers
 * alone: nothing here reads a body, so both adapters can refuse before `100 Continue`.
 *
 * Write tokens are static today (REGISTRY_WRITE_TOKENS); `authorizeWrite` is async and
 * returns a subject so that a verifier of DC/OS IAM JWTs can take its place later.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config';
import { RegistryError, UnauthorizedError } from '../errors';
import { log } from '../log';
import type { Registry } from '../registry';
import type { StoreEndpoint } from '../storage/port';
import { ForbiddenError, keyFromStorePath, type StoreGrant } from '../storage/signing';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The token of an Authorization header: `Bearer <t>` (RFC 6750) or DC/OS's `token=<t>`
 * (what `dcos config show core.dcos_acs_token` users send through Admin Router).
 */
function tokenOf(authorization: string | undefined): string | undefined {
  const value = (authorization ?? '').trim();
  if (value.length > 8192) return undefined;
  const space = value.indexOf(' ');
  if (space > 0 && value.slice(0, space).toLowerCase() === 'bearer') {
    const token = value.slice(space + 1).trim();
    return token && !/\s/.test(token) ? token : undefined;
  }
  if (value.toLowerCase().startsWith('token=')) {
    const token = value.slice(6).trim();
    return token && !/\s/.test(token) ? token : undefined;
  }
  return undefined;
}

/** Who may write: a registry's settings (each request's: req.registry.config). */
export type WriterSettings = Pick<Config, 'writeTokens' | 'jwt'>;

/** The caller may write to the registry with these settings, or UnauthorizedError (no valid credential), or ForbiddenError (a valid DC/OS / OIDC login that is no writer). */
export async function authorizeWrite(settings: WriterSettings, headers: Record<string, string>): Promise<{ subject: string }> {
  const { writeTokens: tokens, jwt } = settings;
  if (tokens.length === 0 && !jwt) {
    throw new UnauthorizedError('Writes are disabled: no write token is configured (REGISTRY_WRITE_TOKENS)');
  }
  const given = tokenOf(headers.authorization);
  if (given === undefined) throw new UnauthorizedError();
  // Compare digests of every configured token, so neither length nor position leaks through timing.
  const g = digest(given);
  let index = -1;
  tokens.forEach((t, i) => {
    if (timingSafeEqual(g, digest(t))) index = i;
  });
  if (index >= 0) return { subject: `token#${index + 1}` };
  if (jwt) {
    // Loaded only where JWT writers are configured (REGISTRY_JWKS_URL) and a credential is not a static
    // token: jose stays off the read path (in the bundles, functions/jwt.js: scripts/esbuild-plugins.cjs).
    const { verifyLogin } = await import('../auth/jwt');
    const login = await verifyLogin(jwt, given, log.warn);
    if (login?.writer) return { subject: login.subject };
    // Authenticated, but not a writer: 403, so the user knows the login is fine and the list is the matter.
    if (login) throw new ForbiddenError(`${login.subject} may not write to this registry: not among its writers (REGISTRY_WRITERS)`);
  }
  throw new UnauthorizedError();
}

/** Whether the request carries a writer's credentials (public routes that show writers more). */
export async function isWriter(settings: WriterSettings, headers: Record<string, string>): Promise<boolean> {
  if (!headers.authorization) return false;
  return authorizeWrite(settings, headers).then(
    () => true,
    () => false,
  );
}

/**
 * The registry's side of its own signed URLs, or RouteNotFound: /_store exists only where the
 * storage's signed URLs are served by the registry (the filesystem driver, REGISTRY_UPLOADS=proxy).
 */
export function storeEndpointOf(registry: Registry): StoreEndpoint {
  const urls = registry.storage.urls;
  if (urls?.servedBy !== 'registry') throw new RegistryError('RouteNotFound', 'No such route with this storage driver');
  return urls.endpoint;
}

/** What a signed /_store URL grants for this method, or ForbiddenError. */
export async function authorizeSigned(
  registry: Registry,
  req: { method: string; path: string; query: Record<string, string> },
): Promise<StoreGrant> {
  const endpoint = storeEndpointOf(registry);
  const key = keyFromStorePath(req.path);
  if (!key) throw new ForbiddenError('Malformed store path');
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  return endpoint.verify({ method, key, query: req.query });
}
