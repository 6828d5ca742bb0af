/**
 * Where Docker credentials may go (issue 10.5; the containerd CVE-2020-15157 pattern): the Docker
 * config's credentials are for one registry host and go nowhere else: not to the target of a blob
 * redirect (a CDN or object store on another origin), not to a 401 challenge such a target
 * presents (its realm could be anyone's), and not to a token realm on another host unless the
 * Docker config has credentials for that host itself. Redirects: http(s) only, no https → http
 * downgrade without the flag, bounded.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from '../../lib/net/http.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadDockerCredentials } from '../../lib/image-pull/credentials.js';
import { ImagePullError } from '../../lib/docker/errors.js';
import { pullImage } from '../../lib/image-pull/pull.js';
import { memorySink } from './blob-sink.js';
import { type Hook, type Running, startFakeRegistry, startServer, startTokenServer, type TokenServer } from './fake-servers.js';
import { makeOciImage, type TestImageLayout } from './make-image.js';
import { makeSigningCert } from './registry-process.js';

const REPO = 'team/app';
const FAST_RETRY = { attempts: 2, baseDelayMs: 1, maxDelayMs: 5 };
const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;

let work: string;
let layout: TestImageLayout;
let registry: Running;
let cdn: Running;
let attacker: TokenServer;
const hook: { current?: Hook } = {};
const cdnHook: { current?: Hook } = {};
let ref: string;

function dockerConfig(name: string, auths: Record<string, string>): string {
  const file = join(work, `${name}.json`);
  writeFileSync(file, JSON.stringify({ auths: Object.fromEntries(Object.entries(auths).map(([h, up]) => [h, { auth: btoa(up) }])) }));
  return file;
}
const blobOf = (digest: string) => readFileSync(join(layout.dir, 'blobs', 'sha256', digest.slice(7)));

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'pull-redirects-'));
  layout = makeOciImage(join(work, 'image'), { tag: 'v1', layerSizes: [1000, 3000] });
  registry = await startFakeRegistry(layout, REPO, hook);
  ref = `${registry.host}/${REPO}:v1`;
  attacker = await startTokenServer({});
  cdn = await startServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (cdnHook.current?.(req, res, path)) return;
    res.writeHead(200).end(blobOf(path.slice(1)));
  });
});
afterEach(() => {
  hook.current = undefined;
  cdnHook.current = undefined;
  for (const s of [registry, cdn, attacker]) s.requests.length = 0;
});
afterAll(async () => {
  await Promise.all([registry?.close(), cdn?.close(), attacker?.close()]);
  rmSync(work, { recursive: true, force: true });
});

/** Registry behind Basic auth (alice:pw) whose blobs redirect to `target(digest)`. */
const basicRegistry =
  (target: (digest: string) => string): Hook =>
  (req, res, path) => {
    if (req.headers.authorization !== basic('alice:pw')) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"' }).end();
      return true;
    }
    if (path.includes('/blobs/')) {
      res.writeHead(307, { location: target(path.split('/').pop()!) }).end();
      return true;
    }
    return false;
  };

