/**
 * The server's certificate when it comes from the DC/OS CA (`--tls-dcos-service-account`):
 * at start, log in with the service account, make a key and a request for the VIP name
 * here (the private key never leaves the process), have the CA sign it; then renew it
 * when two thirds of its lifetime have passed, handing each new certificate to the running
 * server (https.Server.setSecureContext: new connections get it, no restart). A failed
 * renewal is logged and retried while the current certificate is still valid.
 * Certificates from files (`--tls-cert`, `--tls-key`) are read by server.ts itself.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { defaultCaUrl, signCertificate } from '../lib/dcos/ca';
import { newCertificateRequest } from '../lib/dcos/csr';
import { login, parseServiceAccount } from '../lib/dcos/login';
import { describeError, log } from '../lib/log';
import type { ServerOptions } from './options';

interface TlsMaterial {
  cert: string;
  key: string;
}

export interface DcosCertificate extends TlsMaterial {
  serial: string;
  obtainedAt: number;
  notAfter: number;
}

export interface ServerTls {
  readonly current: DcosCertificate;
  /** Starts renewing; each new certificate goes to apply (the server's setSecureContext). */
  keepFresh(apply: (material: TlsMaterial) => void): void;
  stop(): void;
}

export interface TlsDeps {
  fetch: typeof fetch;
  now: () => number;
  /** When to renew a certificate (default renewalDelayMs). */
  renewalDelay?: (certificate: DcosCertificate) => number;
}

/** When to renew a certificate obtained at `obtainedAt`: after two thirds of what was left of its life. */
export function renewalDelayMs(obtainedAt: number, notAfter: number): number {
  return Math.max(1000, Math.floor(((notAfter - obtainedAt) * 2) / 3));
}

/** The longest delay one Node timer takes; a longer one fires after 1 ms (TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * setTimeout for any delay: chains unref'd timers of at most MAX_TIMER_MS (a one-year certificate is
 * renewed after 243 days, far past one timer's 24.8). `clear` cancels whichever timer is pending.
 */
export function setLongTimeout(fn: () => void, ms: number): { clear(): void } {
  let timer: NodeJS.Timeout | undefined;
  const wait = (left: number) => {
    timer = setTimeout(() => (left > MAX_TIMER_MS ? wait(left - MAX_TIMER_MS) : fn()), Math.min(left, MAX_TIMER_MS));
    timer.unref();
  };
  wait(ms);
  return { clear: () => clearTimeout(timer) };
}

/** After a failed renewal: a quarter of the remaining life, between 5 s and 5 min. */
export function retryDelayMs(now: number, notAfter: number): number {
  return Math.min(300_000, Math.max(5000, Math.floor((notAfter - now) / 4)));
}

export async function obtainDcosCertificate(
  dcos: NonNullable<ServerOptions['dcosTls']>,
  deps: TlsDeps = { fetch, now: Date.now },
): Promise<DcosCertificate> {
  const file = dcos.serviceAccountFile;
  const account = parseServiceAccount(await readFile(file, 'utf8'), file);
  const { keyPem, csrPem } = newCertificateRequest(dcos.hosts);
  const obtainedAt = deps.now();
  const authToken = await login(account, deps.fetch);
  const cert = await signCertificate(
    { caUrl: dcos.caUrl ?? defaultCaUrl(account.loginEndpoint), authToken, csrPem, hosts: dcos.hosts },
    deps.fetch,
  );
  const x509 = new X509Certificate(cert);
  if (!x509.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the DC/OS CA returned a certificate for another key');
  for (const host of dcos.hosts)
    if (!x509.checkHost(host)) throw new Error(`the DC/OS CA returned a certificate that does not name ${host}`);
  return { cert, key: keyPem, serial: x509.serialNumber, obtainedAt, notAfter: Date.parse(x509.validTo) };
}

/** undefined unless the server gets its certificate from the DC/OS CA. */
export async function startTls(options: ServerOptions, deps: TlsDeps = { fetch, now: Date.now }): Promise<ServerTls | undefined> {
  const dcos = options.dcosTls;
  if (!dcos) return undefined;
  let current = await obtainDcosCertificate(dcos, deps);
  const describe = (c: DcosCertificate) => ({ hosts: dcos.hosts, serial: c.serial, notAfter: new Date(c.notAfter).toISOString() });
  log.info('tls certificate from the DC/OS CA', describe(current));
  const renewIn = deps.renewalDelay ?? ((c: DcosCertificate) => renewalDelayMs(c.obtainedAt, c.notAfter));
  let timer: { clear(): void } | undefined;
  let stopped = false;
  const schedule = (ms: number, apply: (m: TlsMaterial) => void) => {
    if (stopped) return;
    timer = setLongTimeout(() => void renew(apply), ms);
  };
  const renew = async (apply: (m: TlsMaterial) => void) => {
    try {
      const next = await obtainDcosCertificate(dcos, deps);
      if (stopped) return;
      apply({ cert: next.cert, key: next.key });
      current = next;
      log.info('tls certificate renewed', describe(next));
      schedule(renewIn(next), apply);
    } catch (error) {
      const wait = retryDelayMs(deps.now(), current.notAfter);
      log.warn('tls certificate renewal failed', { ...describeError(error), retryInMs: wait, ...describe(current) });
      schedule(wait, apply);
    }
  };
  return {
    get current() {
      return current;
    },
    keepFresh: (apply) => schedule(renewIn(current), apply),
    stop: () => {
      stopped = true;
      timer?.clear();
    },
  };
}
