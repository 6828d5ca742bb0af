/**
 * A stand-in for the DC/OS cluster `dcos registry activate` talks to (Admin Router, the IAM, the
 * secret store and Cosmos cannot run here). It checks every request against the documented shapes
 * and answers as they are documented; anything else is recorded in `problems` and refused.
 *
 *   IAM (dcos/client-go openapi/dcos.yaml; mesosphere/dcos-docs-site security/ent/iam-api):
 *     PUT  /acs/api/v1/users/<uid>      {"description","public_key"} → 201 | 409 ERR_USER_EXISTS
 *     POST /acs/api/v1/auth/login       {"uid","token": RS256 JWT of uid, exp} → 200 {"token"} | 401
 *     PUT  /acs/api/v1/acls/<rid>       {"description"} → 201 | 409 ERR_ACL_EXISTS
 *     PUT  /acs/api/v1/acls/<rid>/users/<uid>/<action>, no body → 204 | 409 ERR_PERMISSION_EXISTS
 *     rid encoded as DC/OS's clients do (`/` → %252F, `%` → %25); Admin Router and the IAM decode once each.
 *   Secrets (security/ent/secrets/secrets-api, api/secrets.yaml):
 *     GET  /secrets/v1/secret/default/<path> → 200 {"value"} | 404
 *     PUT  /secrets/v1/secret/default/<path> {"value"} → 201 | 409
 *     a service account secret as `create-sa-secret --strict` stores it (service-auth/custom-service-auth).
 *   Cosmos: install and repository add with their versioned media types; the app's /health through
 *   Admin Router, healthy once installed.
 *
 * Every request needs `Authorization: token=<login>`, JSON bodies `Content-Type: application/json`.
 * `failNext` makes one request of a kind fail as given ('stored-then-500': done, then answered 500).
 */
import { createPrivateKey, createPublicKey, verify } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { COSMOS_MEDIA } from '../../lib/dcos/activate';
import { type Json, optionErrors } from '../dcos/render';

/** The user's DC/OS login as DC/OS IAM issues it: an RS256 JWT of `uid` and `exp` (the CLI never verifies its own token). */
export const LOGIN_UID = 'bootstrapuser';
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
export const CLUSTER_TOKEN = `${b64url({ typ: 'JWT', alg: 'RS256' })}.${b64url({ uid: LOGIN_UID, exp: 4102444800 })}.${Buffer.from('signature').toString('base64url')}`;
export const STRICT_LOGIN_ENDPOINT = 'https://master.mesos/acs/api/v1/auth/login';
const COSMOS_ERROR = 'application/vnd.dcos.package.error+json;charset=utf-8;version=v1';
const ACTIONS = new Set(['create', 'read', 'update', 'delete', 'full']);

type Fault = 'stored-then-500' | { status: number; body: unknown };
type Kind = 'get-secret' | 'put-secret' | 'put-user' | 'login' | 'put-acl' | 'grant' | 'install' | 'repo-add';

export interface ClusterDouble {
  url: string;
  calls: Array<{ method: string; path: string; body?: unknown }>;
  problems: string[];
  secrets: Map<string, string>;
  users: Map<string, { description: string; publicKeyPem: string }>;
  acls: Map<string, string>;
  grants: Set<string>;
  installs: Array<{ packageName: string; options?: Record<string, unknown> }>;
  repositories: Array<{ name: string; uri: string }>;
  healthFailures: number;
  failNext(kind: Kind, fault: Fault): void;
  close(): Promise<void>;
}

const iamError = (code: string, description: string) => ({ title: 'Error', description, code });

function exactKeys(value: unknown, keys: string[]): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).sort().join() === [...keys].sort().join();
}