describe('credentials stay with their registry', () => {
  it('a blob redirect target on another origin gets no credentials', async () => {
    hook.current = basicRegistry((d) => `${cdn.url}/${d}`);
    const config = dockerConfig('alice', { [registry.host]: 'alice:pw' });
    const pulled = await pullImage(ref, { ...memorySink(), dockerConfigPath: config, retry: FAST_RETRY });
    expect(pulled.manifestDigest).toBe(layout.top.digest);
    expect(cdn.requests.length).toBe(3); // config + 2 layers
    for (const r of cdn.requests) expect(r.headers.authorization).toBeUndefined();
  });

  it('a redirect target answering 401 with its own challenge gets nothing: no token request to its realm (CVE-2020-15157)', async () => {
    hook.current = basicRegistry((d) => `${cdn.url}/${d}`);
    cdnHook.current = (_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${attacker.url}/token",service="evil"` }).end();
      return true;
    };
    const config = dockerConfig('alice-cve', { [registry.host]: 'alice:pw' });
    const err = await pullImage(ref, { ...memorySink(), dockerConfigPath: config, retry: FAST_RETRY }).catch((e) => e);
    expect(err).toBeInstanceOf(ImagePullError);
    expect(err.message).toMatch(new RegExp(`${cdn.url.replace(/[.]/g, '\\.')} answered 401 after a redirect from the registry`));
    expect(attacker.requests).toHaveLength(0);
    for (const r of cdn.requests) expect(r.headers.authorization).toBeUndefined();
  });

  describe('token realm on another host', () => {
    let tokens: TokenServer;
    beforeAll(async () => {
      tokens = await startTokenServer({ users: { bob: 'tok-pw' }, opaqueToken: () => 'granted' });
    });
    afterAll(() => tokens?.close());
    const bearer: Hook = (req, res) => {
      if (req.headers.authorization !== 'Bearer granted') {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${tokens.url}/token",service="svc"` }).end();
        return true;
      }
      return false;
    };

    it("never receives the registry's credentials; the refusal says how to give it its own", async () => {
      hook.current = bearer;
      const config = dockerConfig('registry-only', { [registry.host]: 'bob:tok-pw' });
      const err = await pullImage(ref, { ...memorySink(), dockerConfigPath: config, retry: FAST_RETRY }).catch((e) => e);
      expect(err).toBeInstanceOf(ImagePullError);
      expect(err.message).toContain(`token service refused anonymous access at ${tokens.host}`);
      expect(err.message).toContain(`the Docker config's credentials for ${registry.host} are not sent to ${tokens.host}`);
      expect(tokens.requests.length).toBeGreaterThan(0);
      for (const r of tokens.requests) expect(r.headers.authorization).toBeUndefined();
    });

    it('receives its own credentials when the Docker config has an entry for its host', async () => {
      hook.current = bearer;
      const config = dockerConfig('both', { [registry.host]: 'alice:not-this', [tokens.host]: 'bob:tok-pw' });
      const before = tokens.requests.length;
      const pulled = await pullImage(ref, { ...memorySink(), dockerConfigPath: config, retry: FAST_RETRY });
      expect(pulled.manifestDigest).toBe(layout.top.digest);
      expect(tokens.requests.slice(before).map((r) => r.headers.authorization)).toEqual([basic('bob:tok-pw')]);
    });
  });

  it("Docker Hub's token realm (auth.docker.io) counts as Docker Hub's own host", async () => {
    const config = dockerConfig('hub', { 'https://index.docker.io/v1/': 'hubuser:hubpw' });
    const lookup = await loadDockerCredentials(config);
    expect(lookup('auth.docker.io')).toEqual({ username: 'hubuser', password: 'hubpw' });
    expect(lookup('registry-1.docker.io')).toEqual({ username: 'hubuser', password: 'hubpw' });
    expect(lookup('auth.docker.io.evil.example')).toBeUndefined();
  });
});

describe('redirect rules', () => {
  it('follows only http and https', async () => {
    hook.current = (_req, res, path) => {
      if (!path.includes('/blobs/')) return false;
      res.writeHead(302, { location: 'file:///etc/passwd' }).end();
      return true;
    };
    await expect(pullImage(ref, { ...memorySink(), retry: FAST_RETRY })).rejects.toThrow(
      /redirected to file:\/\/\/etc\/passwd: only http and https redirects are followed/,
    );
  });

  it('bounds the number of redirects', async () => {
    hook.current = (req, res, path) => {
      if (!path.includes('/blobs/')) return false;
      res.writeHead(302, { location: req.url! }).end();
      return true;
    };
    await expect(pullImage(ref, { ...memorySink(), retry: FAST_RETRY })).rejects.toThrow(/more than 5 redirects/);
  });

  describe('from an HTTPS registry', () => {
    let tlsRegistry: Running;
    let http: HttpClient;
    const tlsHook: { current?: Hook } = {};
    const NAME = 'registry.test';
    const lookup = (_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) =>
      opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4);
    beforeAll(async () => {
      const cert = makeSigningCert(work, NAME);
      tlsRegistry = await startFakeRegistry(layout, REPO, tlsHook, {
        key: readFileSync(cert.keyPath, 'utf8'),
        cert: readFileSync(cert.certPath, 'utf8'),
      });
      http = new HttpClient({ caFile: cert.certPath, lookup: lookup as never });
    });
    afterAll(async () => {
      http?.close();
      await tlsRegistry?.close();
    });

    it('refuses a downgrade to plain http unless allowed', async () => {
      tlsHook.current = (_req, res, path) => {
        if (!path.includes('/blobs/')) return false;
        res.writeHead(307, { location: `${cdn.url}/${path.split('/').pop()}` }).end();
        return true;
      };
      const tlsRef = `${NAME}:${tlsRegistry.host.split(':')[1]}/${REPO}:v1`;
      await expect(pullImage(tlsRef, { ...memorySink(), http, retry: FAST_RETRY })).rejects.toThrow(
        /redirected from HTTPS to plain HTTP .*: refused; give --allow-https-downgrade/,
      );
      expect(cdn.requests).toHaveLength(0);
      const pulled = await pullImage(tlsRef, { ...memorySink(), http, retry: FAST_RETRY, allowHttpsDowngrade: true });
      expect(pulled.manifestDigest).toBe(layout.top.digest);
      expect(cdn.requests).toHaveLength(3);
    });
  });
});
