/**
 * The DC/OS IAM and secrets calls `activate` makes, with the shapes DC/OS documents (sources in
 * docs/cli.md, "activate"):
 *
 *   PUT  /acs/api/v1/users/<uid>                      {"description","public_key"}  201; 409 exists
 *   POST /acs/api/v1/auth/login                       {"uid","token"}               200 {"token"}; 401
 *   PUT  /acs/api/v1/acls/<rid>                       {"description"}               201; 409 exists
 *   PUT  /acs/api/v1/acls/<rid>/users/<uid>/<action>  no body                       204; 409 granted
 *   GET  /secrets/v1/secret/default/<path>            → {"value"}                   200; 404
 *   PUT  /secrets/v1/secret/default/<path>            {"value"}                     201; 409 exists
 *
 * JSON both ways (`Content-Type: application/json`), the DC/OS login as `Authorization: token=<t>`;
 * IAM errors are `{"title","description","code"}`. Network failures, 5xx and 429 are retried;
 * every other answer goes back to the caller, which decides what it means.
 */
import { authorizationHeader, ClientConfigError, endpoint, isServerFailure, sendJson, type ClientOptions } from '../client/http';
import { TransientHttpError } from '../net/retry';
import { loginToken, type ServiceAccount } from './login';

interface Answer {
  status: number;
  body: unknown;
}

/** An answer of the cluster that stops activate; the message says what to do. */
export class DcosApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'DcosApiError';
  }
}

