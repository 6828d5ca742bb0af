/**
 * Registry credentials from a Docker client config file (~/.docker/config.json). Only inline
 * credentials are read: `auths.<registry>.auth` (base64 "user:password") or `username`/`password`.
 * Credential helpers (credsStore, credHelpers) and identity tokens would mean running external
 * programs or an OAuth refresh flow; they are not supported and are ignored.
 *
 * The path is always a parameter: callers resolve DOCKER_CONFIG / HOME in lib/config.ts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DOCKER_HUB } from '../docker/reference.js';

export interface BasicCredentials {
  readonly username: string;
  readonly password: string;
}

/** `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`, as the Docker CLI does. */
export function defaultDockerConfigPath(env: { DOCKER_CONFIG?: string; HOME?: string }): string | undefined {
  if (env.DOCKER_CONFIG) return join(env.DOCKER_CONFIG, 'config.json');
  if (env.HOME) return join(env.HOME, '.docker', 'config.json');
  return undefined;
}

/**
 * Keys Docker Hub credentials are stored under, by `docker login` of various versions, and Docker
 * Hub's own hosts: its API (registry-1.docker.io) and its token realm (auth.docker.io), which
 * therefore count as Docker Hub's host when credentials are looked up for a realm.
 */
const DOCKER_HUB_KEYS = new Set([DOCKER_HUB, 'index.docker.io', 'registry-1.docker.io', 'auth.docker.io']);

/** "https://host:port/v1/" → "host:port"; Docker Hub's many spellings → "docker.io". */
function normaliseAuthKey(key: string): string {
  const bare = key
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
  return DOCKER_HUB_KEYS.has(bare) ? DOCKER_HUB : bare;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
}

/** Credentials by host: `registry` as written in references ("docker.io", "127.0.0.1:5000") or a URL's host. */
export type CredentialLookup = (host: string) => BasicCredentials | undefined;

/**
 * Reads the Docker config once and answers credential look-ups by host (undefined when the file is
 * absent or has no entry for that host). Credentials are for the host they are stored under and
 * for no other: callers look up each host they talk to, never reuse one host's for another.
 * A malformed file is an error: silently pulling anonymously would hide the operator's mistake
 * behind a later 401.
 */
export async function loadDockerCredentials(configPath: string | undefined): Promise<CredentialLookup> {
  if (configPath === undefined) return () => undefined;
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return () => undefined;
    throw err;
  }
  let config: { auths?: Record<string, AuthEntry> };
  try {
    config = JSON.parse(text);
  } catch (err) {
    throw new Error(`Docker config ${configPath} is not valid JSON`, { cause: err });
  }
  // First entry with credentials per host, decoded when asked for: a broken entry for another
  // registry does not fail this one.
  const byHost = new Map<string, [string, AuthEntry]>();
  for (const [key, entry] of Object.entries(config?.auths ?? {})) {
    if (entry === null || typeof entry !== 'object') continue;
    const usable =
      (typeof entry.auth === 'string' && entry.auth !== '') || (typeof entry.username === 'string' && typeof entry.password === 'string');
    const host = normaliseAuthKey(key);
    if (usable && !byHost.has(host)) byHost.set(host, [key, entry]);
  }
  return (host) => {
    const found = byHost.get(normaliseAuthKey(host));
    if (!found) return undefined;
    const [key, entry] = found;
    if (typeof entry.auth === 'string' && entry.auth !== '') {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new Error(`Docker config ${configPath}: auths["${key}"].auth is not base64 "user:password"`);
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    return { username: entry.username!, password: entry.password! };
  };
}

/** Credentials for one `registry` (see loadDockerCredentials). */
export async function readDockerCredentials(configPath: string | undefined, registry: string): Promise<BasicCredentials | undefined> {
  return (await loadDockerCredentials(configPath))(registry);
}
