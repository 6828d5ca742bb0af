/**
 * Figures of issue 10's hostile-reader findings, in-process on the filesystem driver:
 *
 *   1. store growth under a header flood: 60 anonymous GET /repo with varied Host and
 *      User-Agent (dcos/x.y) over a 400 KB catalog, without and with REGISTRY_PUBLIC_URL:
 *      objects and bytes written under rendered/;
 *   2. CPU cost of one request carrying a pathological 15 KB header: each value is the worst
 *      case of a backtracking pattern (a long run of spaces between two optional runs, then a
 *      character that fails the match), against the same request with an ordinary value.
 *
 *   npx tsx bench/hardening.ts
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Catalog } from '../lib/catalog/catalog';
import { addVersion } from '../lib/catalog/ops';
import { parseConfig } from '../lib/config';
import { parseRange } from '../lib/downloads';
import { keys } from '../lib/keys';
import type { Registry } from '../lib/registry';
import * as repo from '../lib/repo';
import { repoAnswer, type RepoRequest } from '../lib/repo';
import { dcosVersionFromUserAgent } from '../lib/universe/render';
import { FileStorage } from '../lib/storage/fs';
import { WriteGate } from '../lib/storage/probe';
import { catalogEntry } from '../test/support/fixtures';

const SIZE = 15 * 1024;
const spaces = ' '.repeat(SIZE);
const COSMOS: RepoRequest = {
  accept: 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5',
  acceptEncoding: 'gzip',
  userAgent: 'cosmos/0.6.0 dcos/2.2.0',
  origin: 'http://bench.local',
};

async function perCall(fn: () => unknown, rounds = 5): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return times.sort((a, b) => a - b)[Math.floor(rounds / 2)]!;
}

async function withStore<T>(fn: (storage: FileStorage) => Promise<T>): Promise<T> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'bench-hardening-'));
  try {
    return await fn(new FileStorage({ root, signingKey: async () => Buffer.alloc(32, 1) }));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const registryOver = (storage: FileStorage, env: Record<string, string> = {}): Registry => ({
  config: parseConfig(env),
  storage,
  catalog: new Catalog(storage),
  gate: new WriteGate(storage),
});

async function flood(publicUrl?: string): Promise<string> {
  return withStore(async (storage) => {
    const catalog = new Catalog(storage);
    // Five entries of 80 KB incompressible metadata, four distinct minDcosReleaseVersion values.
    for (const [i, min] of [undefined, '1.10', '1.12', '2.0', '1.11'].entries()) {
      const entry = catalogEntry(`flood-${i}`, '1.0.0');
      entry.package = {
        ...entry.package,
        description: randomBytes(60_000).toString('base64'),
        ...(min ? { minDcosReleaseVersion: min } : {}),
      };
      await addVersion(catalog, entry);
    }
    const registry = registryOver(storage, publicUrl ? { REGISTRY_PUBLIC_URL: publicUrl } : {});
    const dcos = ['1.9', '1.10', '1.10.3', '1.11', '1.11.3', '1.12', '1.13', '2.0', '2.1', '2.2.0'];
    const statuses = new Map<number, number>();
    for (let i = 0; i < 60; i++) {
      const res = await repoAnswer(registry, {
        accept: COSMOS.accept,
        acceptEncoding: 'identity', // the attacker's best: no compression, so every answer is past the inline limit
        userAgent: `cosmos/0.6.0 dcos/${dcos[i % dcos.length]}`,
        origin: `http://host-${i}.attacker.test`,
      });
      statuses.set(res.statusCode!, (statuses.get(res.statusCode!) ?? 0) + 1);
    }
    const objects = await storage.list(keys.renderedPrefix());
    const bytes = objects.reduce((n, o) => n + o.size, 0);
    const answers = [...statuses].map(([s, n]) => `${n}× ${s}`).join(', ');
    return `| ${publicUrl ? 'REGISTRY_PUBLIC_URL set' : 'default (no public URL)'} | ${objects.length} | ${(bytes / 1e6).toFixed(1)} MB | ${answers} |`;
  });
}

async function headers(): Promise<string[]> {
  return withStore(async (storage) => {
    const registry = registryOver(storage);
    // One package with a minDcosReleaseVersion: the DC/OS filter runs for it on every rendering.
    const entry = catalogEntry('needs-110', '1.0.0');
    entry.package = { ...entry.package, minDcosReleaseVersion: '1.10' };
    await addVersion(registry.catalog, entry);
    const status = async (req: RepoRequest) =>
      (await repoAnswer(registry, req).catch((e) => ({ statusCode: e.status ?? e.type }))).statusCode;
    await status(COSMOS); // warm: catalog read, rendering cached
    let calls = 0;
    const rows: Array<[string, string, () => unknown]> = [
      ['/repo Accept-Encoding', `gzip${spaces}x`, () => status({ ...COSMOS, acceptEncoding: `gzip${spaces}x` })],
      ['/repo Accept', `application/json;q=${spaces}x`, () => status({ ...COSMOS, accept: `application/json;q=${spaces}x` })],
      ['/repo If-None-Match', `"a"${spaces}x`, () => status({ ...COSMOS, ifNoneMatch: `"a"${spaces}x` })],
      ['/repo User-Agent', `dcos/1.1.1…x`, () => status({ ...COSMOS, userAgent: `dcos/1${'.1'.repeat(SIZE / 2)}x` })],
      // A new version each call, so no earlier rendering answers it.
      ['/repo User-Agent', `dcos/1.0.0…0.n`, () => status({ ...COSMOS, userAgent: `dcos/1${'.0'.repeat(SIZE / 2)}.${++calls}` })],
      ['Range', `bytes=${spaces}x`, () => parseRange(`bytes=${spaces}x`, 1000)],
      ['Range', `bytes=0-${spaces}x`, () => parseRange(`bytes=0-${spaces}x`, 1000)],
    ];
    const out = [`ordinary warm /repo request: ${(await perCall(() => status(COSMOS), 21)).toFixed(3)} ms`];
    out.push('| header | value (~15 KB) | ms per request (median of 5) | answer |', '| --- | --- | --- | --- |');
    for (const [name, shape, fn] of rows) {
      const answer = await fn();
      out.push(`| ${name} | \`${shape.slice(0, 24).trimEnd()}…\` | ${(await perCall(fn)).toFixed(3)} | ${JSON.stringify(answer)} |`);
    }
    // The parsers alone on the whole 15 KB value, past any cap: linear scans (where they exist).
    const scanners = repo as { acceptsGzip?: (v: string) => boolean };
    if (scanners.acceptsGzip) {
      const acceptsGzip = scanners.acceptsGzip;
      out.push(`| acceptsGzip alone, no cap | \`gzip…x\` | ${(await perCall(() => acceptsGzip(`gzip${spaces}x`))).toFixed(3)} | |`);
    }
    const ua = `dcos/1${'.1'.repeat(SIZE / 2)}x`;
    out.push(
      `| dcosVersionFromUserAgent alone, no cap | \`dcos/1.1.1…x\` | ${(await perCall(() => dcosVersionFromUserAgent(ua))).toFixed(3)} | |`,
    );
    return out;
  });
}

async function main(): Promise<void> {
  console.log('Store growth under 60 anonymous /repo requests (identity) with varied Host and User-Agent (400 KB catalog):');
  console.log('| configuration | objects under rendered/ | bytes | answers |', '\n| --- | --- | --- | --- |');
  console.log(await flood());
  console.log(await flood('https://registry.site'));
  console.log('\nCost of one pathological 15 KB header:');
  for (const line of await headers()) console.log(line);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
