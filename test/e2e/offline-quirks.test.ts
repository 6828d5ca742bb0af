/**
 * What the real `serverless offline` does that a fake registry does not, and the client must
 * survive: a function that times out or throws comes back as HTTP 200 with Lambda's error shape
 * {errorType, errorMessage} (HTTP API payload 2.0 turns any result without a statusCode into 200).
 * Seen in the end-to-end run on a loaded machine: `add` failed with "unexpected status undefined".
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describePackage, RegistryApiError } from '../../lib/client';

let calls = 0;
let failures = 0;
const server = createServer((_req, res) => {
  calls++;
  const body =
    calls <= failures
      ? { errorMessage: '[504] - Lambda timeout.', errorType: 'LambdaTimeoutError', stackTrace: [] }
      : { name: 'hello', version: '1.0.0', status: 'Added', releaseVersion: 0 };
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
});
let url: string;
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const retry = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

describe('a Lambda error passed through as 200', () => {
  it('is retried like a 5xx, and the next good answer is used', async () => {
    calls = 0;
    failures = 2;
    expect(await describePackage({ url, retry }, 'hello', '1.0.0')).toMatchObject({ status: 'Added' });
    expect(calls).toBe(3);
  });

  it('fails with the function error, not as a success, when it persists', async () => {
    calls = 0;
    failures = 100;
    const err = await describePackage({ url, retry }, 'hello', '1.0.0').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryApiError);
    expect((err as Error).message).toMatch(/the registry function failed: \[504\] - Lambda timeout\./);
    expect(calls).toBe(3);
  });
});
