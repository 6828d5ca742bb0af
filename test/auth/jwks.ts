/**
 * A local JWKS server, as DC/OS IAM publishes its keys at `/acs/api/v1/auth/jwks` (RSA keys,
 * RS256), and tokens signed by jose as DC/OS IAM issues them (RS256, `uid`, `exp`). Served over
 * HTTP, or over HTTPS with a given certificate (the registry then has to trust its CA). `keys`,
 * `down` and `hits` are live: a test rotates keys, takes the server down, counts fetches.
 */
import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

export type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

export interface JwksServer {
  /** The JWKS URL (path /acs/api/v1/auth/jwks, as DC/OS IAM). */
  url: string;
  keys: JWK[];
  /** Answer 503 while true. */
  down: boolean;
  hits: number;
  close(): Promise<void>;
}

export const rsaKeyPair = (): Promise<KeyPair> => generateKeyPair('RS256', { extractable: true });

/** A key pair's public half as a JWKS entry. */
export async function publicJwk(key: KeyPair, extra: Partial<JWK> = {}): Promise<JWK> {
  return { ...(await exportJWK(key.publicKey)), ...extra };
}

export async function startJwksServer(tls?: { key: string | Buffer; cert: string | Buffer }): Promise<JwksServer> {
  const jwks: JwksServer = { url: '', keys: [], down: false, hits: 0, close: async () => undefined };
  const handler = (_req: unknown, res: import('node:http').ServerResponse) => {
    jwks.hits++;
    if (jwks.down) return void res.writeHead(503).end('down');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: jwks.keys }));
  };
  const server: Server = tls ? createHttps(tls, handler) : createHttp(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwks.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}/acs/api/v1/auth/jwks`;
  jwks.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return jwks;
}

/**
 * A token as DC/OS IAM issues it: RS256, claims `uid` and `exp` (default in 5 minutes). DC/OS's
 * tokens carry no `kid` in their header (`{"typ":"JWT","alg":"RS256"}`): pass kid undefined for that.
 */
export function dcosToken(
  key: KeyPair,
  kid: string | undefined,
  claims: Record<string, unknown> = { uid: 'alice' },
  exp: string | number = '5m',
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', ...(kid === undefined ? {} : { kid }), typ: 'JWT' })
    .setExpirationTime(exp)
    .sign(key.privateKey);
}
