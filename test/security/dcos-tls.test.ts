/**
 * The DC/OS certificate path cannot be talked into serving a wrong certificate or leaking the
 * service account's key: a CA answer for another host or another key is refused; a service
 * account the IAM rejects stops the deployed app at start with the IAM's reason and without
 * the key in its output; the login JWT is short-lived.
 */
import { describe, expect, it } from 'vitest';
import { newCertificateRequest } from '../../lib/dcos/csr';
import { LOGIN_TOKEN_TTL_S } from '../../lib/dcos/login';
import { obtainDcosCertificate } from '../../server/tls';
import { dcosCaForFile, REGISTRY_VIP as VIP, serviceAccount } from '../dcos/doubles';
import { launch } from '../dcos/launch';
import { render } from '../dcos/render';
import { serverBundle } from '../server/harness';

const account = serviceAccount();
const ca = dcosCaForFile(account);

/** fetch that rewrites the sign request on its way to the CA, as a confused or hostile CA path could. */
const tampering =
  (rewrite: (body: Record<string, unknown>) => Record<string, unknown>): typeof fetch =>
  (input, init) => {
    if (String(input).endsWith('/sign') && typeof init?.body === 'string')
      return fetch(input, { ...init, body: JSON.stringify(rewrite(JSON.parse(init.body))) });
    return fetch(input, init);
  };

describe('the certificate from the DC/OS CA', () => {
  it('is refused when it names another host', async () => {
    const f = tampering((b) => ({ ...b, hosts: ['evil.example'] }));
    await expect(obtainDcosCertificate({ serviceAccountFile: ca.secretFile, hosts: [VIP] }, { fetch: f, now: Date.now })).rejects.toThrow(
      `the DC/OS CA returned a certificate that does not name ${VIP}`,
    );
  });

  it('is refused when it is for another key than the one made here', async () => {
    const other = newCertificateRequest([VIP]).csrPem;
    const f = tampering((b) => ({ ...b, certificate_request: other }));
    await expect(obtainDcosCertificate({ serviceAccountFile: ca.secretFile, hosts: [VIP] }, { fetch: f, now: Date.now })).rejects.toThrow(
      'the DC/OS CA returned a certificate for another key',
    );
  });

  it('comes with a login token that expires within minutes', () => {
    expect(LOGIN_TOKEN_TTL_S).toBeLessThanOrEqual(300);
  });
});

describe('the deployed app with a service account the IAM rejects', () => {
  it('stops at start with the reason, and its output never holds the key', async () => {
    const stranger = serviceAccount(); // right uid, wrong key
    const app = render();
    const error = await launch(app, {
      secrets: { 'dcos-registry-secret': stranger.secret(ca.router.loginEndpoint) },
      bundle: await serverBundle(),
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/the app exited \(1\) before listening/);
    expect(error?.message).toMatch(
      /DC\/OS login as "registry-account" at http:\/\/127\.0\.0\.1:\d+\/acs\/api\/v1\/auth\/login failed: HTTP 401/,
    );
    expect(error?.message).not.toMatch(/PRIVATE KEY|MII/);
  }, 120_000);
});
