/**
 * The S3 driver as the registry builds it (lib/storage/s3-lazy.ts, issue 14): reads over node:http
 * with an SigV4 signer, the SDK loaded on first write. It passes the same conformance suite as the
 * SDK driver on the real test store (Ceph RGW), fails as the SDK driver fails (same error names,
 * same domain errors, same retries, StoreUnavailable past the deadline), finds credentials as the
 * SDK's chain does, and a bundle of it does not load the SDK until something writes.
 *
 * Settings: REGISTRY_TEST_S3_ENDPOINT, REGISTRY_TEST_S3_BUCKET, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_REGION (`source` the shared RGW's env). Without an endpoint the
 * store-backed tests fail: a driver never run against a store is not tested.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config';
import { NotFoundError, PreconditionFailedError, StoreUnavailableError } from '../../lib/errors';
import { createStorage } from '../../lib/registry';
import type { Storage } from '../../lib/storage/port';
import { StorageLayer, storageLayer } from '../../lib/storage/layer';
import { createS3Client, S3Storage } from '../../lib/storage/s3';
import { staticCredentials } from '../../lib/storage/s3-credentials';
import { LazyS3Storage } from '../../lib/storage/s3-lazy';
import { runProbe } from '../../lib/storage/probe';
import { bundleAsDeployed, LOADED_SOURCE, repoModule, runScript } from '../support/bundle';
import { storageConformance } from './conformance';

const ROOT = path.resolve(__dirname, '../..');
const endpoint = process.env.REGISTRY_TEST_S3_ENDPOINT;
const bucket = process.env.REGISTRY_TEST_S3_BUCKET ?? 'registry-test';
const region = process.env.AWS_REGION ?? 'us-east-1';
const runPrefix = `test-s3-lazy/${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'registry-s3-lazy-'));
}

describe('credentials found as the SDK chain finds them', () => {
  const keys = { AWS_ACCESS_KEY_ID: 'AKENV', AWS_SECRET_ACCESS_KEY: 'env-secret' };

  it('environment keys, with the session token', async () => {
    expect(await staticCredentials({ ...keys, AWS_SESSION_TOKEN: 'tok' })).toEqual({
      accessKeyId: 'AKENV',
      secretAccessKey: 'env-secret',
      sessionToken: 'tok',
    });
  });

  it('AWS_PROFILE skips the environment and reads the shared credentials file, over the config file', async () => {
    const dir = await tempDir();
    try {
      const credentialsFile = path.join(dir, 'credentials');
      const configFile = path.join(dir, 'config');
      await writeFile(
        credentialsFile,
        "[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = default-secret\n\n# the app's\n[registry]\naws_access_key_id=AKFILE\naws_secret_access_key = file-secret\n",
      );
      await writeFile(
        configFile,
        '[profile registry]\nregion = eu-west-1\naws_session_token = cfg-token\n[profile other]\naws_access_key_id = AKCFG\naws_secret_access_key = cfg-secret\n',
      );
      const env = { ...keys, AWS_SHARED_CREDENTIALS_FILE: credentialsFile, AWS_CONFIG_FILE: configFile };
      expect(await staticCredentials({ ...env, AWS_PROFILE: 'registry' })).toEqual({
        accessKeyId: 'AKFILE',
        secretAccessKey: 'file-secret',
        sessionToken: 'cfg-token',
      });
      expect(await staticCredentials({ ...env, AWS_PROFILE: 'other' })).toEqual({ accessKeyId: 'AKCFG', secretAccessKey: 'cfg-secret' });
      // No AWS_PROFILE and no environment keys: the default profile.
      expect(await staticCredentials({ AWS_SHARED_CREDENTIALS_FILE: credentialsFile, AWS_CONFIG_FILE: configFile })).toEqual({
        accessKeyId: 'AKDEFAULT',
        secretAccessKey: 'default-secret',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('assume-role, SSO and process profiles, and no keys at all, are left to the SDK provider', async () => {
    const dir = await tempDir();
    try {
      const credentialsFile = path.join(dir, 'credentials');
      await writeFile(
        credentialsFile,
        '[role]\naws_access_key_id = AK\naws_secret_access_key = s\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = base\n' +
          '[sso]\nsso_session = corp\n[proc]\ncredential_process = /bin/true\n',
      );
      const files = { AWS_SHARED_CREDENTIALS_FILE: credentialsFile, AWS_CONFIG_FILE: path.join(dir, 'absent') };
      for (const profile of ['role', 'sso', 'proc', 'missing']) {
        expect(await staticCredentials({ ...files, AWS_PROFILE: profile })).toBeUndefined();
      }
      expect(await staticCredentials(files)).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('without static keys, reads use the SDK provider: container credentials from the ECS endpoint', async () => {
    // The ECS credentials endpoint cannot run here: a double that checks the documented request
    // (GET on the full URI, the Authorization token as given) and answers the documented shape.
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.setHeader('content-type', 'application/json');
      const expiration = new Date(Date.now() + 3600_000).toISOString();
      res.end(JSON.stringify({ AccessKeyId: 'AKECS', SecretAccessKey: 'ecs-secret', Token: 'ecs-token', Expiration: expiration }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const dir = await tempDir();
    const saved = { ...process.env };
    try {
      const port = (server.address() as net.AddressInfo).port;
      // The SDK's provider reads process.env; this driver's own lookup reads `env`.
      for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE']) delete process.env[k];
      Object.assign(process.env, {
        AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'none'),
        AWS_CONFIG_FILE: path.join(dir, 'none'),
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${port}/v2/credentials/task`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: 'ecs-auth',
      });
      const storage = new LazyS3Storage({
        settings: { endpoint: 'http://127.0.0.1:9', region: 'us-east-1', forcePathStyle: true },
        bucket: 'b',
        prefix: '',
        env: { ...process.env },
      });
      const url = new URL(await storage.signGet('k', { expiresIn: 60, origin: 'http://x' }));
      expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^AKECS\//);
      expect(url.searchParams.get('X-Amz-Security-Token')).toBe('ecs-token');
      expect(seen).toEqual(['GET /v2/credentials/task ecs-auth']);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('failures as the SDK driver has them', () => {
  /** A store double that answers every request with `status` and an S3 error body, counting requests. */
  async function failingStore(status: number, code: string): Promise<{ url: string; count: () => number; close: () => void }> {
    let n = 0;
    const server = http.createServer((req, res) => {
      n++;
      res.statusCode = status;
      res.setHeader('content-type', 'application/xml');
      res.end(req.method === 'HEAD' ? undefined : `<?xml version="1.0"?><Error><Code>${code}</Code><Message>m</Message></Error>`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, count: () => n, close: () => server.close() };
  }
  const credentials = { accessKeyId: 'a', secretAccessKey: 'b' };
  const lazy = (url: string, callTimeoutMs = 5000) =>
    new LazyS3Storage({
      settings: { endpoint: url, region: 'us-east-1', forcePathStyle: true, connectTimeoutMs: 1000, idleTimeoutMs: 2000 },
      bucket: 'b',
      prefix: '',
      callTimeoutMs,
      credentials: async () => credentials,
    });
  const sdk = (url: string) =>
    new S3Storage({
      client: createS3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials }),
      bucket: 'b',
      prefix: '',
    });

  it('a 5xx is retried as often as the SDK retries it, then surfaces with the same name and status', async () => {
    const store = await failingStore(500, 'InternalError');
    try {
      const viaSdk = await sdk(store.url)
        .get('k')
        .catch((e: unknown) => e);
      const sdkCount = store.count();
      const viaHttp = await lazy(store.url)
        .get('k')
        .catch((e: unknown) => e);
      expect(sdkCount).toBe(3);
      expect(store.count() - sdkCount).toBe(sdkCount);
      const shape = (e: unknown) => ({
        name: (e as Error).name,
        status: (e as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode,
      });
      expect(shape(viaHttp)).toEqual(shape(viaSdk));
    } finally {
      store.close();
    }
  });

  it('a 403 is not retried and keeps its S3 code', async () => {
    const store = await failingStore(403, 'AccessDenied');
    try {
      const err = await lazy(store.url)
        .get('k')
        .catch((e: unknown) => e);
      expect((err as Error).name).toBe('AccessDenied');
      expect(store.count()).toBe(1);
      await expect(lazy(store.url).head('k')).rejects.toMatchObject({ name: 'Forbidden', $metadata: { httpStatusCode: 403 } });
    } finally {
      store.close();
    }
  });

  it('a store that accepts and never answers fails with StoreUnavailable, reads and heads alike', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const s = lazy(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, 300);
      for (const call of [() => s.get('k'), () => s.getIfChanged('k', 'e'), () => s.head('k'), () => s.getStream('k')]) {
        await expect(call()).rejects.toBeInstanceOf(StoreUnavailableError);
      }
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  });
});

