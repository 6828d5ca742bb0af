/**
 * The registry's certificate from the DC/OS CA: a key and request made here, the
 * service-account login (against a double that verifies the JWT with the account's public
 * key), the real cfssl signing (bare, and behind the Admin Router double as /ca/api/v2),
 * renewal handed to a running server without a restart, and the server flags that turn it on.
 */
import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../lib/config';
import { CaError, defaultCaUrl, signCertificate } from '../../lib/dcos/ca';
import { checkHosts, newCertificateRequest } from '../../lib/dcos/csr';
import { DcosAuthError, LOGIN_TOKEN_TTL_S, login, loginToken, parseServiceAccount } from '../../lib/dcos/login';
import { createRegistry } from '../../lib/registry';
import { OptionsError, parseServerOptions, type ServerOptions } from '../../server/options';
import { createRegistryServer } from '../../server/server';
import { obtainDcosCertificate, renewalDelayMs, retryDelayMs, setLongTimeout, startTls } from '../../server/tls';
import { dcosCaForFile, REGISTRY_VIP as VIP, serviceAccount } from './doubles';

const account = serviceAccount();
const ca = dcosCaForFile(account);

/** The certificate a TLS client is shown, asking for `servername`. */
function presented(port: number, servername = VIP): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ca: ca.cfssl.caPem }, () => {
      const raw = socket.getPeerX509Certificate();
      socket.end();
      if (!raw) return reject(new Error('no peer certificate'));
      resolve(raw);
    });
    socket.once('error', reject);
  });
}

describe('certificate request', () => {
  it('is a valid PKCS #10 request naming the hosts, signed by a key that stays here', () => {
    const { csrPem, keyPem } = newCertificateRequest([VIP, 'other.example']);
    const r = spawnSync('openssl', ['req', '-noout', '-verify', '-text'], { input: csrPem, encoding: 'utf8' });
    expect(r.stderr + r.stdout).toMatch(/verify OK/i);
    expect(r.stdout).toContain(`Subject: CN = ${VIP}`);
    expect(r.stdout).toContain(`DNS:${VIP}, DNS:other.example`);
    expect(csrPem).not.toContain('PRIVATE KEY');
    expect(createPrivateKey(keyPem).asymmetricKeyType).toBe('ec');
  });

  it('refuses names that are not DNS host names', () => {
    for (const bad of [[], [''], ['a b'], ['-x.example'], ['x..example'], ['/my/custom']]) expect(() => checkHosts(bad)).toThrow();
  });
});

describe('service account login', () => {
  it('sends {uid, token} with an RS256 JWT of uid and a short exp, and returns the token the IAM gives', async () => {
    const sa = parseServiceAccount(account.secret(ca.router.loginEndpoint), 'secret');
    const jwt = loginToken(sa, Date.parse('2026-01-01T00:00:00Z'));
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
    expect(claims).toEqual({ uid: 'registry-account', exp: Date.parse('2026-01-01T00:00:00Z') / 1000 + LOGIN_TOKEN_TTL_S });
    const token = await login(sa);
    expect(ca.router.tokens.has(token)).toBe(true);
    const last = ca.router.requests.at(-1)!;
    expect(last).toMatchObject({ method: 'POST', path: '/acs/api/v1/auth/login', status: 200 });
    expect(Object.keys(JSON.parse(last.body)).sort()).toEqual(['token', 'uid']);
  });

  it("is refused for a key that is not the account's, with the IAM's reason", async () => {
    const stranger = serviceAccount(); // same uid, another key pair
    const sa = parseServiceAccount(stranger.secret(ca.router.loginEndpoint), 'secret');
    await expect(login(sa)).rejects.toThrow(
      /DC\/OS login as "registry-account" at .* failed: HTTP 401: Service login token signature is invalid/,
    );
  });

  it('names what is wrong in a bad secret, never its key', () => {
    const good = JSON.parse(account.secret(ca.router.loginEndpoint));
    const cases: Array<[unknown, RegExp]> = [
      ['not json', /not JSON/],
      [{ ...good, scheme: 'HS256' }, /scheme must be "RS256"/],
      [{ ...good, uid: '' }, /uid is missing/],
      [{ ...good, login_endpoint: 'master.mesos' }, /login_endpoint must be an http/],
      [{ ...good, private_key: 'nope' }, /private_key is not a PEM private key/],
    ];
    for (const [secret, message] of cases) {
      const text = typeof secret === 'string' ? secret : JSON.stringify(secret);
      let error: Error | undefined;
      try {
        parseServiceAccount(text, '/sandbox/service-account.json');
      } catch (e) {
        error = e as Error;
      }
      expect(error).toBeInstanceOf(DcosAuthError);
      expect(error!.message).toMatch(message);
      expect(error!.message).toContain('/sandbox/service-account.json');
      expect(error!.message).not.toContain('PRIVATE KEY');
    }
  });
});

