/**
 * Failure paths and transport features against tiny node:http servers: corrupted bytes, schema1,
 * transient errors and retries, blob redirects to another origin, an expiring bearer token, and
 * a forward proxy given to the HTTP client.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from '../../lib/net/http.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DigestMismatchError, ImagePullError } from '../../lib/docker/errors.js';
import * as mt from '../../lib/docker/media-types.js';
import { pullImage, type PullOptions, type PullProgress } from '../../lib/image-pull/pull.js';
import { memorySink } from './blob-sink.js';
import { startFakeRegistry, startForwardProxy, startServer, startTokenServer, type Hook, type Running } from './fake-servers.js';
import { makeOciImage, sha256, type TestImageLayout } from './make-image.js';
import { makeSigningCert } from './registry-process.js';

const REPO = 'fake/app';
const FAST_RETRY = { attempts: 4, baseDelayMs: 5, maxDelayMs: 50 };
let work: string;
let layout: TestImageLayout;
let registry: Running;
const hook: { current?: Hook } = {};
let ref: string;

const blobOf = (digest: string) => readFileSync(join(layout.dir, 'blobs', 'sha256', digest.slice(7)));
const image = () => layout.images[0]!;
const pull = (extra: Partial<PullOptions> & Pick<PullOptions, 'writeBlob'>) => pullImage(ref, { retry: FAST_RETRY, ...extra });

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'pull-faults-'));
  layout = makeOciImage(join(work, 'image'), { tag: 'v1', layerSizes: [1000, 200_000] });
  registry = await startFakeRegistry(layout, REPO, hook);
  ref = `${registry.host}/${REPO}:v1`;
});
afterEach(() => {
  hook.current = undefined;
  registry.requests.length = 0;
});
afterAll(async () => {
  await registry?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('verification', () => {
  it('pulls the layout unchanged when nothing is wrong', async () => {
    const sink = memorySink();
    const pulled = await pull(sink);
    expect(pulled.manifestDigest).toBe(layout.top.digest);
    expect(sink.blobs.size).toBe(4);
  });

  it('rejects a corrupted layer and the sink keeps nothing of it', async () => {
    const layer = image().layers[1]!;
    hook.current = (_req, res, path) => {
      if (!path.endsWith(layer.digest)) return false;
      const bytes = Buffer.from(blobOf(layer.digest));
      bytes[bytes.length >> 1] ^= 0xff; // same size, one bit pattern flipped
      res.writeHead(200, { 'content-length': String(bytes.length) }).end(bytes);
      return true;
    };
    const sink = memorySink();
    const err = await pull(sink).catch((e) => e);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect(err.message).toContain(`layer digest mismatch: expected ${layer.digest}, got sha256:`);
    expect(sink.blobs.has(layer.digest)).toBe(false);
    expect(sink.calls).toContainEqual({ digest: layer.digest, size: layer.size, ok: false });
    expect(sink.blobs.has(image().manifest.digest)).toBe(false); // the manifest is written last
    // A mismatch is not retried: exactly one GET of that blob.
    expect(registry.requests.filter((r) => r.url.endsWith(layer.digest))).toHaveLength(1);
  });

  it('rejects a layer longer than its descriptor without reading all of it', async () => {
    const layer = image().layers[0]!;
    hook.current = (_req, res, path) => {
      if (!path.endsWith(layer.digest)) return false;
      res.writeHead(200).end(Buffer.concat([blobOf(layer.digest), Buffer.alloc(10)]));
      return true;
    };
    await expect(pull(memorySink())).rejects.toThrow(`layer ${layer.digest} is larger than its ${layer.size} bytes`);
  });

  it('rejects a corrupted config', async () => {
    const config = image().config;
    hook.current = (_req, res, path) => {
      if (!path.endsWith(config.digest)) return false;
      res.writeHead(200).end(Buffer.from(blobOf(config.digest).toString().replace('amd64', 'arm64')));
      return true;
    };
    await expect(pull(memorySink())).rejects.toThrow(/config digest mismatch/);
  });

  it('rejects a manifest that does not match the digest it was asked for or the one the registry claims', async () => {
    const manifest = JSON.parse(blobOf(layout.top.digest).toString());
    const tampered = Buffer.from(JSON.stringify({ ...manifest, annotations: { evil: 'yes' } }));
    hook.current = (_req, res, path) => {
      if (!path.includes('/manifests/')) return false;
      res.writeHead(200, { 'content-type': mt.OCI_MANIFEST, 'docker-content-digest': layout.top.digest }).end(tampered);
      return true;
    };
    await expect(pull(memorySink())).rejects.toThrow(`manifest digest mismatch: expected ${layout.top.digest}, got ${sha256(tampered)}`);
    await expect(pullImage(`${registry.host}/${REPO}@${layout.top.digest}`, { ...memorySink(), retry: FAST_RETRY })).rejects.toThrow(
      DigestMismatchError,
    );
  });

  it('refuses schema1 manifests by content type and by content', async () => {
    hook.current = (_req, res, path) => {
      if (!path.includes('/manifests/')) return false;
      res.writeHead(200, { 'content-type': mt.DOCKER_SCHEMA1_SIGNED_MANIFEST }).end('{"schemaVersion":1,"fsLayers":[]}');
      return true;
    };
    await expect(pull(memorySink())).rejects.toThrow('schema1 is not supported');
    hook.current = (_req, res, path) => {
      if (!path.includes('/manifests/')) return false;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"schemaVersion":1,"name":"x","fsLayers":[]}');
      return true;
    };
    await expect(pull(memorySink())).rejects.toThrow('schema1 is not supported');
  });

  it('refuses descriptors whose digest could escape a URL path', async () => {
    const bad = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: mt.OCI_MANIFEST,
        config: { mediaType: mt.OCI_CONFIG, digest: 'sha256:../../etc', size: 2 },
        layers: [],
      }),
    );
    hook.current = (_req, res, path) => {
      if (!path.includes('/manifests/')) return false;
      res.writeHead(200, { 'content-type': mt.OCI_MANIFEST }).end(bad);
      return true;
    };
    await expect(pull(memorySink())).rejects.toThrow('config.digest "sha256:../../etc" is not a sha256 digest');
  });
});

describe('transient failures', () => {
  it('retries 503, 429 and connection resets, then succeeds', async () => {
    const layer = image().layers[1]!;
    const failures = ['503', '429', 'reset'];
    hook.current = (req, res, path) => {
      if (!path.endsWith(layer.digest) || failures.length === 0) return false;
      const kind = failures.shift()!;
      if (kind === 'reset') {
        // Headers and part of the body, then the socket dies mid-stream.
        res.writeHead(200, { 'content-length': String(layer.size) });
        res.write(blobOf(layer.digest).subarray(0, 1000), () => req.socket.destroy());
      } else {
        res.writeHead(Number(kind), { 'retry-after': '0' }).end('busy');
      }
      return true;
    };
    const sink = memorySink();
    const events: PullProgress[] = [];
    const pulled = await pull({ ...sink, onProgress: (e) => events.push(e) });
    expect(pulled.manifestDigest).toBe(layout.top.digest);
    expect(sha256(sink.blobs.get(layer.digest)!)).toBe(layer.digest);
    expect(events.filter((e) => e.kind === 'retry')).toHaveLength(3);
    expect(sink.calls.filter((c) => c.digest === layer.digest).map((c) => c.ok)).toEqual([false, true]);
  });

  it('gives up after the configured attempts with the last error', async () => {
    hook.current = (_req, res, path) => {
      if (!path.includes('/manifests/')) return false;
      res.writeHead(500).end('boom');
      return true;
    };
    const err = await pull(memorySink()).catch((e) => e);
    expect(err).toBeInstanceOf(ImagePullError);
    expect(err.message).toContain('answered HTTP 500: boom');
    expect(registry.requests.filter((r) => r.url.includes('/manifests/'))).toHaveLength(FAST_RETRY.attempts);
  });

  it('gives up on a registry that never answers instead of hanging', async () => {
    hook.current = (_req, _res, path) => path.includes('/manifests/'); // swallow the request, answer nothing
    const err = await pull({ ...memorySink(), responseTimeoutMs: 200, retry: { ...FAST_RETRY, attempts: 2 } }).catch((e) => e);
    expect(err).toBeInstanceOf(ImagePullError);
    expect(err.message).toContain(`no response from ${registry.url} within 200 ms`);
    expect(registry.requests.filter((r) => r.url.includes('/manifests/'))).toHaveLength(2);
  });

  it('does not retry a 404', async () => {
    await expect(pullImage(`${registry.host}/${REPO}:missing`, { ...memorySink(), retry: FAST_RETRY })).rejects.toThrow('not found');
    expect(registry.requests.filter((r) => r.url.includes('/manifests/'))).toHaveLength(1);
  });
});

describe('redirects and bearer tokens', () => {
  let storage: Running;
  let tokens: Awaited<ReturnType<typeof startTokenServer>>;
  let tokenCounter = 0;
  beforeAll(async () => {
    // "Object storage" on another origin serving blobs, as real registries redirect to S3.
    storage = await startServer((req, res) => {
      const digest = new URL(req.url ?? '/', 'http://x').pathname.slice(1);
      res.writeHead(200).end(blobOf(digest));
    });
    tokens = await startTokenServer({ users: { carol: 'pw' }, opaqueToken: () => `tok-${++tokenCounter}` });
  });
  afterAll(async () => {
    await storage?.close();
    await tokens?.close();
  });

  /** Bearer-protected registry: tokens older than the latest one issued are "expired". */
  const bearerHook =
    (expireFirstBlob: boolean): Hook =>
    (req, res, path) => {
      const challenge = `Bearer realm="${tokens.url}/token",service="fake",scope="repository:${REPO}:pull"`;
      const current = `Bearer tok-${tokenCounter}`;
      if (req.headers.authorization !== current || (expireFirstBlob && path.includes('/blobs/') && ((expireFirstBlob = false), true))) {
        res
          .writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json' })
          .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return true;
      }
      if (path.includes('/blobs/')) {
        res.writeHead(307, { location: `${storage.url}/${path.split('/').pop()}` }).end();
        return true;
      }
      return false;
    };

  it('follows blob redirects without sending the registry token to the other origin, and renews an expired token', async () => {
    const config = join(work, 'docker-config.json');
    const carol = { auth: Buffer.from('carol:pw').toString('base64') };
    // The token realm is another host: it gets carol's credentials from its own entry only.
    writeFileSync(config, JSON.stringify({ auths: { [registry.host]: carol, [tokens.host]: carol } }));
    hook.current = bearerHook(true);
    const before = tokens.issued.length;
    const sink = memorySink();
    const pulled = await pull({ ...sink, dockerConfigPath: config, concurrency: 1 });
    expect(pulled.manifestDigest).toBe(layout.top.digest);
    expect(sink.blobs.size).toBe(4);
    // One token at the ping, one more after the first blob answered 401.
    expect(tokens.issued.slice(before)).toEqual([
      { scope: [`repository:${REPO}:pull`], user: 'carol' },
      { scope: [`repository:${REPO}:pull`], user: 'carol' },
    ]);
    expect(tokens.requests.at(-1)!.headers.authorization).toBe(`Basic ${Buffer.from('carol:pw').toString('base64')}`);
    expect(storage.requests.map((r) => r.url.slice(1)).sort()).toEqual(
      [image().config.digest, ...image().layers.map((l) => l.digest)].sort(),
    );
    for (const r of storage.requests) expect(r.headers.authorization).toBeUndefined();
  });

  it('reports anonymous refusal by the token realm', async () => {
    hook.current = bearerHook(false);
    await expect(pull(memorySink())).rejects.toThrow('token service refused anonymous access');
  });
});

