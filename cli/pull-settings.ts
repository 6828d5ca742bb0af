/**
 * The download and pull settings build and mirror take from the command line (cli/verbs.ts
 * `network`: --insecure-registry, --docker-config, --allow-https-downgrade, --ca-file) and from
 * the environment (proxies, NODE_EXTRA_CA_CERTS, the Docker config path): read in one place.
 */
import type { BuildOptions } from '../lib/builder/build';

type Flags = Record<string, string | boolean | string[] | undefined>;
interface NetworkEnvironment {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
  caFile?: string;
  dockerConfigPath?: string;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : []);

export function pullSettings(
  flags: Flags,
  env: NetworkEnvironment,
): Pick<BuildOptions, 'insecureRegistries' | 'dockerConfigPath' | 'allowHttpsDowngrade' | 'network'> {
  return {
    insecureRegistries: list(flags['insecure-registry']),
    dockerConfigPath: str(flags['docker-config']) ?? env.dockerConfigPath,
    allowHttpsDowngrade: flags['allow-https-downgrade'] === true,
    network: { httpProxy: env.httpProxy, httpsProxy: env.httpsProxy, noProxy: env.noProxy, caFile: str(flags['ca-file']) ?? env.caFile },
  };
}
