/**
 * The DC/OS side of the registry's TLS, for tests: the real CA software (Debian's cfssl,
 * `cfssl serve`, which answers under /api/v1/cfssl/) with a throwaway root made by openssl,
 * and a local double of what cannot run here: Admin Router in front of it. The double
 * checks every request against the documented shapes: the service-account login
 * (POST /acs/api/v1/auth/login, `{"uid","token"}`, token an RS256 JWT of uid and a short
 * exp, verified with the account's public key) answers `{"token"}`; `/ca/api/v2/<x>` needs
 * `Authorization: token=<that token>` and is passed on to cfssl's `/api/v1/cfssl/<x>`, as
 * Admin Router rewrites it. Every request body is recorded.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { freePort } from '../docker/registry-process';

export interface Cfssl {
  /** Base URL of cfssl's API: http://127.0.0.1:P/api/v1/cfssl */
  url: string;
  /** PEM of the root that signs (what agents get as ca.crt). */
  caPem: string;
  caFile: string;
  stop(): Promise<void>;
  log(): string;
}

/** cfssl serve with a new root; `expiry` is the default profile's (cfssl 2016 also backdates NotBefore 5 min into it). */
export async function startCfssl(expiry = '8760h'): Promise<Cfssl> {
  const dir = mkdtempSync(join(tmpdir(), 'cfssl-'));
  const caFile = join(dir, 'ca.pem');
  const r = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca-key.pem'), '-out', caFile, '-days', '2',
    '-subj', '/CN=DC-OS test root CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ], { encoding: 'utf8' }); // biome-ignore format: one command
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ signing: { default: { expiry, usages: ['signing', 'key encipherment', 'server auth'] } } }),
  );
  const port = await freePort();
  let out = '';
  const child: ChildProcess = spawn(
    'cfssl',
    [
      'serve',
      '-address',
      '127.0.0.1',
      '-port',
      String(port),
      '-ca',
      caFile,
      '-ca-key',
      join(dir, 'ca-key.pem'),
      '-config',
      join(dir, 'config.json'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}/api/v1/cfssl`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`cfssl serve exited: ${out}`);
    const ok = await fetch(`${url}/sign`, { method: 'POST', body: '{}' }).then(
      (res) => res.status === 400,
      () => false,
    );
    if (ok) break;
    if (i > 100) throw new Error(`cfssl serve did not answer: ${out}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    caPem: readFileSync(caFile, 'utf8'),
    caFile,
    log: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ServiceAccountKeys {
  uid: string;
  publicKeyPem: string;
  /** The secret as `dcos security secrets create-sa-secret` writes it. */
  secret(loginEndpoint: string): string;
}

export function serviceAccount(uid = 'registry-account'): ServiceAccountKeys {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  return {
    uid,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    secret: (loginEndpoint) => JSON.stringify({ scheme: 'RS256', uid, private_key: privatePem, login_endpoint: loginEndpoint }),
  };
}

interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  status: number;
}

export interface AdminRouter {
  url: string;
  loginEndpoint: string;
  requests: Recorded[];
  /** Tokens given out by the login. */
  tokens: Set<string>;
  close(): Promise<void>;
}

function iamError(code: string, description: string) {
  return { title: 'Authentication error', description, code };
}

/** Checks a login request as the IAM does; the answer is [status, body]. */
function checkLogin(body: string, account: ServiceAccountKeys, nowS: number): [number, unknown] {
  let req: Record<string, unknown>;
  try {
    req = JSON.parse(body);
  } catch {
    return [400, iamError('ERR_INVALID_DATA', 'Request has bad Content-Type or lacks JSON data')];
  }
  if (Object.keys(req).sort().join() !== 'token,uid') return [400, iamError('ERR_INVALID_DATA', `unexpected fields ${Object.keys(req)}`)];
  if (req.uid !== account.uid) return [401, iamError('ERR_INVALID_CREDENTIALS', 'Unknown service account')];
  const parts = String(req.token).split('.');
  if (parts.length !== 3) return [401, iamError('ERR_INVALID_CREDENTIALS', 'Service login token is not a JWT')];
  const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  if (header.alg !== 'RS256') return [401, iamError('ERR_INVALID_CREDENTIALS', `alg ${header.alg} is not RS256`)];
  const signed = verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), account.publicKeyPem, Buffer.from(parts[2], 'base64url'));
  if (!signed) return [401, iamError('ERR_INVALID_CREDENTIALS', 'Service login token signature is invalid')];
  if (claims.uid !== account.uid) return [401, iamError('ERR_INVALID_CREDENTIALS', 'uid claim does not match')];
  if (!Number.isInteger(claims.exp) || claims.exp <= nowS) return [401, iamError('ERR_INVALID_CREDENTIALS', 'Service login token expired')];
  if (claims.exp > nowS + 600) return [401, iamError('ERR_INVALID_CREDENTIALS', 'Service login token lives too long')];
  return [200, null];
}

