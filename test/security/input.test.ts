/**
 * Hostile input that must get a clear 4xx, never a 500 and never internals (issue 10 item 8):
 * storage keys stay out of 404/409/412 messages, and deeply nested or huge JSON is refused
 * before validation can overflow the stack. Driven in-process (test/support/inprocess.ts),
 * on both storage drivers where storage is involved; answers go through errorAnswer, the map
 * every HTTP adapter uses.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config';
import { errorAnswer } from '../../lib/http/errors';
import { keys } from '../../lib/keys';
import type { Registry } from '../../lib/registry';
import { resourceAnswer } from '../../lib/resource';
import { Uploads } from '../../lib/uploads/service';
import { JSON_LIMITS, validateBuildDefinition, validatePackage } from '../../lib/universe/validate';
import { ORIGIN, registryOver, send } from '../support/inprocess';
import { drivers } from '../support/stores';
import { packageMetadata } from '../support/fixtures';
import { testBundle } from '../support/upload';

async function answerOf(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return errorAnswer(error);
  }
  throw new Error('expected a refusal');
}

describe.each(drivers)('storage keys stay out of answers on $name storage', ({ make }) => {
  it('a proxied download of a blob gone from the store answers 404 naming the digest, not the key', async () => {
    const store = await make();
    const registry: Registry = {
      ...registryOver(store.another()),
      config: parseConfig({ REGISTRY_WRITE_TOKENS: 'x'.repeat(16), REGISTRY_DOWNLOADS: 'proxy' }),
    };
    const bytes = randomBytes(1000);
    const bundle = testBundle('gone', '1.0.0', { 'gone.bin': bytes });
    const uploads = new Uploads(registry);
    const view = await uploads.start({ manifest: bundle.manifest });
    await send(registry.storage, view, bundle);
    expect((await uploads.complete(view.id)).done).toBe(true);
    const digest = bundle.manifest.assets[0].digest;
    const hex = digest.slice(7);
    await registry.storage.delete(keys.blob(hex));

    const answer = await answerOf(resourceAnswer(registry, { digest: hex, name: 'gone.bin', origin: ORIGIN }));
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ type: 'NotFound', message: `Blob ${digest} was not found` });
    await store.cleanup();
  });

  it('lost create-only and compare-and-swap writes answer 409/412 without the key', async () => {
    const store = await make();
    const { storage } = store;
    const id = 'a'.repeat(26);
    const key = keys.uploadSession(id);
    const { etag } = await storage.put(key, '{}', { ifNoneMatch: '*' });
    const exists = await answerOf(storage.put(key, '{}', { ifNoneMatch: '*' }));
    expect(exists).toEqual({ status: 409, body: { type: 'AlreadyExists', message: `Upload ${id} already exists` } });
    const changed = await answerOf(storage.put(key, '{"b":1}', { ifMatch: `x${etag.slice(1)}` }));
    expect(changed).toEqual({ status: 412, body: { type: 'PreconditionFailed', message: `Upload ${id} changed meanwhile; retry` } });
    const missing = await answerOf(storage.get(keys.snapshot()));
    expect(missing).toEqual({ status: 404, body: { type: 'NotFound', message: 'The catalog was not found' } });
    for (const a of [exists, changed, missing]) expect(a.body.message).not.toMatch(/uploads\/|catalog\/|\.json/);
    await store.cleanup();
  });
});

/** {"a":{"a":...1...}} nested `depth` levels, built as JSON text (JSON.parse does not recurse). */
function nested(depth: number): unknown {
  return JSON.parse(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
}

describe.each(drivers)('deep and huge JSON is refused with 400 on $name storage', ({ make }) => {
  // The package's config is a JSON Schema, the one place the package schema admits any nesting;
  // before the bound, validating it overflowed the stack ("Maximum call stack size exceeded", a 500).
  const hostile: Array<[string, (manifest: any) => void, RegExp]> = [
    [
      '100,000-deep nesting in the package config',
      (m) => void (m.package.config = { type: 'object', properties: { a: nested(100_000) } }),
      /^The manifest is too large or too deep: \/manifest\/package\/config\/properties\/a(\/a)*: nests deeper than 64 levels$/,
    ],
    [
      'a 50 MB string',
      (m) => void (m.package.description = 'x'.repeat(50 * 1024 * 1024)),
      /^The manifest is too large or too deep: \/manifest\/package\/description: a string of 52428800 characters is longer than 5242880$/,
    ],
    [
      'a 200,000-item array',
      (m) => void (m.package.tags = new Array(200_000).fill('t')),
      /\/manifest\/package\/tags: an array of 200000 items is longer than 100000$/,
    ],
  ];

  it.each(hostile)('POST /uploads with %s: 400 InvalidManifest, nothing stored', async (_what, spoil, message) => {
    const store = await make();
    const registry = registryOver(store.another());
    const manifest: any = structuredClone(testBundle('hostile', '1.0.0').manifest);
    spoil(manifest);
    const answer = await answerOf(new Uploads(registry).start({ manifest }));
    expect(answer.status).toBe(400);
    expect(answer.body.type).toBe('InvalidManifest');
    expect(answer.body.message).toMatch(message);
    expect(await registry.storage.list(keys.uploadsPrefix())).toEqual([]);
    await store.cleanup();
  });
});

describe('the package validators bound their input themselves', () => {
  it('a build definition or repo entry nested 100,000 deep is invalid, not a stack overflow', () => {
    const definition = { ...packageMetadata('deep', '1.0.0'), config: { type: 'object', properties: { a: nested(100_000) } } };
    expect(validateBuildDefinition(definition)).toEqual({ ok: false, errors: [expect.stringMatching(/nests deeper than 64 levels$/)] });
    expect(validatePackage(definition)).toEqual({ ok: false, errors: [expect.stringMatching(/nests deeper than 64 levels$/)] });
  });

  it('what real packages hold stays well inside the bounds', () => {
    const definition = {
      ...packageMetadata('fine', '1.0.0'),
      config: { type: 'object', properties: { a: nested(JSON_LIMITS.depth - 4) } },
    };
    expect(validateBuildDefinition(definition).ok).toBe(true);
  });
});
