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
import { DOCKER_HUB } from './reference.js';

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

/** Keys Docker Hub credentials are stored under, by `docker login` of various versions. */
const DOCKER_HUB_KEYS = new Set([DOCKER_HUB, 'index.docker.io', 'registry-1.docker.io']);

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

/**
 * Credentials for `registry` (as written in references, e.g. "docker.io", "127.0.0.1:5000"), or
 * undefined when the file is absent or has none. A malformed file is an error: silently pulling
 * anonymously would hide the operator's mistake behind a later 401.
 */
export async function readDockerCredentials(configPath: string | undefined, registry: string): Promise<BasicCredentials | undefined> {
  if (configPath === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let config: { auths?: Record<string, AuthEntry> };
  try {
    config = JSON.parse(text);
  } catch (err) {
    throw new Error(`Docker config ${configPath} is not valid JSON`, { cause: err });
  }
  const wanted = normaliseAuthKey(registry);
  for (const [key, entry] of Object.entries(config.auths ?? {})) {
    if (normaliseAuthKey(key) !== wanted || entry === null || typeof entry !== 'object') continue;
    if (typeof entry.auth === 'string' && entry.auth !== '') {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new Error(`Docker config ${configPath}: auths["${key}"].auth is not base64 "user:password"`);
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (typeof entry.username === 'string' && typeof entry.password === 'string') {
      return { username: entry.username, password: entry.password };
    }
  }
  return undefined;
}