describe('the CA (real cfssl)', () => {
  it('signs the request at the bare cfssl API: the certificate names the host and belongs to our key', async () => {
    const { csrPem, keyPem } = newCertificateRequest([VIP]);
    const cert = new X509Certificate(await signCertificate({ caUrl: ca.cfssl.url, csrPem, hosts: [VIP] }));
    expect(cert.checkHost(VIP)).toBe(VIP);
    expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(cert.verify(new X509Certificate(ca.cfssl.caPem).publicKey)).toBe(true);
  });

  it("reports cfssl's own error for a bad request", async () => {
    await expect(signCertificate({ caUrl: ca.cfssl.url, csrPem: 'garbage', hosts: [VIP] })).rejects.toThrow(
      /refused to sign: HTTP 400: CSR Decode failed/,
    );
  });

  it('is reached through Admin Router at /ca/api/v2 with the login token, and refused without one', async () => {
    expect(defaultCaUrl(ca.router.loginEndpoint)).toBe(`${ca.router.url}/ca/api/v2`);
    const { csrPem } = newCertificateRequest([VIP]);
    await expect(signCertificate({ caUrl: `${ca.router.url}/ca/api/v2`, csrPem, hosts: [VIP] })).rejects.toThrow(CaError);
    expect(ca.router.requests.at(-1)).toMatchObject({ path: '/ca/api/v2/sign', status: 401 });
  });

  it('gives the server a certificate for the VIP name; no private key ever leaves the process', async () => {
    const before = ca.router.requests.length;
    const c = await obtainDcosCertificate({ serviceAccountFile: ca.secretFile, hosts: [VIP] });
    expect(new X509Certificate(c.cert).checkHost(VIP)).toBe(VIP);
    expect(c.notAfter).toBeGreaterThan(Date.now());
    const sent = ca.router.requests.slice(before);
    expect(sent.map((r) => `${r.path} ${r.status}`)).toEqual(['/acs/api/v1/auth/login 200', '/ca/api/v2/sign 200']);
    const sign = JSON.parse(sent[1].body);
    expect(Object.keys(sign).sort()).toEqual(['certificate_request', 'hosts']);
    expect(sign.hosts).toEqual([VIP]);
    for (const r of sent) expect(r.body).not.toMatch(/PRIVATE KEY/);
    expect(sent[1].headers.authorization).toMatch(/^token=/);
  });
});

