/**
 * JWT writers (lib/auth/jwt.ts) against a local JWKS server, with tokens signed by jose: what
 * DC/OS IAM issues (RS256, `uid`, `exp`) and what OIDC issuers issue (`sub`, `iss`, `aud`).
 * The refresh interval runs on a test clock, so nothing here depends on timing.
 */
import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwtVerifier } from '../../lib/auth/jwt';
import { ConfigError, parseConfig, type JwtConfig } from '../../lib/config';
import { bundleAsDeployed, LOADED_SOURCE, repoModule, runScript } from '../support/bundle';
import { dcosToken, type JwksServer, type KeyPair, publicJwk, rsaKeyPair, startJwksServer } from './jwks';

let jwks: JwksServer;
let jwksUrl: string;
let k1: KeyPair;
let k2: KeyPair;
let other: KeyPair;

beforeAll(async () => {
  [k1, k2, other] = await Promise.all([1, 2, 3].map(() => rsaKeyPair()));
  jwks = await startJwksServer();
  jwks.keys = [await publicJwk(k1, { kid: 'k1', alg: 'RS256', use: 'sig' })];
  jwksUrl = jwks.url;
});
afterAll(() => jwks.close());

const cfg = (over: Partial<JwtConfig> = {}): JwtConfig => ({
  jwksUrl,
  writers: ['alice', 'ci-bot'],
  refreshIntervalMs: 60_000,
  maxAgeMs: 3600_000,
  timeoutMs: 2000,
  ...over,
});

const b64url = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const exp = () => Math.floor(Date.now() / 1000) + 300;

