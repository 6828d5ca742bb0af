/**
 * One private docker-registry (Debian's distribution 2.8 binary) per test file: random free port
 * on 127.0.0.1, its own temp storage, optional auth. Parallel test files never share state.
 *
 *   auth 'none'     → open registry
 *   auth 'htpasswd' → Basic challenge; bcrypt hash made with python3's crypt (no htpasswd binary here)
 *   auth 'token'    → Bearer challenge; the caller serves the realm (see token-server.ts) and signs
 *                     tokens with the key whose self-signed certificate is the root bundle
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DOCKER_REGISTRY_BIN = '/usr/bin/docker-registry';

export type RegistryAuth =
  | { kind: 'none' }
  | { kind: 'htpasswd'; username: string; password: string }
  | { kind: 'token'; realm: string; service: string; issuer: string; certPath: string };

export interface RegistryProcess {
  /** "127.0.0.1:PORT" */
  host: string;
  dir: string;
  stop(): Promise<void>;
  log(): string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function bcryptHash(password: string): string {
  const r = spawnSync(
    'python3',
    ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1<<5)))', password],
    {
      encoding: 'utf8',
    },
  );
  const hash = r.stdout.trim();
  if (r.status !== 0 || !hash.startsWith('$2')) throw new Error(`cannot make a bcrypt hash with python3 crypt: ${r.stderr}`);
  return hash;
}

/**
 * Self-signed RSA certificate + key (openssl is installed): token signing, or a TLS server
 * identity when `dnsName` is given (as subjectAltName, which TLS clients check).
 */
export function makeSigningCert(dir: string, dnsName?: string): { certPath: string; keyPath: string; certDer: Buffer } {
  const base = dnsName ? 'tls' : 'token';
  const certPath = join(dir, `${base}.crt`);
  const keyPath = join(dir, `${base}.key`);
  const subject = dnsName ? ['-subj', `/CN=${dnsName}`, '-addext', `subjectAltName=DNS:${dnsName}`] : ['-subj', '/CN=test-token-issuer'];
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', ...subject],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  const pem = readFileSync(certPath, 'utf8');
  const b64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return { certPath, keyPath, certDer: Buffer.from(b64, 'base64') };
}

function authYaml(auth: RegistryAuth, dir: string): string {
  switch (auth.kind) {
    case 'none':
      return '';
    case 'htpasswd': {
      const file = join(dir, 'htpasswd');
      writeFileSync(file, `${auth.username}:${bcryptHash(auth.password)}\n`);
      return `auth:\n  htpasswd:\n    realm: test-realm\n    path: ${file}\n`;
    }
    case 'token':
      return `auth:\n  token:\n    realm: ${auth.realm}\n    service: ${auth.service}\n    issuer: ${auth.issuer}\n    rootcertbundle: ${auth.certPath}\n`;
  }
}

export async function startRegistry(auth: RegistryAuth = { kind: 'none' }): Promise<RegistryProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'docker-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1
log:
  level: warn
  accesslog: { disabled: true }
storage:
  filesystem: { rootdirectory: ${join(dir, 'storage')} }
  maintenance:
    uploadpurging: { enabled: false }
http:
  addr: ${host}
  secret: test-only-not-secret
${authYaml(auth, dir)}`,
  );
  let output = '';
  const child: ChildProcess = spawn(DOCKER_REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${output}`);
    try {
      const res = await fetch(`http://${host}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`docker-registry did not answer on ${host}: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host,
    dir,
    log: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