describe('renewal', () => {
  it('renews after two thirds of the remaining life; retries within what is left', () => {
    expect(renewalDelayMs(0, 90_000)).toBe(60_000);
    expect(renewalDelayMs(0, 365 * 86_400_000)).toBe(243 * 86_400_000 + 8 * 3_600_000);
    expect(renewalDelayMs(10_000, 10_000)).toBe(1000);
    expect(retryDelayMs(0, 3_600_000)).toBe(300_000);
    expect(retryDelayMs(0, 60_000)).toBe(15_000);
    expect(retryDelayMs(100_000, 0)).toBe(5000);
  });

  it('keeps a certificate valid for a year until two thirds of its life are gone, not renewing it at once', async () => {
    // Node fires a timer longer than 2^31-1 ms (24.8 days) after 1 ms (TimeoutOverflowWarning): a one-year
    // certificate (243 days to renewal) was renewed in a loop, every request a login and a signing at the CA.
    const options = parseServerOptions([
      '--port', '0', '--tls-dcos-service-account', ca.secretFile, '--tls-hosts', VIP, '--tls-dcos-ca-url', `${ca.router.url}/ca/api/v2`,
    ]) as ServerOptions; // biome-ignore format: flags
    const calls: string[] = [];
    const counting: typeof fetch = (input, init) => {
      calls.push(String(input instanceof Request ? input.url : input));
      return fetch(input, init);
    };
    const tls = (await startTls(options, { fetch: counting, now: Date.now }))!;
    const life = tls.current.notAfter - tls.current.obtainedAt;
    expect(life).toBeGreaterThan(2 ** 31);
    const atStart = calls.length;
    let applied = 0;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      tls.keepFresh(() => applied++);
      vi.advanceTimersByTime(60_000);
    } finally {
      vi.useRealTimers();
    }
    // A renewal started by the advance above would have reached the CA (a local double) by now.
    await new Promise((resolve) => setTimeout(resolve, 500));
    tls.stop();
    expect({ requests: calls.slice(atStart), applied }).toEqual({ requests: [], applied: 0 });
  });

  it('waits out delays longer than one Node timer allows, then fires once', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const fired = vi.fn();
      const days243 = 243 * 86_400_000;
      setLongTimeout(fired, days243);
      vi.advanceTimersByTime(days243 - 1);
      expect(fired).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(fired).toHaveBeenCalledTimes(1);
      vi.advanceTimersByTime(days243);
      expect(fired).toHaveBeenCalledTimes(1);
      const cancelled = vi.fn();
      setLongTimeout(cancelled, days243).clear();
      vi.advanceTimersByTime(2 * days243);
      expect(cancelled).not.toHaveBeenCalled();
    } finally {
      vi.useRealTimers();
    }
  });

  it('hands a new certificate to the running server: new connections get it, no restart', async () => {
    const options = parseServerOptions([
      '--port', '0', '--tls-dcos-service-account', ca.secretFile, '--tls-hosts', VIP, '--tls-dcos-ca-url', `${ca.router.url}/ca/api/v2`,
    ]) as ServerOptions; // biome-ignore format: flags
    let renewals = 0;
    let renewed!: () => void;
    const done = new Promise<void>((resolve) => (renewed = resolve));
    const tls = (await startTls(options, { fetch, now: Date.now, renewalDelay: () => (renewals++ === 0 ? 10 : 3_600_000) }))!;
    // No request reaches the registry: a filesystem one under a directory that is never created.
    const registry = createRegistry(parseConfig({ REGISTRY_STORAGE: `file:${join(tmpdir(), `tls-no-store-${process.pid}`)}` }));
    const server = createRegistryServer(options, registry, tls.current);
    const { port } = await server.listen();
    try {
      const first = await presented(port);
      expect(first.serialNumber).toBe(tls.current.serial);
      tls.keepFresh((material) => {
        server.setSecureContext(material);
        renewed();
      });
      await done;
      const second = await presented(port);
      expect(second.serialNumber).not.toBe(first.serialNumber);
      expect(second.checkHost(VIP)).toBe(VIP);
      expect(tls.current.serial).toBe(second.serialNumber);
    } finally {
      tls.stop();
      await server.shutdown();
    }
  });
});

describe('server flags', () => {
  it('turn on the DC/OS certificate with the names it must carry', () => {
    expect(parseServerOptions(['--tls-dcos-service-account', 's.json', '--tls-hosts', `${VIP.toUpperCase()}, b.example`])).toMatchObject({
      dcosTls: { serviceAccountFile: 's.json', hosts: [VIP, 'b.example'], caUrl: undefined },
      tls: undefined,
    });
  });

  it('refuse incomplete or conflicting TLS settings, naming the flag', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--tls-dcos-service-account', 's.json'], /--tls-hosts: is needed with --tls-dcos-service-account/],
      [['--tls-hosts', VIP], /--tls-hosts: needs --tls-dcos-service-account/],
      [['--tls-dcos-service-account', 's.json', '--tls-hosts', '/my/custom'], /not a DNS name/],
      [['--tls-dcos-service-account', 's.json', '--tls-hosts', VIP, '--tls-dcos-ca-url', 'master'], /--tls-dcos-ca-url: must be an http/],
      [['--tls-dcos-service-account', 's.json', '--tls-hosts', VIP, '--tls-cert', 'c', '--tls-key', 'k'], /two sources of one certificate/],
    ];
    for (const [flags, message] of cases) {
      expect(() => parseServerOptions(flags)).toThrow(OptionsError);
      expect(() => parseServerOptions(flags)).toThrow(message);
    }
  });
});
