/**
 * Authentication against real docker-registry instances: htpasswd (Basic challenge) and token
 * auth (Bearer challenge) with a token realm served here that signs JWTs the registry verifies.
 * Credentials come from a temporary Docker config file, as `docker login` writes it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImagePullError } from '../../lib/docker/errors.js';
import { pullImage } from '../../lib/image-pull/pull.js';
import { memorySink } from './blob-sink.js';
import { startTokenServer, type TokenServer } from './fake-servers.js';
import { makeOciImage, pushWithSkopeo, skopeoInspectRaw, type TestImageLayout } from './make-image.js';
import { makeSigningCert, startRegistry, type RegistryProcess } from './registry-process.js';

let work: string;
let layout: TestImageLayout;

function dockerConfig(name: string, auths: Record<string, string>): string {
  const file = join(work, `${name}.json`);
  const entries = Object.fromEntries(
    Object.entries(auths).map(([host, userPass]) => [host, { auth: Buffer.from(userPass).toString('base64') }]),
  );
  writeFileSync(file, JSON.stringify({ auths: entries }));
  return file;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'pull-auth-'));
  layout = makeOciImage(join(work, 'image'), { tag: 't1' });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('htpasswd (Basic challenge)', () => {
  let registry: RegistryProcess;
  beforeAll(async () => {
    registry = await startRegistry({ kind: 'htpasswd', username: 'alice', password: 'wonder:land' });
    await pushWithSkopeo(layout, `${registry.host}/private/app:t1`, { creds: 'alice:wonder:land' });
  });
  afterAll(() => registry?.stop());

  it('pulls with credentials from the Docker config file', async () => {
    const sink = memorySink();
    const config = dockerConfig('basic-ok', { [`http://${registry.host}`]: 'alice:wonder:land' });
    const pulled = await pullImage(`${registry.host}/private/app:t1`, { ...sink, dockerConfigPath: config });
    expect(pulled.manifestDigest).toBe((await skopeoInspectRaw(`${registry.host}/private/app:t1`, 'alice:wonder:land')).digest);
    expect(sink.blobs.size).toBe(4);
  });

  it('says so when credentials are missing or wrong', async () => {
    const sink = memorySink();
    await expect(pullImage(`${registry.host}/private/app:t1`, sink)).rejects.toThrow(
      'registry requires credentials (Basic auth) and the Docker config has none for it',
    );
    const wrong = dockerConfig('basic-wrong', { [registry.host]: 'alice:guess' });
    await expect(pullImage(`${registry.host}/private/app:t1`, { ...sink, dockerConfigPath: wrong })).rejects.toThrow(
      'registry rejected the credentials from the Docker config',
    );
    expect(sink.calls).toHaveLength(0);
  });
});

describe('token auth (Bearer challenge)', () => {
  let registry: RegistryProcess;
  let tokens: TokenServer;
  const service = 'test-registry';
  beforeAll(async () => {
    const cert = makeSigningCert(work);
    tokens = await startTokenServer({
      users: { bob: 's3cret' },
      signing: { keyPem: readFileSync(cert.keyPath, 'utf8'), certDer: cert.certDer, issuer: 'test-issuer', service },
    });
    registry = await startRegistry({
      kind: 'token',
      realm: `${tokens.url}/token`,
      service,
      issuer: 'test-issuer',
      certPath: cert.certPath,
    });
    await pushWithSkopeo(layout, `${registry.host}/team/app:t1`, { creds: 'bob:s3cret' });
  });
  afterAll(async () => {
    await registry?.stop();
    await tokens?.close();
  });

  it('gets a pull-scoped token with Basic credentials from the Docker config and pulls', async () => {
    const before = tokens.issued.length;
    const sink = memorySink();
    // The realm is another host (another port): it gets credentials only from its own entry.
    const config = dockerConfig('token-ok', { [registry.host]: 'bob:s3cret', [tokens.host]: 'bob:s3cret' });
    const pulled = await pullImage(`${registry.host}/team/app:t1`, { ...sink, dockerConfigPath: config });
    expect(pulled.manifestDigest).toBe(layout.top.digest);
    expect(sink.blobs.size).toBe(4);
    const issued = tokens.issued.slice(before);
    expect(issued).toEqual([{ scope: ['repository:team/app:pull'], user: 'bob' }]); // one token for the whole pull
    const tokenRequest = tokens.requests.at(-1)!;
    expect(new URL(tokenRequest.url, 'http://x').searchParams.get('service')).toBe(service);
  });

  it('fails clearly without credentials or with wrong ones', async () => {
    const sink = memorySink();
    await expect(pullImage(`${registry.host}/team/app:t1`, sink)).rejects.toThrow('token service refused anonymous access');
    const wrong = dockerConfig('token-wrong', { [registry.host]: 'bob:nope', [tokens.host]: 'bob:nope' });
    const err = await pullImage(`${registry.host}/team/app:t1`, { ...sink, dockerConfigPath: wrong }).catch((e) => e);
    expect(err).toBeInstanceOf(ImagePullError);
    expect(err.message).toContain('token service rejected the credentials from the Docker config');
    expect(sink.calls).toHaveLength(0);
  });
});