/** A service account secret as create-sa-secret --strict writes it, or the reason it is not one. */
export function checkServiceAccountSecret(value: string): string | undefined {
  let s: unknown;
  try {
    s = JSON.parse(value);
  } catch {
    return 'not JSON';
  }
  if (!exactKeys(s, ['scheme', 'uid', 'private_key', 'login_endpoint'])) return `fields ${Object.keys(s as object)}`;
  if (s.scheme !== 'RS256') return `scheme ${s.scheme}`;
  if (typeof s.uid !== 'string' || !s.uid) return 'no uid';
  if (s.login_endpoint !== STRICT_LOGIN_ENDPOINT) return `login_endpoint ${s.login_endpoint}`;
  try {
    const key = createPrivateKey(String(s.private_key));
    if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) return 'private_key is not RSA 2048';
  } catch {
    return 'private_key is not a PEM private key';
  }
  return undefined;
}

/** The SPKI PEM of the public half of a secret's private key. */
export function publicKeyOfSecret(value: string): string {
  const { private_key } = JSON.parse(value);
  return createPublicKey(createPrivateKey(private_key)).export({ type: 'spki', format: 'pem' }) as string;
}

/**
 * What the installed registry does at start (lib/dcos/login.ts, ca.ts): read its service account
 * secret, log in with it, ask the CA. Why that would fail here, if it would.
 */