if (!endpoint) {
  describe('S3 driver with the SDK-free read path', () => {
    it('needs a real S3 server', () => {
      throw new Error('REGISTRY_TEST_S3_ENDPOINT is not set: source the test RGW env (scripts/rgw.sh env) or run `npm test`.');
    });
  });
} else {
  const made: Storage[] = [];
  let counter = 0;
  /** Built as the registry builds it: from the configuration, through createStorage. */
  const make = (): Storage => {
    const storage = createStorage(
      parseConfig({
        REGISTRY_STORAGE: `s3://${bucket}/${runPrefix}/${++counter}`,
        REGISTRY_S3_ENDPOINT: endpoint,
        REGISTRY_S3_REGION: region,
        REGISTRY_S3_FORCE_PATH_STYLE: 'true',
        REGISTRY_S3_ETAG_FORM: 'unquoted',
      }),
    );
    made.push(storage);
    return storage;
  };

  afterAll(async () => {
    for (const storage of made) for (const o of await storage.list('')) await storage.delete(o.key);
  });

  it('the registry builds the SDK-free driver for s3:// storage', () => {
    const built = make();
    expect(built).toBeInstanceOf(StorageLayer);
    expect((built as StorageLayer).driver).toBeInstanceOf(LazyS3Storage);
  });

  storageConformance('s3 (SDK-free reads)', async () => ({ storage: make() }));

  describe('S3 driver with the SDK-free read path, on a real store', () => {
    it('reads with keys from AWS_PROFILE + AWS_SHARED_CREDENTIALS_FILE, as the Marathon app sets them', async () => {
      const dir = await tempDir();
      try {
        const file = path.join(dir, 'credentials');
        await writeFile(
          file,
          `[registry]\naws_access_key_id = ${process.env.AWS_ACCESS_KEY_ID}\naws_secret_access_key = ${process.env.AWS_SECRET_ACCESS_KEY}\n`,
        );
        const writer = make();
        await writer.put('from-profile', 'profile bytes');
        const reader = new LazyS3Storage({
          settings: { endpoint, region, forcePathStyle: true },
          bucket,
          prefix: `${runPrefix}/${counter}`,
          env: { AWS_PROFILE: 'registry', AWS_SHARED_CREDENTIALS_FILE: file, AWS_CONFIG_FILE: path.join(dir, 'absent') },
        });
        expect((await reader.get('from-profile')).body.toString()).toBe('profile bytes');
        // A wrong secret in the file is refused by the store, as the SDK's request would be.
        await writeFile(file, `[registry]\naws_access_key_id = ${process.env.AWS_ACCESS_KEY_ID}\naws_secret_access_key = wrong\n`);
        const wrong = new LazyS3Storage({
          settings: { endpoint, region, forcePathStyle: true },
          bucket,
          prefix: `${runPrefix}/${counter}`,
          env: { AWS_PROFILE: 'registry', AWS_SHARED_CREDENTIALS_FILE: file, AWS_CONFIG_FILE: path.join(dir, 'absent') },
        });
        await expect(wrong.get('from-profile')).rejects.toMatchObject({
          name: 'SignatureDoesNotMatch',
          $metadata: { httpStatusCode: 403 },
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('the capability probe finds the If-Match form the store accepts and switches writes to it', async () => {
      const s = new LazyS3Storage({
        settings: { endpoint, region, forcePathStyle: true },
        bucket,
        prefix: `${runPrefix}/probe-${++counter}`,
        etagForm: 'quoted', // RGW matches only the unquoted form
      });
      made.push(s);
      // Through the base layer, as createStorage builds it: the probe must see the driver's form.
      const verdict = await runProbe(storageLayer(s));
      expect(verdict).toMatchObject({ ok: true, createOnly: true, compareAndSwap: true, etagForm: 'unquoted' });
      expect(s.conditionalWrites.etagForm).toBe('unquoted');
      const { etag } = await s.put('swapped', 'v1');
      expect((await s.put('swapped', 'v2', { ifMatch: etag })).etag).not.toBe(etag);
    });

    it('the probe finds and switches the form through the upload relay too (REGISTRY_UPLOADS=proxy), as createStorage builds it', async () => {
      const storage = createStorage(
        parseConfig({
          REGISTRY_STORAGE: `s3://${bucket}/${runPrefix}/relayed-probe-${++counter}`,
          REGISTRY_S3_ENDPOINT: endpoint,
          REGISTRY_S3_REGION: region,
          REGISTRY_S3_FORCE_PATH_STYLE: 'true',
          REGISTRY_S3_ETAG_FORM: 'quoted', // RGW matches only the unquoted form
          REGISTRY_UPLOADS: 'proxy',
        }),
      );
      made.push(storage);
      expect(storage.urls?.servedBy).toBe('registry');
      const verdict = await runProbe(storage);
      expect(verdict).toMatchObject({ ok: true, createOnly: true, compareAndSwap: true, etagForm: 'unquoted' });
      const { etag } = await storage.put('swapped', 'v1');
      expect((await storage.put('swapped', 'v2', { ifMatch: etag })).etag).not.toBe(etag);
    });

    it('keys with spaces, pluses and non-ASCII are read back (path encoding matches the signature)', async () => {
      const s = make();
      const key = "blobs/a b+c=d&e'(f)*!~/ü€.tgz";
      await s.put(key, 'odd');
      expect((await s.get(key)).body.toString()).toBe('odd');
      expect((await s.head(key)).size).toBe(3);
      const url = await s.signGet(key, { expiresIn: 60, origin: 'http://x', filename: 'ü b.tgz', contentType: 'application/gzip' });
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/gzip');
      expect(await res.text()).toBe('odd');
    });

    it('a conditional GET answers null on the current etag, and NotFound/PreconditionFailed as the SDK driver', async () => {
      const s = make();
      const { etag } = await s.put('cond', 'v1');
      expect(await s.getIfChanged('cond', etag)).toBeNull();
      await expect(s.getIfChanged('absent', etag)).rejects.toBeInstanceOf(NotFoundError);
      await expect(s.put('cond', 'v2', { ifMatch: 'stale' })).rejects.toBeInstanceOf(PreconditionFailedError);
    });

    it('a bundle reads without loading the AWS SDK, and loads it on the first write', async () => {
      const dir = await tempDir();
      try {
        // The registry's storage bundled as serverless.yml bundles the functions: with the project's
        // esbuild plugins, which put the SDK half in its own file (functions/s3-sdk.js).
        const out = await bundleAsDeployed(
          dir,
          `import { createStorage } from ${repoModule('lib/registry')};\n` +
            `import { parseConfig } from ${repoModule('lib/config')};\n` +
            `import { AlreadyExistsError } from ${repoModule('lib/errors')};\n` +
            'export { AlreadyExistsError, createStorage, parseConfig };\n',
        );
        const outdir = path.dirname(out);
        // The handler's bundle holds none of the SDK; the chunk beside it does.
        expect((await readFile(out, 'utf8')).includes('S3ServiceException')).toBe(false);
        expect((await readFile(path.join(outdir, 's3-sdk.js'), 'utf8')).includes('S3ServiceException')).toBe(true);
        const script = `
          const { AlreadyExistsError, createStorage, parseConfig } = require(${JSON.stringify(out)});
          const sdkLoaded = () => Object.keys(require.cache).some((k) => /[\\\\/](s3-sdk\\.js|node_modules[\\\\/]@(aws-sdk|smithy)[\\\\/])/.test(k));
          (async () => {
            const s = createStorage(parseConfig(JSON.parse(process.argv[1])));
            const seen = { start: sdkLoaded() };
            await s.get('probe').catch((e) => { if (e.type !== 'NotFound') throw e; });
            await s.head('probe').catch((e) => { if (e.type !== 'NotFound') throw e; });
            await s.getIfChanged('probe', 'x').catch((e) => { if (e.type !== 'NotFound') throw e; });
            await s.signGet('probe', { expiresIn: 60, origin: 'http://x' });
            seen.afterReads = sdkLoaded();
            await s.put('probe', 'written');
            seen.afterWrite = sdkLoaded();
            seen.read = (await s.get('probe')).body.toString();
            // Errors from the SDK half are the handler's own classes (one registry-errors.js).
            seen.sameClasses = await s.put('probe', 'again', { ifNoneMatch: '*' }).then(() => 'written', (e) => e instanceof AlreadyExistsError);
            process.stdout.write(JSON.stringify(seen));
          })().catch((e) => { console.error(e); process.exit(1); });`;
        const config = {
          REGISTRY_STORAGE: `s3://${bucket}/${runPrefix}/bundle`,
          REGISTRY_S3_ENDPOINT: endpoint,
          REGISTRY_S3_REGION: region,
          REGISTRY_S3_FORCE_PATH_STYLE: 'true',
        };
        const seen = JSON.parse(
          execFileSync(process.execPath, ['-e', script, JSON.stringify(config)], {
            cwd: ROOT,
            env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
            encoding: 'utf8',
          }),
        );
        expect(seen).toEqual({ start: false, afterReads: false, afterWrite: true, read: 'written', sameClasses: true });
      } finally {
        await rm(dir, { recursive: true, force: true });
        const s = createStorage(
          parseConfig({
            REGISTRY_STORAGE: `s3://${bucket}/${runPrefix}/bundle`,
            REGISTRY_S3_ENDPOINT: endpoint,
            REGISTRY_S3_FORCE_PATH_STYLE: 'true',
          }),
        );
        await s.delete('probe');
      }
    });

    it('a read function answers on S3 loading no lazy chunk and none of the built-ins it does not need; the SDK on a write only', async () => {
      const dir = await tempDir();
      const prefix = `${runPrefix}/health-bundle`;
      try {
        // The health function as deployed (its handler, and the process's registry for the write below).
        const out = await bundleAsDeployed(
          dir,
          `export { handler } from ${repoModule('functions/health')};\nexport { registry } from ${repoModule('lib/registry')};\n`,
        );
        // What a cold function must not pay for: TLS for an http:// store, the shared credentials files'
        // reader, middy's streamed responses, and the performance timeline.
        const unneeded = ['https', 'tls', 'fs/promises', 'stream/web', 'perf_hooks'];
        const script = `${LOADED_SOURCE}
          const { handler, registry } = require(${JSON.stringify(out)});
          const event = JSON.parse(process.argv[1]);
          (async () => {
            const seen = { start: loaded(${JSON.stringify(unneeded)}) };
            const answer = await handler(event, { awsRequestId: 'test', getRemainingTimeInMillis: () => 29000 });
            seen.status = answer.statusCode;
            seen.body = answer.body;
            seen.afterRead = loaded(${JSON.stringify(unneeded)});
            await registry().storage.put('probe', 'written');
            seen.afterWrite = loaded().chunks;
            process.stdout.write(JSON.stringify(seen));
          })().catch((e) => { console.error(e); process.exit(1); });`;
        const event = await readFile(path.join(ROOT, 'events/health.json'), 'utf8');
        const seen = await runScript(script, event, {
          PATH: process.env.PATH,
          AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
          AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
          REGISTRY_STORAGE: `s3://${bucket}/${prefix}`,
          REGISTRY_S3_ENDPOINT: endpoint,
          REGISTRY_S3_REGION: region,
          REGISTRY_S3_FORCE_PATH_STYLE: 'true',
          REGISTRY_LOG_LEVEL: 'error',
        });
        expect(endpoint.startsWith('http:')).toBe(true); // the https check below means something only then
        expect(seen).toEqual({
          start: { chunks: [], builtins: [] },
          status: 200,
          body: JSON.stringify({ checks: { '/repo': { Healthy: { message: 'Able to find 0 package(s).' } } } }),
          afterRead: { chunks: [], builtins: [] },
          afterWrite: ['s3-sdk.js'],
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
        await createStorage(
          parseConfig({
            REGISTRY_STORAGE: `s3://${bucket}/${prefix}`,
            REGISTRY_S3_ENDPOINT: endpoint,
            REGISTRY_S3_FORCE_PATH_STYLE: 'true',
          }),
        ).delete('probe');
      }
    });
  });
}
