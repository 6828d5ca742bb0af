/**
 * The CLI's settings from the environment: the only place the CLI reads process.env. Library
 * code gets these values as parameters.
 */
import type { ConnectionInput } from '../lib/client';
import { defaultDockerConfigPath } from '../lib/image-pull/credentials';

/** The connection settings lib/client takes (DCOS_REGISTRY_*, what DC/OS passes a plugin, proxies), plus the Docker config. */
export interface CliEnvironment extends Omit<ConnectionInput, 'url' | 'token' | 'name'> {
  dockerConfigPath?: string;
}

export function readEnvironment(env: Record<string, string | undefined>): CliEnvironment {
  const pick = (...names: string[]) => names.map((n) => env[n]).find((v) => v !== undefined && v !== '');
  return {
    registryUrl: pick('DCOS_REGISTRY_URL'),
    registryToken: pick('DCOS_REGISTRY_TOKEN'),
    dcosUrl: pick('DCOS_URL'),
    dcosAcsToken: pick('DCOS_ACS_TOKEN'),
    dcosTlsInsecure: /^(1|true|yes)$/i.test(pick('DCOS_TLS_INSECURE') ?? ''),
    dcosTlsCaPath: pick('DCOS_TLS_CA_PATH'),
    httpProxy: pick('HTTP_PROXY', 'http_proxy'),
    httpsProxy: pick('HTTPS_PROXY', 'https_proxy'),
    noProxy: pick('NO_PROXY', 'no_proxy'),
    caFile: pick('NODE_EXTRA_CA_CERTS'),
    dockerConfigPath: defaultDockerConfigPath({ DOCKER_CONFIG: pick('DOCKER_CONFIG'), HOME: pick('HOME') }),
  };
}