function serviceAccountProblem(c: ClusterDouble, options: Record<string, unknown> | undefined): string | undefined {
  const path = (options?.registry as Record<string, unknown> | undefined)?.['service-account-secret-path'];
  if (typeof path !== 'string') return undefined;
  const secret = c.secrets.get(path);
  if (secret === undefined) return `no secret ${path}`;
  const why = checkServiceAccountSecret(secret);
  if (why) return `secret ${path}: ${why}`;
  const { uid } = JSON.parse(secret);
  if (c.users.get(uid)?.publicKeyPem !== publicKeyOfSecret(secret)) return `account ${uid} does not hold the secret's public key`;
  if (!c.grants.has(`dcos:adminrouter:ops:ca:rw ${uid} full`)) return `account ${uid} lacks dcos:adminrouter:ops:ca:rw full`;
  return undefined;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

export async function startClusterDouble(): Promise<ClusterDouble> {
  const faults = new Map<Kind, Fault>();
  const c: ClusterDouble = {
    url: '',
    calls: [],
    problems: [],
    secrets: new Map(),
    users: new Map(),
    acls: new Map(),
    grants: new Set(),
    installs: [],
    repositories: [],
    healthFailures: 0,
    failNext: (kind, fault) => faults.set(kind, fault),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };

  const server: Server = createServer(async (req, res) => {
    const text = await readBody(req);
    const method = req.method ?? '';
    const p = req.url ?? '';
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    c.calls.push({ method, path: p, body });
    const send = (status: number, value?: unknown, type = 'application/json') => {
      if (value === undefined) return res.writeHead(status).end();
      return res.writeHead(status, { 'content-type': type }).end(JSON.stringify(value));
    };
    const reject = (why: string) => {
      c.problems.push(`${method} ${p}: ${why}`);
      return send(400, iamError('ERR_INVALID_DATA', why));
    };
    type Reply = [status: number, value?: unknown, type?: string];
    /** Runs `act` (which changes the state) and sends its reply, unless a fault says otherwise. */
    const answer = (kind: Kind, act: () => Reply) => {
      const fault = faults.get(kind);
      faults.delete(kind);
      if (fault === undefined) return send(...act());
      if (fault === 'stored-then-500') {
        act(); // done, but the answer is lost: as a proxy timing out after the write would
        return send(500, 'Internal Server Error', 'text/html');
      }
      return send(fault.status, fault.body);
    };

    if (req.headers.authorization !== `token=${CLUSTER_TOKEN}`) {
      c.problems.push(`${method} ${p}: authorization ${req.headers.authorization}`);
      return send(401, iamError('ERR_INVALID_CREDENTIALS', 'Unauthorized'));
    }
    const json = () => {
      if (text === '') return true;
      if (req.headers['content-type'] !== 'application/json') {
        reject(`content-type ${req.headers['content-type']} (the IAM and secrets APIs take application/json)`);
        return false;
      }
      return true;
    };
    const seg = p.split('/');

    // ---- secrets: /secrets/v1/secret/default/<path>
    if (p.startsWith('/secrets/v1/secret/default/')) {
      const path = p.slice('/secrets/v1/secret/default/'.length);
      if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(path)) return reject(`secret path ${path}`);
      if (req.headers.accept !== 'application/json') return reject(`accept ${req.headers.accept}`);
      if (method === 'GET') {
        if (text) return reject('GET with a body');
        return answer('get-secret', (): Reply => {
          const value = c.secrets.get(path);
          return value === undefined ? [404, { code: 'ERR_NOT_FOUND', message: 'Secret not found' }] : [200, { value }];
        });
      }
      if (method === 'PUT') {
        if (!json()) return;
        if (!exactKeys(body, ['value']) || typeof body.value !== 'string') return reject(`secret body ${JSON.stringify(body)}`);
        const why = checkServiceAccountSecret(body.value);
        if (why) c.problems.push(`secret ${path} is not what create-sa-secret --strict stores: ${why}`);
        const value = body.value;
        return answer('put-secret', () => {
          if (c.secrets.has(path)) return [409, { code: 'ERR_ALREADY_EXISTS', message: 'Secret already exists' }];
          c.secrets.set(path, value);
          return [201];
        });
      }
      return reject('method');
    }

    // ---- IAM
    if (p.startsWith('/acs/api/v1/')) {
      if (req.headers.accept !== 'application/json') return reject(`accept ${req.headers.accept}`);
      if (method === 'PUT' && seg.length === 6 && seg[4] === 'users') {
        const uid = seg[5];
        if (!/^[A-Za-z0-9][A-Za-z0-9._@-]*$/.test(uid)) return reject(`uid ${uid}`);
        if (!json()) return;
        if (!exactKeys(body, ['description', 'public_key'])) return reject(`user body fields ${Object.keys(Object(body))}`);
        const { description, public_key } = body as { description: unknown; public_key: unknown };
        if (typeof description !== 'string' || !description) return reject('description');
        try {
          const key = createPublicKey(String(public_key));
          if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
            return reject('public_key not RSA 2048');
        } catch {
          return send(400, iamError('ERR_INVALID_PUBLIC_KEY', 'Invalid public key'));
        }
        return answer('put-user', () => {
          if (c.users.has(uid)) return [409, iamError('ERR_USER_EXISTS', 'User already exists')];
          c.users.set(uid, { description, publicKeyPem: String(public_key) });
          return [201];
        });
      }
      if (method === 'POST' && p === '/acs/api/v1/auth/login') {
        if (!json()) return;
        if (!exactKeys(body, ['uid', 'token'])) return reject(`login body fields ${Object.keys(Object(body))}`);
        const { uid, token } = body as { uid: string; token: string };
        return answer('login', () => {
          const user = c.users.get(uid);
          const parts = String(token).split('.');
          const denied = (): Reply => [401, iamError('ERR_INVALID_CREDENTIALS', 'The credentials are not valid')];
          if (!user || parts.length !== 3) return denied();
          const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
          const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
          if (header.alg !== 'RS256' || claims.uid !== uid) return denied();
          const now = Math.floor(Date.now() / 1000);
          if (!Number.isInteger(claims.exp) || claims.exp <= now || claims.exp > now + 600) return denied();
          if (!verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), user.publicKeyPem, Buffer.from(parts[2], 'base64url')))
            return denied();
          return [200, { token: `login-of-${uid}` }];
        });
      }
      if (method === 'PUT' && seg[4] === 'acls' && (seg.length === 6 || seg.length === 9)) {
        // Admin Router decodes the path once, the IAM the segment once more: a literal / must arrive as %252F.
        let rid: string;
        try {
          rid = decodeURIComponent(decodeURIComponent(seg[5]));
        } catch {
          return reject(`rid ${seg[5]}`);
        }
        if (!/^dcos:[A-Za-z0-9:._\-/]+$/.test(rid)) return reject(`rid ${rid}`);
        if (seg.length === 6) {
          if (!json()) return;
          if (!exactKeys(body, ['description']) || typeof body.description !== 'string') return reject(`acl body ${JSON.stringify(body)}`);
          const description = body.description;
          return answer('put-acl', () => {
            if (c.acls.has(rid)) return [409, iamError('ERR_ACL_EXISTS', 'ACL for this resource already exists')];
            c.acls.set(rid, description);
            return [201];
          });
        }
        const [, , , , , , users, uid, action] = seg;
        if (users !== 'users' || !ACTIONS.has(action)) return reject(`grant path ${p}`);
        if (text !== '' || req.headers['content-type']) return reject('a grant has no body');
        return answer('grant', () => {
          if (!c.acls.has(rid)) return [400, iamError('ERR_UNKNOWN_RESOURCE_ID', `ACL for resource ${rid} not found`)];
          if (!c.users.has(uid)) return [400, iamError('ERR_UNKNOWN_USER_ID', `User ${uid} not found`)];
          const key = `${rid} ${uid} ${action}`;
          if (c.grants.has(key)) return [409, iamError('ERR_PERMISSION_EXISTS', 'Permission already exists')];
          c.grants.add(key);
          return [204];
        });
      }
      return reject('not an IAM route activate may use');
    }

    // ---- Cosmos
    const media = (contentType: string, accept: string) => {
      if (req.headers['content-type'] !== contentType) c.problems.push(`${p}: content-type ${req.headers['content-type']}`);
      if (req.headers.accept !== accept) c.problems.push(`${p}: accept ${req.headers.accept}`);
    };
    if (method === 'POST' && p === '/package/install') {
      media(COSMOS_MEDIA.installRequest, COSMOS_MEDIA.installResponse);
      const b = body as { packageName?: unknown; options?: Record<string, unknown> };
      if (!exactKeys(b, b?.options ? ['packageName', 'options'] : ['packageName']) || typeof b.packageName !== 'string')
        c.problems.push(`install body ${JSON.stringify(body)}`);
      // Cosmos checks the options against the package's config.json (defaults merged in) before anything else.
      const invalid = optionErrors((b?.options ?? {}) as Json);
      if (invalid.length) c.problems.push(`install options refused by config.json: ${invalid.join('; ')}`);
      return answer('install', () => {
        if (c.installs.length) return [409, { type: 'PackageAlreadyInstalled', message: 'Package is already installed' }, COSMOS_ERROR];
        c.installs.push({ packageName: String(b.packageName), options: b.options });
        const installed = { packageName: b.packageName, packageVersion: '0.1.0', appId: '/dcos-registry', postInstallNotes: 'ok' };
        return [200, installed, COSMOS_MEDIA.installResponse];
      });
    }
    if (method === 'GET' && p === '/service/dcos-registry/health') {
      if (!c.installs.length || c.healthFailures-- > 0) return send(502, 'Bad Gateway', 'text/html');
      const why = serviceAccountProblem(c, c.installs[0].options);
      if (why) c.problems.push(`the registry could not get its certificate: ${why}`);
      return send(200, { status: 'Healthy' });
    }
    if (method === 'POST' && p === '/package/repository/add') {
      media(COSMOS_MEDIA.repoAddRequest, COSMOS_MEDIA.repoAddResponse);
      if (!exactKeys(body, ['name', 'uri', 'index'])) c.problems.push(`repository body ${JSON.stringify(body)}`);
      const b = body as { name: string; uri: string };
      return answer('repo-add', () => {
        c.repositories.unshift({ name: b.name, uri: b.uri });
        return [200, { repositories: c.repositories }, COSMOS_MEDIA.repoAddResponse];
      });
    }
    c.problems.push(`unexpected ${method} ${p}`);
    return send(404, { message: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  c.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return c;
}
