/**
 * `dcos registry activate`: with default options, first the registry's service account (its secret,
 * the account, the CA permission: service-account.ts); then install the registry through Cosmos,
 * wait until it answers, add it as package repository 0.
 */
import { callJson, ClientConfigError, RegistryApiError, type ClientOptions } from '../client/http';
import { type AccountNames, provisionServiceAccount } from './service-account';

/** Cosmos's versioned media types (DC/OS package manager API). */
export const COSMOS_MEDIA = {
  installRequest: 'application/vnd.dcos.package.install-request+json;charset=utf-8;version=v1',
  installResponse: 'application/vnd.dcos.package.install-response+json;charset=utf-8;version=v2',
  repoAddRequest: 'application/vnd.dcos.package.repository.add-request+json;charset=utf-8;version=v1',
  repoAddResponse: 'application/vnd.dcos.package.repository.add-response+json;charset=utf-8;version=v1',
} as const;

export interface ActivateOptions {
  /** The cluster (DCOS_URL) for Cosmos, and the registry through Admin Router for its health. */
  cluster: ClientOptions;
  registry: ClientOptions;
  /** Marathon app id of the registry (its VIP name is the id without slashes). */
  service: string;
  packageName: string;
  /** The options file's content; without it, the service account below is made first. */
  options?: Record<string, unknown>;
  /** Default options: the service account and secret to make (or reuse) before the install. */
  serviceAccount?: AccountNames;
  /** Default options: the DC/OS uids whose login may write (registry.auth.writers). */
  writers?: readonly string[];
  repositoryName: string;
  /** How long to wait for the registry to answer /health (default 10 minutes). */
  waitMs?: number;
  pollMs?: number;
  onStep?: (line: string) => void;
}

/**
 * `activate`: without options, the service account and its secret first (provisionServiceAccount),
 * installed with default options that name the secret and the writers (registry.auth.writers); then what `dcos package install <pkg> --options=<file>` and then
 * `dcos package repo add --index=0 <name> <uri>` do: POST /package/install (409: already
 * installed, go on), wait until the registry answers /health through Admin Router, then POST
 * /package/repository/add at index 0 (409: already there, go on).
 */
export async function activateRegistry(
  o: ActivateOptions,
): Promise<{ appId?: string; repositoryUri: string; serviceAccount?: string; secret?: string }> {
  const step = o.onStep ?? (() => undefined);
  let options = o.options;
  let account: AccountNames | undefined;
  if (!options && o.serviceAccount) {
    step(`Writers: ${o.writers?.length ? o.writers.join(',') : 'none (write tokens only)'}`);
    account = await provisionServiceAccount(o.cluster, o.serviceAccount, step);
    const auth = o.writers?.length ? { auth: { writers: o.writers.join(',') } } : {};
    options = { service: { name: o.service }, registry: { 'service-account-secret-path': account.secretPath, ...auth } };
  }
  step(`Installing ${o.packageName} through the DC/OS package manager`);
  let appId: string | undefined;
  try {
    const body = { packageName: o.packageName, ...(options ? { options } : {}) };
    const res = await callJson<{ appId?: string; packageVersion?: string }>(o.cluster, 'POST', '/package/install', body, true, {
      'content-type': COSMOS_MEDIA.installRequest,
      accept: COSMOS_MEDIA.installResponse,
    });
    appId = res.body?.appId;
    step(`Installed ${o.packageName} ${res.body?.packageVersion ?? ''} as ${appId ?? `/${o.service}`}`.replace(/\s+/g, ' '));
  } catch (error) {
    if (error instanceof RegistryApiError && error.status === 403) throw cosmosForbidden(error);
    if (!(error instanceof RegistryApiError && error.status === 409)) throw error;
    step(`${o.packageName} is already installed: ${error.message}`);
  }
  step(`Waiting for ${o.service} to become healthy`);
  const deadline = Date.now() + (o.waitMs ?? 600_000);
  for (;;) {
    try {
      await callJson({ ...o.registry, retry: { attempts: 1 } }, 'GET', '/health');
      break;
    } catch (error) {
      if (Date.now() >= deadline) throw new ClientConfigError(`${o.service} did not become healthy in time: ${(error as Error).message}`);
      await new Promise((r) => setTimeout(r, o.pollMs ?? 2000));
    }
  }
  step(`${o.service} is healthy`);
  const repositoryUri = `https://${o.service.replace(/\//g, '')}.marathon.l4lb.thisdcos.directory/repo`;
  try {
    await callJson(o.cluster, 'POST', '/package/repository/add', { name: o.repositoryName, uri: repositoryUri, index: 0 }, true, {
      'content-type': COSMOS_MEDIA.repoAddRequest,
      accept: COSMOS_MEDIA.repoAddResponse,
    });
    step(`Added the package repository ${o.repositoryName} ${repositoryUri} at index 0`);
  } catch (error) {
    if (error instanceof RegistryApiError && error.status === 403) throw cosmosForbidden(error);
    if (!(error instanceof RegistryApiError && error.status === 409)) throw error;
    step(`The package repository is already there: ${error.message}`);
  }
  return { appId, repositoryUri, ...(account ? { serviceAccount: account.uid, secret: account.secretPath } : {}) };
}

/** A DC/OS uid as registry.auth.writers takes it (packaging/universe/config.json's pattern, per entry). */
export const UID_PATTERN = /^[A-Za-z0-9@._-]+$/;

/**
 * The `uid` claim of a DC/OS login (an RS256 JWT of `uid` and `exp`), read without verifying it:
 * the CLI reads its own token, to name its user; the registry verifies every token it is sent.
 * Undefined when the token is no JWT or its uid is missing or not a uid.
 */
export function loginUid(token: string | undefined): string | undefined {
  const payload = token?.split('.')[1];
  if (!payload || token!.split('.').length !== 3) return undefined;
  try {
    const uid = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { uid?: unknown }).uid;
    return typeof uid === 'string' && UID_PATTERN.test(uid) ? uid : undefined;
  } catch {
    return undefined;
  }
}

/** Admin Router gates the package API (perms-reference: dcos:adminrouter:package). */
function cosmosForbidden(error: RegistryApiError): RegistryApiError {
  return new RegistryApiError(403, error.type, `${error.message}; your DC/OS account needs the permission dcos:adminrouter:package full`);
}
