/**
 * The production server's own settings: command-line flags only (the registry's settings
 * stay environment variables parsed by lib/config.ts). A bad flag fails at start and names
 * the flag.
 *
 * | flag                    | default   | meaning
 * | --host                  | 127.0.0.1 | address to listen on (0.0.0.0 in a container)
 * | --port                  | 3000      | TCP port (0: any free port, printed in the "listening" log line)
 * | --tls-cert / --tls-key  |           | PEM files: serve HTTPS (both or neither)
 * | --tls-dcos-service-account |        | DC/OS service account secret (JSON file): serve HTTPS with a certificate
 * |                         |           | from the DC/OS CA for --tls-hosts, renewed before it expires (server/tls.ts)
 * | --tls-hosts             |           | comma-separated DNS names the certificate must name (the VIP name)
 * | --tls-dcos-ca-url       | (login's) | base URL of the CA's cfssl API (default: /ca/api/v2 on the login endpoint's host)
 * | --max-body              | 6mb       | request bodies of handler routes are buffered up to this (Lambda's payload limit)
 * | --max-store-body        | 5gb       | streamed /_store PUT bodies (S3's single-PUT limit)
 * | --headers-timeout       | 20s       | request line and headers must arrive within this (408)
 * | --body-timeout          | 30s       | a buffered body must arrive within this (408)
 * | --idle-timeout          | 30s       | a streamed body may pause at most this long (408)
 * | --handler-timeout       | 29s       | a handler answers within this, else 504 (Lambda's timeout in serverless.yml)
 * | --keep-alive-timeout    | 65s       | idle keep-alive connections live this long (above common LB idle timeouts)
 * | --max-buffered-bodies   | 64mb      | buffered bodies held at once over all connections; past it new ones get 503
 * | --write-timeout         | 30s       | a streamed answer whose client reads nothing for this long is cut off
 * | --shutdown-grace        | 25s       | on SIGTERM, in-flight requests get this long to finish
 * | --schedules             | on        | run serverless.yml's scheduled functions (sweeper, gc) at their rates; off: run them elsewhere
 */
import { parseArgs } from 'node:util';

export interface ServerOptions {
  host: string;
  port: number;
  tls?: { cert: string; key: string };
  /** HTTPS with a certificate from the DC/OS CA (server/tls.ts). */
  dcosTls?: { serviceAccountFile: string; hosts: string[]; caUrl?: string };
  maxBodyBytes: number;
  maxStoreBodyBytes: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  idleTimeoutMs: number;
  handlerTimeoutMs: number;
  keepAliveTimeoutMs: number;
  shutdownGraceMs: number;
  maxBufferedBodiesBytes: number;
  writeTimeoutMs: number;
  /** Run the scheduled functions of the route table. */
  schedules: boolean;
}

export class OptionsError extends Error {
  constructor(flag: string, problem: string) {
    super(`Invalid option --${flag}: ${problem}`);
    this.name = 'OptionsError';
  }
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
const TIME_UNITS: Record<string, number> = { '': 1, ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

function quantity(flag: string, raw: string, units: Record<string, number>): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim());
  const unit = m?.[2].toLowerCase();
  if (!m || unit === undefined || !(unit in units))
    throw new OptionsError(flag, `expected a number with one of the units ${Object.keys(units).filter(Boolean).join(', ')} (got "${raw}")`);
  return Math.round(Number(m[1]) * units[unit]);
}

export const USAGE = `Usage: node dist/server.js [--host H] [--port P] [--tls-cert F --tls-key F]
  [--tls-dcos-service-account F --tls-hosts H[,H...] [--tls-dcos-ca-url URL]]
  [--max-body 6mb] [--max-store-body 5gb] [--headers-timeout 20s] [--body-timeout 30s]
  [--idle-timeout 30s] [--handler-timeout 29s] [--keep-alive-timeout 65s]
  [--max-buffered-bodies 64mb] [--write-timeout 30s] [--shutdown-grace 25s] [--schedules on|off]
Registry settings (storage, tokens, ...) come from REGISTRY_* environment variables: see README.md.`;

