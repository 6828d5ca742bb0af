/**
 * Two registries in one process: every request is answered from the registry of the server
 * it reached (its store, its write tokens, its signing key, its audit log), never from a
 * process-wide one, and each registry's scheduled functions run on that registry.
 */
import fsp from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config';
import { keys } from '../../lib/keys';
import { createRegistry, type Registry } from '../../lib/registry';
import { parseServerOptions, type ServerOptions } from '../../server/options';
import { scheduledFunctions } from '../../server/schedules';
import { createRegistryServer, type RegistryServer } from '../../server/server';
import { TEST_TOKEN } from '../support/offline';
import { addBundle, api, sendBlobs, targetUrl, testBundle } from '../support/upload';

/** A token only the second registry accepts. */
const B_ONLY = 'second-registry-token-0123';

interface Served {
  dir: string;
  registry: Registry;
  server: RegistryServer;
  url: string;
}

async function serve(tokens: string): Promise<Served> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'registry-two-'));
  const registry = createRegistry(parseConfig({ REGISTRY_STORAGE: `file:${dir}`, REGISTRY_WRITE_TOKENS: tokens }), {
    streamsBodies: true,
  });
  const server = createRegistryServer(parseServerOptions(['--port', '0', '--schedules', 'off']) as ServerOptions, registry);
  const { port } = (await server.listen()) as AddressInfo;
  return { dir, registry, server, url: `http://127.0.0.1:${port}` };
}

const names = async (url: string) => ((await api(url, 'GET', '/package')).json.packages as Array<{ name: string }>).map((p) => p.name);

describe('two registries in one process', () => {
  let a: Served;
  let b: Served;

  beforeAll(async () => {
    a = await serve(TEST_TOKEN);
    // Built second: a process-wide registry would now be this one for both servers.
    b = await serve(`${TEST_TOKEN},${B_ONLY}`);
  });
  afterAll(async () => {
    for (const s of [a, b]) {
      await s?.server.shutdown();
      if (s) await fsp.rm(s.dir, { recursive: true, force: true });
    }
  });

  it('each server adds to and lists from its own store, and records its writes in its own audit log', async () => {
    expect((await addBundle(a.url, testBundle('alpha', '1.0.0', { 'a.bin': Buffer.from('alpha bytes') }))).status).toBe(200);
    expect((await addBundle(b.url, testBundle('beta', '1.0.0', { 'b.bin': Buffer.from('beta bytes') }))).status).toBe(200);
    expect(await names(a.url)).toEqual(['alpha']);
    expect(await names(b.url)).toEqual(['beta']);
    expect((await a.registry.catalog.read()).state.versions.map((v) => v.name)).toEqual(['alpha']);
    expect((await b.registry.catalog.read()).state.versions.map((v) => v.name)).toEqual(['beta']);
    const audited = async (url: string) =>
      new Set(((await api(url, 'GET', '/audit')).json.entries as Array<{ name?: string }>).map((e) => e.name));
    expect(await audited(a.url)).toEqual(new Set(['alpha']));
    expect(await audited(b.url)).toEqual(new Set(['beta']));
  });

  it("each server checks writers against its own registry's tokens", async () => {
    const other = { authorization: `Bearer ${B_ONLY}` };
    expect((await api(a.url, 'GET', '/audit', undefined, other)).status).toBe(401);
    expect((await api(b.url, 'GET', '/audit', undefined, other)).status).toBe(200);
  });

  it("each server's signed /_store URLs are its own: the other server refuses them", async () => {
    const bundle = testBundle('gamma', '1.0.0', { 'g.bin': Buffer.from('gamma bytes') });
    const started = await api(a.url, 'POST', '/uploads', { manifest: bundle.manifest });
    expect(started.status).toBe(201);
    const target = started.json.blobs.find((x: { upload?: unknown }) => x.upload).upload as {
      url: string;
      headers: Record<string, string>;
    };
    // The target is relative to the registry's base: resolved against B's instead of A's.
    const onB = targetUrl(b.url, target.url);
    const put = await fetch(onB, { method: 'PUT', headers: target.headers, body: bundle.blobs.values().next().value });
    expect(put.status).toBe(403);
    expect((await api(a.url, 'DELETE', `/uploads/${started.json.id}`)).status).toBe(204);
  });

  it("each registry's scheduled functions run on that registry's store", async () => {
    // An upload whose bytes were all sent but that nobody completed: the sweeper of its registry finishes it.
    const bundle = testBundle('swept', '1.0.0', { 's.bin': Buffer.from('swept bytes') });
    const started = await api(a.url, 'POST', '/uploads', { manifest: bundle.manifest });
    expect(started.status).toBe(201);
    await sendBlobs(a.url, started.json, (d) => bundle.blobs.get(d)!);
    const sweeperOf = (s: Served) => scheduledFunctions(s.registry).sweeper.handler({}, {} as never);
    expect(await sweeperOf(b)).toEqual({ finished: 0, failed: 0, pending: 0 });
    expect(await sweeperOf(a)).toEqual({ finished: 1, failed: 0, pending: 0 });
    expect(await names(a.url)).toEqual(['alpha', 'swept']);
    expect(await names(b.url)).toEqual(['beta']);
    // A collection's first run leaves its log-truncation mark in the store it collected.
    await scheduledFunctions(b.registry).gcScheduled.handler({}, {} as never);
    await expect(b.registry.storage.head(keys.gcLogMark())).resolves.toBeDefined();
    await expect(a.registry.storage.head(keys.gcLogMark())).rejects.toMatchObject({ type: 'NotFound' });
  });
});