describe('proxies via the dispatcher', () => {
  let proxy: Running;
  beforeAll(async () => {
    proxy = await startForwardProxy();
  });
  afterAll(() => proxy?.close());

  it('forwards every request through HTTP_PROXY in absolute form', async () => {
    const http = new HttpClient({ httpProxy: proxy.url, noProxy: 'example.invalid' });
    const before = proxy.requests.length;
    try {
      const pulled = await pull({ ...memorySink(), http });
      expect(pulled.manifestDigest).toBe(layout.top.digest);
    } finally {
      http.close();
    }
    const seen = proxy.requests.slice(before).map((r) => `${r.method} ${r.url}`);
    // Absolute-form targets: the proxy, not the client, connected to the registry.
    expect(seen[0]).toBe(`GET ${registry.url}/v2/`);
    expect(seen).toContain(`GET ${registry.url}/v2/${REPO}/manifests/v1`);
    expect(seen.filter((u) => u.includes('/blobs/'))).toHaveLength(3);
    expect(seen).toHaveLength(registry.requests.length);
  });

  it('fails instead of hanging when the proxy never answers', async () => {
    const silent = await startServer(() => undefined);
    const http = new HttpClient({ httpProxy: silent.url });
    try {
      const err = await pull({ ...memorySink(), http, responseTimeoutMs: 300, retry: { ...FAST_RETRY, attempts: 1 } }).catch((e) => e);
      expect(err).toBeInstanceOf(ImagePullError);
      expect(err.message).toContain(`no response from ${registry.url} within 300 ms`);
      expect(registry.requests).toHaveLength(0);
    } finally {
      http.close();
      await silent.close();
    }
  });

  it('bypasses the proxy for NO_PROXY hosts', async () => {
    const http = new HttpClient({ httpProxy: proxy.url, noProxy: '127.0.0.1' });
    const before = proxy.requests.length;
    try {
      await pull({ ...memorySink(), http });
    } finally {
      http.close();
    }
    expect(proxy.requests.length).toBe(before);
    expect(registry.requests.length).toBe(5);
  });
});

