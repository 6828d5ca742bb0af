/**
 * Upload targets and the registry's base URL behind a proxy (issue 13): the registry's own
 * /_store targets are references relative to its base, signed over what they grant and nothing
 * of the origin; X-Forwarded-Prefix moves the base only when the proxy is trusted, and only when
 * it is a plain absolute path (no dot segments, no CR/LF, nothing outside a path). Unit checks of
 * signing and originOf, then the production server (child processes, filesystem driver).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { originOf } from '../../lib/http/headers';
import { keys } from '../../lib/keys';
import { keyFromStorePath, signStoreUrl, verifyStoreRequest } from '../../lib/storage/signing';
import { type ServerProcess, startServer } from '../server/harness';
import { fileStore, type TestStore } from '../support/stores';
import { api, auth, targetUrl, testBundle } from '../support/upload';

const SECRET = Buffer.alloc(32, 9);
const HOST = { host: 'registry.example:8443' };
const trusted = { trustProxy: true, scheme: 'https' as const };
const untrusted = { trustProxy: false, scheme: 'https' as const };

describe('signed /_store targets relative to the registry base', () => {
  it('sign the same grant whatever the origin: a relative target resolved under any prefix verifies', () => {
    const params = { method: 'PUT' as const, key: keys.uploadBlob('u'.repeat(26), 'ab'.repeat(32)), expires: 2_000_000_000 };
    const relative = signStoreUrl(undefined, params, SECRET);
    expect(relative.startsWith('_store/uploads/')).toBe(true);
    expect(signStoreUrl('https://elsewhere.example/prefix', params, SECRET)).toBe(`https://elsewhere.example/prefix/${relative}`);
    for (const base of ['https://cluster.example/service/dcos-registry/', 'http://127.0.0.1:7600/']) {
      const url = targetUrl(base, relative);
      // What the registry receives once the proxy has stripped its prefix.
      const received = url.pathname.slice(new URL(base).pathname.length - 1);
      const key = keyFromStorePath(received)!;
      const grant = verifyStoreRequest({ method: 'PUT', key, query: Object.fromEntries(url.searchParams), secret: SECRET, now: 0 });
      expect(grant).toMatchObject({ kind: 'put', key: params.key });
    }
  });
});

describe('X-Forwarded-Prefix in the origin', () => {
  const origin = (prefix: string | undefined, s = trusted) =>
    originOf({ ...HOST, ...(prefix === undefined ? {} : { 'x-forwarded-prefix': prefix }) }, s);

  it('a trusted proxy sets the base path (trailing slash dropped, first of a list)', () => {
    expect(origin('/service/dcos-registry')).toBe('https://registry.example:8443/service/dcos-registry');
    expect(origin('/service/dcos-registry/')).toBe('https://registry.example:8443/service/dcos-registry');
    expect(origin('/a/b, /c')).toBe('https://registry.example:8443/a/b');
    expect(origin('/caf%C3%A9')).toBe('https://registry.example:8443/caf%C3%A9');
    expect(origin(undefined)).toBe('https://registry.example:8443');
    expect(originOf({ ...HOST, 'x-forwarded-host': 'public.example', 'x-forwarded-prefix': '/r' }, trusted)).toBe(
      'https://public.example/r',
    );
  });

  it('is ignored, never an error, when it is not a plain absolute path', () => {
    const hostile = [
      'service/dcos-registry',
      '/',
      '/../admin',
      '/service/..',
      '/a/./b',
      '/a/%2e%2e/b',
      '/a/%2E/b',
      '/a/%2fb',
      '/a%5cb',
      '/a%zz',
      '//evil.example/x',
      'https://evil.example/x',
      '/a\r\nSet-Cookie: x=1',
      '/a\nb',
      '/a b',
      '/a?b=1',
      '/a#b',
      '/a\\b',
      '/a%00b',
      `/${'a'.repeat(2000)}`,
    ];
    for (const p of hostile) expect(origin(p), JSON.stringify(p)).toBe('https://registry.example:8443');
  });

  it('is ignored without a trusted proxy, and when REGISTRY_PUBLIC_URL is set', () => {
    expect(origin('/service/dcos-registry', untrusted)).toBe('https://registry.example:8443');
    expect(origin('/service/dcos-registry', { ...trusted, publicUrl: 'https://vip.example' } as never)).toBe('https://vip.example');
  });
});

describe('through the production server (filesystem driver)', () => {
  const servers: ServerProcess[] = [];
  const stores: TestStore[] = [];

  async function serve(trustProxy: boolean): Promise<string> {
    const store = await fileStore();
    stores.push(store);
    const server = await startServer({ env: { ...store.env, REGISTRY_TRUST_PROXY: String(trustProxy) }, flags: ['--schedules', 'off'] });
    servers.push(server);
    return server.url;
  }

  let trustedUrl: string;
  let untrustedUrl: string;
  beforeAll(async () => {
    [trustedUrl, untrustedUrl] = await Promise.all([serve(true), serve(false)]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await Promise.all(stores.map((s) => s.cleanup()));
  });

  const ui = async (url: string, prefix: string) =>
    (await fetch(`${url}/`, { headers: { accept: 'text/html', 'x-forwarded-prefix': prefix }, redirect: 'manual' })).headers.get(
      'location',
    );

  it('the / redirect to the web catalog names the prefix a trusted proxy sends, and only then', async () => {
    expect(await ui(trustedUrl, '/service/dcos-registry')).toBe(`${trustedUrl}/service/dcos-registry/ui/`);
    expect(await ui(trustedUrl, '/x/../../admin')).toBe(`${trustedUrl}/ui/`);
    expect(await ui(untrustedUrl, '/service/dcos-registry')).toBe(`${untrustedUrl}/ui/`);
  });

  it('upload targets stay relative whatever the forwarding headers say', async () => {
    for (const url of [trustedUrl, untrustedUrl]) {
      const bundle = testBundle(`tgt-${randomBytes(3).toString('hex')}`, '1.0.0', { 'a.bin': randomBytes(100) });
      const started = await api(
        url,
        'POST',
        '/uploads',
        { manifest: bundle.manifest },
        {
          ...auth,
          'x-forwarded-prefix': '/service/dcos-registry',
          'x-forwarded-host': 'evil.example',
        },
      );
      expect(started.status).toBe(201);
      const target: string = started.json.blobs.find((b: any) => b.upload).upload.url;
      expect(target).toMatch(/^_store\/uploads\//);
      const put = await fetch(targetUrl(url, target), {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: bundle.blobs.get(started.json.blobs.find((b: any) => b.upload).digest),
      });
      expect(put.status).toBe(200);
    }
  });
});
