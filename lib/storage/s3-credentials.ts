/**
 * Credentials for the SDK-free read path (s3-http.ts), found as the AWS SDK's default chain finds
 * them, without loading the SDK for the common cases:
 *
 * 1. the environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), as Lambda
 *    sets them; skipped when AWS_PROFILE is set (the SDK skips it too);
 * 2. static keys of the profile (AWS_PROFILE, else "default") in the shared files:
 *    AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials) over AWS_CONFIG_FILE
 *    (default ~/.aws/config, sections `[profile name]`), as the Marathon app sets them;
 * 3. anything else (assume-role, SSO and process profiles, web identity, ECS container and EC2
 *    instance roles): the SDK's own provider, loaded on first use (`fallback`), so refresh and
 *    expiry stay the SDK's.
 */
import os from 'node:os';
import path from 'node:path';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export type CredentialSource = () => Promise<S3Credentials>;

/** Profile keys that make the SDK resolve a profile some other way than its static keys. */
const NOT_STATIC = /^(role_arn|credential_source|credential_process|web_identity_token_file|sso_)/;

type Sections = Map<string, Record<string, string>>;

/** The INI dialect of the shared files: `[section]`, `key = value`, `#`/`;` comments. */
function parseIni(text: string): Sections {
  const sections: Sections = new Map();
  let current: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]/.exec(line);
    if (header) {
      const name = header[1].trim();
      current = sections.get(name) ?? {};
      sections.set(name, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current && eq > 0) current[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  return sections;
}

async function readIfPresent(file: string): Promise<string> {
  // node:fs/promises (eleven of Node's internal modules) only where the shared files are read, not at start.
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

const expandHome = (file: string): string => (file.startsWith('~/') ? path.join(os.homedir(), file.slice(2)) : file);

/** The profile's settings: the config file's `[profile name]` (or `[default]`), overridden by the credentials file's `[name]`. */
async function profileSettings(env: NodeJS.ProcessEnv, profile: string): Promise<Record<string, string>> {
  const home = os.homedir();
  const credentialsFile = expandHome(env.AWS_SHARED_CREDENTIALS_FILE || path.join(home, '.aws', 'credentials'));
  const configFile = expandHome(env.AWS_CONFIG_FILE || path.join(home, '.aws', 'config'));
  const [credentials, config] = await Promise.all([readIfPresent(credentialsFile), readIfPresent(configFile)]);
  const fromConfig = parseIni(config);
  const configSection = fromConfig.get(`profile ${profile}`) ?? (profile === 'default' ? fromConfig.get('default') : undefined);
  return { ...configSection, ...parseIni(credentials).get(profile) };
}

/**
 * The static credentials the SDK's chain would find first in `env` and the shared files, or
 * undefined when it would go on to a provider this module leaves to the SDK.
 */
export async function staticCredentials(env: NodeJS.ProcessEnv): Promise<S3Credentials | undefined> {
  const profile = env.AWS_PROFILE?.trim();
  if (!profile && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    };
  }
  const settings = await profileSettings(env, profile || 'default');
  if (Object.keys(settings).some((k) => NOT_STATIC.test(k))) return undefined;
  const { aws_access_key_id: accessKeyId, aws_secret_access_key: secretAccessKey, aws_session_token: sessionToken } = settings;
  if (!accessKeyId || !secretAccessKey) return undefined;
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

/**
 * A credential source: static credentials are looked up once; otherwise every call asks
 * `fallback` (the SDK client's own provider, which caches and refreshes).
 */
export function credentialSource(env: NodeJS.ProcessEnv, fallback: CredentialSource): CredentialSource {
  let found: Promise<S3Credentials | undefined> | undefined;
  return async () => {
    found ??= staticCredentials(env).catch((err) => {
      found = undefined; // an unreadable file now may be readable on the next call
      throw err;
    });
    return (await found) ?? fallback();
  };
}
