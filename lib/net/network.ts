/**
 * Network settings (proxies from HTTP(S)_PROXY/NO_PROXY, extra CA certificates) and the undici
 * dispatcher made from them for the registry client (`add`, `describe`, ...). `build` uses the same
 * settings through its node:http client (http.ts) for assets and Docker pulls alike. The values
 * come from the caller (the CLI reads the environment); undici's own environment fallback is
 * disabled by passing '' for unset values, so library code never depends on process.env.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { EnvHttpProxyAgent, type Dispatcher } from 'undici';

export interface NetworkSettings {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
  /** PEM file of extra CA certificates, trusted in addition to Node's bundled roots. */
  caFile?: string;
}

export function createDispatcher(settings: NetworkSettings = {}): Dispatcher {
  // `ca` replaces the default roots in Node's TLS, so the bundled ones are added back.
  const ca = settings.caFile ? [...rootCertificates, readFileSync(settings.caFile, 'utf8')] : undefined;
  return new EnvHttpProxyAgent({
    httpProxy: settings.httpProxy ?? '',
    httpsProxy: settings.httpsProxy ?? '',
    noProxy: settings.noProxy ?? '',
    ...(ca ? { connect: { ca }, requestTls: { ca }, proxyTls: { ca } } : {}),
  });
}