export async function startAdminRouter(account: ServiceAccountKeys, cfssl: Cfssl): Promise<AdminRouter> {
  const requests: Recorded[] = [];
  const tokens = new Set<string>();
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString();
    const path = req.url ?? '';
    const answer = (status: number, json: unknown) => {
      requests.push({ method: req.method ?? '', path, headers: req.headers, body, status });
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    };
    if (path === '/acs/api/v1/auth/login') {
      if (req.method !== 'POST' || !String(req.headers['content-type']).startsWith('application/json'))
        return answer(400, iamError('ERR_INVALID_DATA', 'Request has bad Content-Type or lacks JSON data'));
      const [status, error] = checkLogin(body, account, Math.floor(Date.now() / 1000));
      if (status !== 200) return answer(status, error);
      const token = randomBytes(24).toString('hex');
      tokens.add(token);
      return answer(200, { token });
    }
    const ca = /^\/ca\/api\/v2\/(sign|newcert|info|bundle)$/.exec(path);
    if (ca) {
      const auth = /^token=(.+)$/.exec(String(req.headers.authorization ?? ''));
      if (!auth || !tokens.has(auth[1])) return answer(401, iamError('ERR_MISSING_AUTH_TOKEN', 'Authentication token required'));
      const up = await fetch(`${cfssl.url}/${ca[1]}`, { method: req.method, body: req.method === 'POST' ? body : undefined });
      return answer(up.status, await up.json());
    }
    answer(404, { message: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    loginEndpoint: `${url}/acs/api/v1/auth/login`,
    requests,
    tokens,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The name the default app is reached under (its Marathon VIP): the host its certificate must name. */
export const REGISTRY_VIP = 'dcos-registry.marathon.l4lb.thisdcos.directory';

/** A cluster's certificate path: cfssl, Admin Router in front of it, and a service account's secret on disk. */
export interface DcosCa {
  cfssl: Cfssl;
  router: AdminRouter;
  /** The account's secret (login endpoint: this Admin Router) in a file, as the app's sandbox gets it. */
  secretFile: string;
  close(): Promise<void>;
}

/** Starts cfssl and the Admin Router double that knows `account`, and writes the account's secret to a temp file. */
export async function startDcosCa(account: ServiceAccountKeys): Promise<DcosCa> {
  const cfssl = await startCfssl();
  const router = await startAdminRouter(account, cfssl).catch(async (e: unknown) => {
    await cfssl.stop();
    throw e;
  });
  const dir = mkdtempSync(join(tmpdir(), 'dcos-ca-'));
  const secretFile = join(dir, 'service-account.json');
  writeFileSync(secretFile, account.secret(router.loginEndpoint));
  return {
    cfssl,
    router,
    secretFile,
    close: async () => {
      await router.close();
      await cfssl.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** For a whole test file: starts a DcosCa for `account` before its tests and closes it after; read its fields inside tests. */
export function dcosCaForFile(account: ServiceAccountKeys): Omit<DcosCa, 'close'> {
  let ca: DcosCa | undefined;
  beforeAll(async () => {
    ca = await startDcosCa(account);
  }, 60_000);
  afterAll(() => ca?.close());
  const started = () => {
    if (!ca) throw new Error('the DC/OS CA is started in beforeAll: read it inside a test');
    return ca;
  };
  return {
    get cfssl() {
      return started().cfssl;
    },
    get router() {
      return started().router;
    },
    get secretFile() {
      return started().secretFile;
    },
  };
}