describe('HTTPS with an extra CA', () => {
  let tlsRegistry: Running;
  let caFile: string;
  const NAME = 'registry.test';
  // Resolve the test name to loopback inside the connector only; a non-loopback name means HTTPS.
  const lookup = (_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) =>
    opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4);
  beforeAll(async () => {
    const cert = makeSigningCert(work, NAME);
    caFile = cert.certPath;
    tlsRegistry = await startFakeRegistry(layout, REPO, undefined, {
      key: readFileSync(cert.keyPath, 'utf8'),
      cert: readFileSync(caFile, 'utf8'),
    });
  });
  afterAll(() => tlsRegistry?.close());

  it('pulls over HTTPS when the client trusts the CA, and refuses when it does not', async () => {
    const ref = `${NAME}:${tlsRegistry.host.split(':')[1]}/${REPO}:v1`;
    const trusting = new HttpClient({ caFile, lookup: lookup as never });
    const untrusting = new HttpClient({ lookup: lookup as never });
    try {
      const pulled = await pullImage(ref, { ...memorySink(), http: trusting, retry: FAST_RETRY });
      expect(pulled.manifestDigest).toBe(layout.top.digest);
      expect(tlsRegistry.requests.length).toBe(5);
      await expect(pullImage(ref, { ...memorySink(), http: untrusting, retry: FAST_RETRY })).rejects.toThrow(/self[- ]signed certificate/);
    } finally {
      trusting.close();
      untrusting.close();
    }
  });
});