describe('JWT writers', () => {
  it('a DC/OS token (RS256, uid, exp) of a listed writer is accepted; its subject is the uid', async () => {
    const v = new JwtVerifier(cfg());
    expect(await v.verify(await dcosToken(k1, 'k1'))).toEqual({ subject: 'alice' });
  });

  it('a valid token of a user not in REGISTRY_WRITERS, and any token when no writer is listed, are refused', async () => {
    expect(await new JwtVerifier(cfg()).verify(await dcosToken(k1, 'k1', { uid: 'mallory' }))).toBeUndefined();
    expect(await new JwtVerifier(cfg({ writers: [] })).verify(await dcosToken(k1, 'k1'))).toBeUndefined();
  });

  it('OIDC: sub when there is no uid, with issuer and audience checked', async () => {
    const v = new JwtVerifier(cfg({ issuer: 'https://idp.example', audience: 'dcos-registry' }));
    const token = (iss: string, aud: string) =>
      new SignJWT({ sub: 'ci-bot' })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(iss)
        .setAudience(aud)
        .setExpirationTime('5m')
        .sign(k1.privateKey);
    expect(await v.verify(await token('https://idp.example', 'dcos-registry'))).toEqual({ subject: 'ci-bot' });
    expect(await v.verify(await token('https://idp.example', 'another-app'))).toBeUndefined();
    expect(await v.verify(await token('https://evil.example', 'dcos-registry'))).toBeUndefined();
  });

  it('expired, or without exp: refused', async () => {
    const v = new JwtVerifier(cfg());
    expect(await v.verify(await dcosToken(k1, 'k1', { uid: 'alice' }, Math.floor(Date.now() / 1000) - 3600))).toBeUndefined();
    const noExp = await new SignJWT({ uid: 'alice' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(k1.privateKey);
    expect(await v.verify(noExp)).toBeUndefined();
  });

  it('signed with another key under a published kid: refused', async () => {
    expect(await new JwtVerifier(cfg()).verify(await dcosToken(other, 'k1'))).toBeUndefined();
  });

  it('wrong alg: `none`, and HS256 keyed with the public key (alg confusion), are refused', async () => {
    const v = new JwtVerifier(cfg());
    const payload = b64url({ uid: 'alice', exp: exp() });
    expect(await v.verify(`${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.`)).toBeUndefined();
    expect(await v.verify(`${b64url({ alg: 'none', kid: 'k1' })}.${payload}.`)).toBeUndefined();
    for (const secret of [JSON.stringify(jwks.keys[0]), String(jwks.keys[0].n)]) {
      const head = `${b64url({ alg: 'HS256', kid: 'k1', typ: 'JWT' })}.${payload}`;
      const sig = createHmac('sha256', secret).update(head).digest('base64url');
      expect(await v.verify(`${head}.${sig}`)).toBeUndefined();
    }
    expect(await v.verify('not-a-jwt')).toBeUndefined();
  });

  it('unknown kid: one JWKS refetch picks up a rotated key; unknown kids refetch at most once per interval', async () => {
    let now = 1_000_000;
    const v = new JwtVerifier(cfg(), { now: () => now });
    expect(await v.verify(await dcosToken(k1, 'k1'))).toEqual({ subject: 'alice' });
    expect(v.fetches).toBe(1);

    // The issuer rotates: k2 is published; a k2 token makes the verifier refetch at once.
    now += 60_000;
    jwks.keys = [...jwks.keys, await publicJwk(k2, { kid: 'k2', alg: 'RS256' })];
    expect(await v.verify(await dcosToken(k2, 'k2'))).toEqual({ subject: 'alice' });
    expect(v.fetches).toBe(2);

    // A flood of tokens with kids nobody publishes: one fetch per interval, not one per token.
    now += 60_000;
    const before = jwks.hits;
    for (let i = 0; i < 20; i++) expect(await v.verify(await dcosToken(other, `bogus-${i}`))).toBeUndefined();
    expect(v.fetches).toBe(3);
    expect(jwks.hits - before).toBe(1);
    now += 59_999;
    expect(await v.verify(await dcosToken(other, 'bogus-x'))).toBeUndefined();
    expect(v.fetches).toBe(3);
    now += 1;
    expect(await v.verify(await dcosToken(other, 'bogus-y'))).toBeUndefined();
    expect(v.fetches).toBe(4);
    // Known kids never wait for a fetch.
    expect(await v.verify(await dcosToken(k1, 'k1'))).toEqual({ subject: 'alice' });
    expect(v.fetches).toBe(4);
  });

  it('JWKS unreachable: cached keys keep verifying, everything else is refused (fail closed)', async () => {
    let now = 5_000_000;
    const v = new JwtVerifier(cfg({ maxAgeMs: 120_000 }), { now: () => now });
    expect(await v.verify(await dcosToken(k1, 'k1'))).toEqual({ subject: 'alice' });
    jwks.down = true;
    try {
      now += 60_000;
      expect(await v.verify(await dcosToken(k2, 'k2-new'))).toBeUndefined();
      // Past the cache's maximum age, the refetch fails: the cached key still serves.
      now += 200_000;
      expect(await v.verify(await dcosToken(k1, 'k1'))).toEqual({ subject: 'alice' });
      expect(await v.verify(await dcosToken(other, 'k1'))).toBeUndefined();
      // A verifier that never reached the JWKS accepts nothing.
      expect(await new JwtVerifier(cfg()).verify(await dcosToken(k1, 'k1'))).toBeUndefined();
      const warnings: string[] = [];
      const closed = new JwtVerifier(cfg({ jwksUrl: 'http://127.0.0.1:1/jwks' }), { warn: (msg) => warnings.push(msg) });
      expect(await closed.verify(await dcosToken(k1, 'k1'))).toBeUndefined();
      expect(warnings).toEqual(['jwks.fetch-failed']);
    } finally {
      jwks.down = false;
    }
  });
});

describe('JWT configuration', () => {
  it('REGISTRY_JWKS_URL and friends parse into config().jwt; bad values name the variable', () => {
    expect(parseConfig({}).jwt).toBeUndefined();
    const c = parseConfig({
      REGISTRY_JWKS_URL: 'https://master.mesos/acs/api/v1/auth/jwks',
      REGISTRY_WRITERS: 'alice, ci-bot',
      REGISTRY_JWKS_REFRESH_SECONDS: '30',
    });
    expect(c.jwt).toMatchObject({
      jwksUrl: 'https://master.mesos/acs/api/v1/auth/jwks',
      writers: ['alice', 'ci-bot'],
      refreshIntervalMs: 30_000,
    });
    expect(() => parseConfig({ REGISTRY_WRITERS: 'alice' })).toThrow(ConfigError);
    expect(() => parseConfig({ REGISTRY_JWKS_URL: 'ftp://x' })).toThrow(/REGISTRY_JWKS_URL/);
    expect(() => parseConfig({ REGISTRY_JWKS_URL: 'https://x', REGISTRY_JWKS_REFRESH_SECONDS: '0' })).toThrow(
      /REGISTRY_JWKS_REFRESH_SECONDS/,
    );
  });
});

describe('JWT writers in the function bundles (issue 14: jose off the read path)', () => {
  it('jwt.js (the verifier and jose) is loaded when a JWT first arrives, not at start nor for a static token', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'jwt-bundle-'));
    try {
      const out = await bundleAsDeployed(
        dir,
        `export { authorizeWrite } from ${repoModule('lib/http/auth')};\nexport { config } from ${repoModule('lib/config')};\n`,
      );
      const script = `${LOADED_SOURCE}
        const bundle = require(${JSON.stringify(out)});
        const authorizeWrite = (headers) => bundle.authorizeWrite(bundle.config(), headers);
        const [jwt, forged] = JSON.parse(process.argv[1]);
        const refused = (p) => p.then(() => 'accepted', (e) => e.type);
        (async () => {
          const seen = { start: loaded().chunks };
          seen.staticToken = await authorizeWrite({ authorization: 'Bearer static-write-token-1' });
          seen.afterStatic = loaded().chunks;
          seen.noCredential = await refused(authorizeWrite({}));
          seen.afterNone = loaded().chunks;
          seen.jwt = await authorizeWrite({ authorization: 'Bearer ' + jwt });
          seen.afterJwt = loaded().chunks;
          seen.forged = await refused(authorizeWrite({ authorization: 'token=' + forged }));
          process.stdout.write(JSON.stringify(seen));
        })().catch((e) => { console.error(e); process.exit(1); });`;
      const tokens = [await dcosToken(k1, 'k1'), await dcosToken(other, 'k1')];
      const seen = await runScript(script, JSON.stringify(tokens), {
        PATH: process.env.PATH,
        REGISTRY_WRITE_TOKENS: 'static-write-token-1',
        REGISTRY_JWKS_URL: jwksUrl,
        REGISTRY_WRITERS: 'alice',
        REGISTRY_LOG_LEVEL: 'error',
      });
      expect(seen).toEqual({
        start: [],
        staticToken: { subject: 'token#1' },
        afterStatic: [],
        noCredential: 'Unauthorized',
        afterNone: [],
        jwt: { subject: 'alice' },
        afterJwt: ['jwt.js'],
        forged: 'Unauthorized',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