/** One JSON call to the cluster (DCOS_URL), retried on transient failures; any other answer is returned. */
async function clusterCall(cluster: ClientOptions, method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<Answer> {
  const url = endpoint(cluster.url, path);
  const authorization = authorizationHeader(cluster);
  if (!authorization) throw new ClientConfigError(cluster.missingTokenHint ?? 'not logged in to the DC/OS cluster: run `dcos auth login`');
  try {
    const a = await sendJson(cluster, method, url, body, { authorization }, ({ status }) =>
      isServerFailure(status) ? { status, message: `${method} ${path} answered ${status}` } : undefined,
    );
    // A body that is not JSON (a proxy's HTML page) is kept as text, for the error message.
    return { status: a.status, body: a.parsed === undefined && a.text ? a.text : a.parsed };
  } catch (error) {
    if (error instanceof TransientHttpError) throw new DcosApiError(error.status, error.message);
    throw error;
  }
}

/** What the IAM (or a proxy in front of it) said, for an error message. */
function reason(a: Answer): string {
  const b = a.body as { description?: unknown; title?: unknown; message?: unknown } | string | undefined;
  if (typeof b === 'string')
    return b
      .replace(/<[^>]*>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 200);
  const text = [b?.description, b?.message, b?.title].find((t) => typeof t === 'string' && t);
  return typeof text === 'string' ? text : '';
}

/** The error for an answer activate cannot go on from: 401 and 403 say which login or permission is missing. */
function refused(what: string, a: Answer, permission: string): DcosApiError {
  const why = reason(a);
  const said = `${a.status}${why ? `: ${why}` : ''}`;
  if (a.status === 401)
    return new DcosApiError(401, `${what}: the cluster refused the DC/OS login (${said}); run \`dcos auth login\` again`);
  if (a.status === 403) return new DcosApiError(403, `${what}: forbidden (${said}); your DC/OS account needs the permission ${permission}`);
  return new DcosApiError(a.status, `${what}: the cluster answered ${said}`);
}

/** What managing service accounts and permissions needs: the IAM API serves superusers only. */
const IAM_PERMISSION = 'dcos:superuser full';

/**
 * A resource id as a path segment, encoded as DC/OS's own clients do (dcos/dcos-test-utils iam.py,
 * mesosphere/terraform-provider-dcos): `%` → `%25`, `/` → `%252F` (Admin Router decodes once, the
 * IAM once more); `:` and the rest of the id's alphabet go as they are.
 */
export function ridPath(rid: string): string {
  if (!/^[A-Za-z0-9:._\-/%]+$/.test(rid)) throw new ClientConfigError(`invalid DC/OS resource id ${JSON.stringify(rid)}`);
  return rid.replace(/%/g, '%25').replace(/\//g, '%252F');
}

/** A DC/OS uid as the IAM accepts it (letters, digits, `-`, `_`, `.`, `@`). */
const UID = /^[A-Za-z0-9][A-Za-z0-9._@-]*$/;
function uidPath(uid: string): string {
  if (!UID.test(uid)) throw new ClientConfigError(`invalid DC/OS service account id ${JSON.stringify(uid)}`);
  return uid;
}

/** A secret path in the default store: segments of letters, digits, `-`, `_`, `.`. */
const SECRET_PATH = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
function secretUrl(path: string): string {
  if (!SECRET_PATH.test(path)) throw new ClientConfigError(`invalid DC/OS secret path ${JSON.stringify(path)}`);
  return `/secrets/v1/secret/default/${path}`;
}

const secretPermission = (path: string, action: string) => `dcos:secrets:default:/${path} ${action}`;

/** The secret's value, or undefined when there is none. */
export async function readSecret(cluster: ClientOptions, path: string): Promise<string | undefined> {
  const a = await clusterCall(cluster, 'GET', secretUrl(path));
  if (a.status === 404) return undefined;
  const value = (a.body as { value?: unknown } | undefined)?.value;
  if (a.status === 200 && typeof value === 'string') return value;
  if (a.status === 200) throw new DcosApiError(200, `reading the secret ${path}: the answer has no string value (a file secret?)`);
  throw refused(`reading the secret ${path}`, a, secretPermission(path, 'read'));
}

/** Creates the secret; 'exists' when one is already there (it is left as it is). */
export async function createSecret(cluster: ClientOptions, path: string, value: string): Promise<'created' | 'exists'> {
  const a = await clusterCall(cluster, 'PUT', secretUrl(path), { value });
  if (a.status === 201 || a.status === 200) return 'created';
  if (a.status === 409) return 'exists';
  if (a.status === 404)
    throw new DcosApiError(
      404,
      `creating the secret ${path}: the cluster has no secret store (DC/OS Enterprise only); install with --options instead`,
    );
  throw refused(`creating the secret ${path}`, a, secretPermission(path, 'create'));
}

/** Creates a service account with the public key; 'exists' when the uid is taken (nothing is changed). */
export async function createServiceAccount(
  cluster: ClientOptions,
  uid: string,
  publicKeyPem: string,
  description: string,
): Promise<'created' | 'exists'> {
  const a = await clusterCall(cluster, 'PUT', `/acs/api/v1/users/${uidPath(uid)}`, { description, public_key: publicKeyPem });
  if (a.status === 201) return 'created';
  if (a.status === 409) return 'exists';
  throw refused(`creating the service account ${uid}`, a, IAM_PERMISSION);
}

/**
 * Whether `account` can log in with its private key (the login of the cluster, not the secret's
 * login_endpoint, which is inside the cluster): the way to tell that an existing account is the one
 * the secret belongs to. The token it gets is dropped.
 */
export async function canLogIn(cluster: ClientOptions, account: Pick<ServiceAccount, 'uid' | 'privateKey'>): Promise<boolean> {
  const token = loginToken({ ...account, loginEndpoint: '' });
  const a = await clusterCall(cluster, 'POST', '/acs/api/v1/auth/login', { uid: account.uid, token });
  if (a.status === 200) return true;
  if (a.status === 401) return false;
  throw refused(`logging in as ${account.uid}`, a, IAM_PERMISSION);
}

/** Grants uid `action` on rid, creating the resource's ACL first if it has none. */
export async function grant(
  cluster: ClientOptions,
  uid: string,
  rid: string,
  action: string,
  description: string,
): Promise<{ acl: 'created' | 'exists'; grant: 'created' | 'exists' }> {
  const what = `granting ${uid} ${rid} ${action}`;
  const acl = await clusterCall(cluster, 'PUT', `/acs/api/v1/acls/${ridPath(rid)}`, { description });
  if (acl.status !== 201 && acl.status !== 409) throw refused(what, acl, IAM_PERMISSION);
  const g = await clusterCall(cluster, 'PUT', `/acs/api/v1/acls/${ridPath(rid)}/users/${uidPath(uid)}/${encodeURIComponent(action)}`);
  if (g.status !== 204 && g.status !== 409) throw refused(what, g, IAM_PERMISSION);
  return { acl: acl.status === 201 ? 'created' : 'exists', grant: g.status === 204 ? 'created' : 'exists' };
}
