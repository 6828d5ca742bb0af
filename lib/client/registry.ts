/** The read and remove verbs: describe, list, remove, gc, audit. */
import type { AuditEntry } from '../audit';
import { authorizationHeader, callJson, ClientConfigError, clientDispatcher, endpoint, type ClientOptions } from './http';

export type DescribeBody = { name: string; version: string; status: string; releaseVersion?: number; [key: string]: unknown };
export type ListBody = { packages: { name: string; versions: { version: string; status: string; releaseVersion?: number }[] }[] };

const coordinates = (name: string, version: string) => `/package/${encodeURIComponent(name)}/${encodeURIComponent(version)}`;

export async function describePackage(opts: ClientOptions, name: string, version: string): Promise<DescribeBody> {
  return (await callJson<DescribeBody>(opts, 'GET', coordinates(name, version))).body;
}

export async function listPackages(opts: ClientOptions): Promise<ListBody> {
  return (await callJson<ListBody>(opts, 'GET', '/package')).body;
}

export async function removePackage(opts: ClientOptions, name: string, version: string): Promise<DescribeBody> {
  return (await callJson<DescribeBody>(opts, 'DELETE', coordinates(name, version), undefined, true)).body;
}

/** POST /gc: the garbage collection the scheduled function runs, on demand. */
export async function collectGarbage(opts: ClientOptions): Promise<Record<string, unknown>> {
  return (await callJson<Record<string, unknown>>(opts, 'POST', '/gc', undefined, true)).body ?? {};
}

/** One record of the audit log (GET /audit, docs/openapi.yaml): what lib/audit.ts stores, with its key. */
export type AuditRecord = AuditEntry & { key: string };
export type AuditBody = { entries: AuditRecord[]; next?: string };

/** GET /audit (writers only): one page of the audit log, oldest first, after a previous page's `next`. */
export async function readAuditLog(opts: ClientOptions, page: { after?: string; limit?: number } = {}): Promise<AuditBody> {
  const query = new URLSearchParams();
  if (page.after !== undefined) query.set('after', page.after);
  if (page.limit !== undefined) query.set('limit', String(page.limit));
  const path = `/audit${query.size ? `?${query}` : ''}`;
  return (await callJson<AuditBody>(opts, 'GET', path, undefined, true)).body;
}

/** Where the registry is and who the user is, from flags and the environment (the CLI reads both). */
export interface ConnectionInput {
  /** --url */
  url?: string;
  /** --token */
  token?: string;
  /** --name: the registry's service name under Admin Router (default dcos-registry). */
  name?: string;
  /** DCOS_REGISTRY_URL / DCOS_REGISTRY_TOKEN: the standalone settings. */
  registryUrl?: string;
  registryToken?: string;
  /** What the DC/OS CLI passes to a plugin: DCOS_URL, DCOS_ACS_TOKEN, DCOS_TLS_INSECURE, DCOS_TLS_CA_PATH. */
  dcosUrl?: string;
  dcosAcsToken?: string;
  dcosTlsInsecure?: boolean;
  dcosTlsCaPath?: string;
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
  caFile?: string;
}

const DEFAULT_SERVICE_NAME = 'dcos-registry';
/** A Marathon app id as Admin Router maps it: /service/<group>/<app>, lowercase segments. */
const SERVICE_NAME = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(\/[a-z0-9]([a-z0-9.-]*[a-z0-9])?)*$/;

export interface Connection extends ClientOptions {
  /** 'dcos': through Admin Router with the DC/OS login; 'standalone': --url / DCOS_REGISTRY_URL. */
  mode: 'dcos' | 'standalone';
  /** dcos mode: the cluster itself (DCOS_URL), for Cosmos; and the service name under Admin Router. */
  cluster?: ClientOptions;
  service?: string;
}

/**
 * Standalone when a registry URL is given (--url or DCOS_REGISTRY_URL): the static write token,
 * sent as Bearer on writes. Otherwise, run as a DC/OS CLI plugin on an attached cluster (DCOS_URL):
 * `<DCOS_URL>/service/<name>/`, the DC/OS login (DCOS_ACS_TOKEN, or --token) sent as `token=` on
 * every request, TLS as the DC/OS CLI was told (DCOS_TLS_INSECURE, DCOS_TLS_CA_PATH).
 */
export function resolveConnection(input: ConnectionInput): Connection {
  const proxies = { httpProxy: input.httpProxy, httpsProxy: input.httpsProxy, noProxy: input.noProxy };
  const standaloneUrl = input.url ?? input.registryUrl;
  if (standaloneUrl || !input.dcosUrl) {
    if (!standaloneUrl)
      throw new ClientConfigError(
        'no registry URL: give --url or set DCOS_REGISTRY_URL (or run it as `dcos registry` on an attached cluster)',
      );
    endpoint(standaloneUrl, '/');
    return {
      mode: 'standalone',
      url: standaloneUrl,
      token: input.token ?? input.registryToken,
      authScheme: 'Bearer',
      dispatcher: clientDispatcher({ ...proxies, caFile: input.caFile }),
    };
  }
  const name = (input.name ?? DEFAULT_SERVICE_NAME).replace(/^\/+|\/+$/g, '');
  if (!SERVICE_NAME.test(name))
    throw new ClientConfigError(
      `invalid service name ${JSON.stringify(input.name)}: a Marathon app id such as dcos-registry or infra/dcos-registry`,
    );
  let cluster: URL;
  try {
    cluster = new URL(input.dcosUrl);
  } catch {
    throw new ClientConfigError(`invalid DCOS_URL ${JSON.stringify(input.dcosUrl)}`);
  }
  const url = `${cluster.origin}${cluster.pathname.replace(/\/+$/, '')}/service/${name}`;
  endpoint(url, '/');
  const token = input.token ?? input.dcosAcsToken;
  const auth = token ? { base: url, header: authorizationHeader({ token, authScheme: 'token' })! } : undefined;
  const clusterUrl = `${cluster.origin}${cluster.pathname.replace(/\/+$/, '')}`;
  const clusterAuth = token ? { base: clusterUrl, header: authorizationHeader({ token, authScheme: 'token' })! } : undefined;
  const tls = { ...proxies, caFile: input.dcosTlsCaPath ?? input.caFile, insecure: input.dcosTlsInsecure === true };
  return {
    mode: 'dcos',
    service: name,
    cluster: {
      url: clusterUrl,
      token,
      authScheme: 'token',
      alwaysAuth: true,
      missingTokenHint: 'not logged in to the DC/OS cluster: run `dcos auth login` (or give --token)',
      dispatcher: clientDispatcher(tls, clusterAuth),
    },
    url,
    token,
    authScheme: 'token',
    alwaysAuth: true,
    missingTokenHint: 'not logged in to the DC/OS cluster: run `dcos auth login` (or give --token)',
    dispatcher: clientDispatcher(
      { ...proxies, caFile: input.dcosTlsCaPath ?? input.caFile, insecure: input.dcosTlsInsecure === true },
      auth,
    ),
  };
}
