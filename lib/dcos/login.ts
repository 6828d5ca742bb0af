/**
 * DC/OS service-account login. The secret made by `dcos security secrets create-sa-secret`
 * is `{"scheme":"RS256","uid","private_key":<PEM>,"login_endpoint":<URL>}`; the account logs
 * in by POSTing `{"uid","token"}` to login_endpoint, where token is an RS256 JWT of
 * `{"uid","exp"}` signed with the private key, and gets `{"token"}` back: the
 * authentication token that Admin Router accepts as `Authorization: token=<t>`.
 */
import { createPrivateKey, type KeyObject, sign } from 'node:crypto';

export interface ServiceAccount {
  uid: string;
  privateKey: KeyObject;
  loginEndpoint: string;
}

/** Seconds the login JWT is valid: just long enough to reach the IAM. */
export const LOGIN_TOKEN_TTL_S = 120;

export class DcosAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DcosAuthError';
  }
}

/** Parses the secret's text; errors name what is wrong, never the key. */
export function parseServiceAccount(text: string, source: string): ServiceAccount {
  let secret: Record<string, unknown>;
  try {
    secret = JSON.parse(text);
  } catch {
    throw new DcosAuthError(`${source}: not a DC/OS service account secret (not JSON)`);
  }
  if (!secret || typeof secret !== 'object') throw new DcosAuthError(`${source}: not a DC/OS service account secret`);
  const { scheme, uid, private_key: pem, login_endpoint: endpoint } = secret;
  if (scheme !== 'RS256') throw new DcosAuthError(`${source}: scheme must be "RS256" (got ${JSON.stringify(scheme)})`);
  if (typeof uid !== 'string' || !uid) throw new DcosAuthError(`${source}: uid is missing`);
  if (typeof endpoint !== 'string' || !/^https?:\/\//.test(endpoint))
    throw new DcosAuthError(`${source}: login_endpoint must be an http(s) URL`);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(String(pem));
  } catch {
    throw new DcosAuthError(`${source}: private_key is not a PEM private key`);
  }
  if (privateKey.asymmetricKeyType !== 'rsa') throw new DcosAuthError(`${source}: private_key must be an RSA key (scheme RS256)`);
  return { uid, privateKey, loginEndpoint: endpoint };
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** The RS256 JWT the login endpoint expects: `{"uid","exp"}`, expiring LOGIN_TOKEN_TTL_S from now. */
export function loginToken(account: ServiceAccount, nowMs = Date.now()): string {
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ uid: account.uid, exp: Math.floor(nowMs / 1000) + LOGIN_TOKEN_TTL_S }));
  const signature = sign('RSA-SHA256', Buffer.from(`${header}.${payload}`), account.privateKey);
  return `${header}.${payload}.${b64url(signature)}`;
}

/** Logs in; the answer's token authenticates calls through Admin Router (`Authorization: token=<t>`). */
export async function login(account: ServiceAccount, fetchFn: typeof fetch = fetch): Promise<string> {
  const where = `DC/OS login as "${account.uid}" at ${account.loginEndpoint}`;
  let res: Response;
  try {
    res = await fetchFn(account.loginEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ uid: account.uid, token: loginToken(account) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new DcosAuthError(`${where} failed: ${(error as Error).cause ?? (error as Error).message}`);
  }
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text);
  } catch {
    /* reported below */
  }
  if (!res.ok)
    throw new DcosAuthError(`${where} failed: HTTP ${res.status}${typeof body.description === 'string' ? `: ${body.description}` : ''}`);
  if (typeof body.token !== 'string' || !body.token) throw new DcosAuthError(`${where}: the answer has no token`);
  return body.token;
}