function onOff(flag: string, raw: string): boolean {
  if (raw !== 'on' && raw !== 'off') throw new OptionsError(flag, `must be on or off (got "${raw}")`);
  return raw === 'on';
}

export function parseServerOptions(argv: string[]): ServerOptions | 'help' {
  const str = { type: 'string' } as const;
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      host: str,
      port: str,
      'tls-cert': str,
      'tls-key': str,
      'tls-dcos-service-account': str,
      'tls-hosts': str,
      'tls-dcos-ca-url': str,
      'max-body': str,
      'max-store-body': str,
      'headers-timeout': str,
      'body-timeout': str,
      'idle-timeout': str,
      'handler-timeout': str,
      'keep-alive-timeout': str,
      'shutdown-grace': str,
      'max-buffered-bodies': str,
      'write-timeout': str,
      schedules: str,
    },
  });
  if (values.help) return 'help';
  const port = Number(values.port ?? '3000');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new OptionsError('port', `must be 0..65535 (got "${values.port}")`);
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) throw new OptionsError('tls-cert', 'and --tls-key go together');
  const dcosTls = dcosTlsOption(values['tls-dcos-service-account'], values['tls-hosts'], values['tls-dcos-ca-url']);
  if (dcosTls && values['tls-cert'])
    throw new OptionsError('tls-dcos-service-account', 'and --tls-cert are two sources of one certificate: give one');
  const size = (flag: keyof typeof values, fallback: string) =>
    quantity(flag, (values[flag] as string | undefined) ?? fallback, SIZE_UNITS);
  const time = (flag: keyof typeof values, fallback: string) =>
    quantity(flag, (values[flag] as string | undefined) ?? fallback, TIME_UNITS);
  const positive = (flag: string, n: number) => {
    if (n <= 0) throw new OptionsError(flag, 'must be greater than 0');
    return n;
  };
  return {
    host: values.host ?? '127.0.0.1',
    port,
    tls: values['tls-cert'] ? { cert: values['tls-cert'], key: values['tls-key']! } : undefined,
    dcosTls,
    maxBodyBytes: positive('max-body', size('max-body', '6mb')),
    maxStoreBodyBytes: positive('max-store-body', size('max-store-body', '5gb')),
    headersTimeoutMs: positive('headers-timeout', time('headers-timeout', '20s')),
    bodyTimeoutMs: positive('body-timeout', time('body-timeout', '30s')),
    idleTimeoutMs: positive('idle-timeout', time('idle-timeout', '30s')),
    handlerTimeoutMs: positive('handler-timeout', time('handler-timeout', '29s')),
    keepAliveTimeoutMs: positive('keep-alive-timeout', time('keep-alive-timeout', '65s')),
    shutdownGraceMs: positive('shutdown-grace', time('shutdown-grace', '25s')),
    maxBufferedBodiesBytes: positive('max-buffered-bodies', size('max-buffered-bodies', '64mb')),
    writeTimeoutMs: positive('write-timeout', time('write-timeout', '30s')),
    schedules: onOff('schedules', values.schedules ?? 'on'),
  };
}

function dcosTlsOption(account?: string, hostList?: string, caUrl?: string): ServerOptions['dcosTls'] {
  if (!account) {
    if (hostList || caUrl) throw new OptionsError(hostList ? 'tls-hosts' : 'tls-dcos-ca-url', 'needs --tls-dcos-service-account');
    return undefined;
  }
  const hosts = (hostList ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  if (hosts.length === 0)
    throw new OptionsError('tls-hosts', 'is needed with --tls-dcos-service-account: the names the certificate is for');
  for (const h of hosts)
    if (!/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(h))
      throw new OptionsError('tls-hosts', `"${h}" is not a DNS name`);
  if (caUrl && !/^https?:\/\/[^/]/.test(caUrl)) throw new OptionsError('tls-dcos-ca-url', `must be an http(s) URL (got "${caUrl}")`);
  return { serviceAccountFile: account, hosts, caUrl: caUrl || undefined };
}
