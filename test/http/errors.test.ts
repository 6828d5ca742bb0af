/**
 * The error registry (lib/errors.ts) through the one map to HTTP answers (lib/http/errors.ts):
 * each error type raised by a real throw site reaches the client with its own status, never a
 * 500; 5xx bodies say nothing about internals.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImageReference } from '../../lib/docker/reference';
import { ImagePullError } from '../../lib/docker/errors';
import { ERRORS, type ErrorType, RegistryError, StoreUnavailableError } from '../../lib/errors';
import { errorAnswer } from '../../lib/http/errors';
import { FileStorage } from '../../lib/storage/fs';
import { readPackageDirectory } from '../../lib/universe/package-dir';

const SECRET = Buffer.from('0123456789abcdef0123456789abcdef');

async function caught(fn: () => unknown): Promise<RegistryError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RegistryError);
    return error as RegistryError;
  }
  throw new Error('expected a throw');
}

describe('errorAnswer on the errors the throw sites raise', () => {
  let root: string;
  let storage: FileStorage;
  beforeAll(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'registry-errors-'));
    storage = new FileStorage({ root: path.join(root, 'store'), signingKey: async () => SECRET });
  });
  afterAll(() => fsp.rm(root, { recursive: true, force: true }));

  async function twoParts(key: string, first: Buffer): Promise<{ id: string; parts: Awaited<ReturnType<FileStorage['listParts']>> }> {
    const id = await storage.createMultipart(key);
    await storage.receivePart(key, id, 1, first, Infinity);
    await storage.receivePart(key, id, 2, Buffer.from('second'), Infinity);
    return { id, parts: await storage.listParts(key, id) };
  }

  const cases: Array<[string, number, () => Promise<RegistryError>]> = [
    ['InvalidPart', 400, () => caught(async () => storage.completeMultipart('mp/none', await storage.createMultipart('mp/none'), []))],
    [
      'InvalidPartOrder',
      400,
      async () => {
        // A first part of the minimum size, so that the order is what is wrong.
        const { id, parts } = await twoParts('mp/order', Buffer.alloc(5 * 1024 * 1024));
        return caught(() => storage.completeMultipart('mp/order', id, [parts[0], parts[0]]));
      },
    ],
    [
      'EntityTooSmall',
      400,
      async () => {
        const { id, parts } = await twoParts('mp/small', Buffer.from('first'));
        return caught(() => storage.completeMultipart('mp/small', id, parts));
      },
    ],
    [
      'InvalidRange',
      416,
      async () => {
        await storage.put('objects/three', 'abc');
        return caught(() => storage.getStream('objects/three', { start: 10 }));
      },
    ],
    [
      'InvalidPackageDirectory',
      400,
      async () => {
        const dir = path.join(root, 'pkg');
        await fsp.mkdir(dir, { recursive: true });
        await fsp.writeFile(path.join(dir, 'package.json'), '{not json');
        return caught(() => readPackageDirectory(dir));
      },
    ],
    ['InvalidImageReference', 400, () => caught(() => parseImageReference('UPPER/Case Image'))],
  ];

  it.each(cases)('%s answers %i with its type and message', async (type, status, raise) => {
    const error = await raise();
    expect(error.type).toBe(type);
    const answer = errorAnswer(error);
    expect(answer.status).toBe(status);
    expect(answer.body.type).toBe(type);
    expect(answer.body.message).toBe(error.message);
  });
});

describe('the error registry', () => {
  it('gives every type a 4xx or 5xx status', () => {
    const bad = Object.entries(ERRORS).filter(([, spec]) => !(spec.status >= 400 && spec.status <= 599));
    expect(bad).toEqual([]);
  });

  it('refuses a misspelt type at compile time (tsc checks the directive below)', () => {
    // @ts-expect-error 'InvalidPartt' is not an ErrorType
    const misspelt = new RegistryError('InvalidPartt', 'x');
    // Forced through anyway (a type read back from the store): a 500 that says nothing.
    expect(errorAnswer(misspelt)).toEqual({
      status: 500,
      body: { type: 'InternalError', message: 'Internal error; see the registry log' },
    });
    const typed: ErrorType = 'InvalidPart';
    expect(errorAnswer(new RegistryError(typed, 'part 3 is missing')).status).toBe(400);
  });

  it('uses the default message of a type when the throw site gives none', () => {
    expect(errorAnswer(new RegistryError('UploadAborted'))).toEqual({
      status: 409,
      body: { type: 'UploadAborted', message: 'The upload was aborted' },
    });
  });

  it('keeps internals out of 5xx bodies, except the types marked safe to show', () => {
    const internal = { status: 500, body: { type: 'InternalError', message: 'Internal error; see the registry log' } };
    expect(errorAnswer(new Error('ENOENT: /var/lib/registry/secret'))).toEqual(internal);
    expect(errorAnswer(new ImagePullError('registry.example.com/app:1', 'GET https://10.0.0.7/v2/ answered 500'))).toEqual(internal);
    expect(errorAnswer(new StoreUnavailableError('The store cannot be reached'))).toEqual({
      status: 503,
      body: { type: 'StoreUnavailable', message: 'The store cannot be reached' },
    });
  });
});
