import { describe, expect, it } from 'vitest';
import { bytesToSend, planTransfers, resolveTarget, type UploadView } from '../../lib/client';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const sizes = new Map([
  [d('a'), 250],
  [d('b'), 10],
  [d('c'), 7],
]);
const ct = { 'Content-Type': 'application/octet-stream' };

function session(blobs: UploadView['blobs']): UploadView {
  return { id: 'x', status: 'Uploading', name: 'a', version: '1', expiresAt: '2030-01-01T00:00:00.000Z', blobs };
}

describe('planTransfers', () => {
  it('skips present blobs and received parts; parts cover [(k-1)P, min(kP, size))', () => {
    const tasks = planTransfers(
      session([
        {
          digest: d('a'),
          size: 250,
          present: false,
          upload: {
            headers: ct,
            multipart: {
              partSize: 100,
              parts: [
                { partNumber: 1, url: 'u1', received: false },
                { partNumber: 2, url: 'u2', received: true },
                { partNumber: 3, url: 'u3', received: false },
              ],
            },
          },
        },
        { digest: d('b'), size: 10, present: true },
        { digest: d('c'), size: 7, present: false, upload: { method: 'PUT', url: 'uc', headers: ct } },
      ]),
      sizes,
    );
    expect(tasks).toEqual([
      { digest: d('a'), partNumber: 1, url: 'u1', headers: ct, start: 0, end: 100 },
      { digest: d('a'), partNumber: 3, url: 'u3', headers: ct, start: 200, end: 250 },
      { digest: d('c'), url: 'uc', headers: ct, start: 0, end: 7 },
    ]);
    expect(bytesToSend(tasks)).toBe(157);
  });

  it('sends nothing when everything is present or received', () => {
    const tasks = planTransfers(
      session([
        { digest: d('a'), size: 250, present: true },
        { digest: d('c'), size: 7, present: false, received: true, upload: { method: 'PUT', url: 'uc', headers: ct } },
      ]),
      sizes,
    );
    expect(tasks).toEqual([]);
  });

  it('plans nothing for a session that is no longer Uploading (Processing has no targets)', () => {
    const s = session([{ digest: d('c'), size: 7, present: false }]);
    expect(() => planTransfers(s, sizes)).toThrow(/no upload target/);
    expect(planTransfers({ ...s, status: 'Processing' }, sizes)).toEqual([]);
  });

  it('refuses blobs the bundle does not have, wrong sizes, missing targets and bad part lists', () => {
    expect(() => planTransfers(session([{ digest: d('f'), size: 1, present: true }]), sizes)).toThrow(/not in the bundle/);
    expect(() => planTransfers(session([{ digest: d('b'), size: 11, present: true }]), sizes)).toThrow(
      /has 10 bytes, the registry expects 11/,
    );
    expect(() => planTransfers(session([{ digest: d('b'), size: 10, present: false }]), sizes)).toThrow(/no upload target/);
    const multipart = (parts: { partNumber: number; url: string }[], partSize = 100) =>
      planTransfers(
        session([
          {
            digest: d('a'),
            size: 250,
            present: false,
            upload: { multipart: { partSize, parts: parts.map((p) => ({ ...p, received: false })) }, headers: ct },
          },
        ]),
        sizes,
      );
    expect(() =>
      multipart([
        { partNumber: 1, url: 'a' },
        { partNumber: 2, url: 'b' },
      ]),
    ).toThrow(/needs 3 parts, the registry listed 2/);
    expect(() => multipart([1, 2, 3, 4].map((n) => ({ partNumber: n, url: 'x' })))).toThrow(/invalid part number 4/);
    expect(() => multipart([1, 1, 2].map((n) => ({ partNumber: n, url: 'x' })))).toThrow(/invalid part number 1/);
    expect(() => multipart([], 0)).toThrow(/part size 0/);
    expect(() =>
      planTransfers(
        session([{ digest: d('c'), size: 7, present: false, upload: { method: 'POST' as 'PUT', url: 'u', headers: ct } }]),
        sizes,
      ),
    ).toThrow(/not PUT/);
  });
});

describe('resolveTarget', () => {
  it('resolves a relative target under the base the client called, prefix kept; absolute targets stay as they are', () => {
    const sig = '_store/uploads/u/blobs/ab?X-Expires=1&X-Signature=00';
    for (const base of ['https://cluster.example/service/dcos-registry', 'https://cluster.example/service/dcos-registry/']) {
      expect(resolveTarget(base, sig)).toBe(`https://cluster.example/service/dcos-registry/${sig}`);
    }
    expect(resolveTarget('http://127.0.0.1:3000', sig)).toBe(`http://127.0.0.1:3000/${sig}`);
    const presigned = 'http://rgw.site:7480/registry/prod/uploads/u/blobs/ab?X-Amz-Signature=00';
    expect(resolveTarget('https://cluster.example/service/dcos-registry', presigned)).toBe(presigned);
  });

  it('refuses targets that are not http(s) or not URL references', () => {
    expect(() => resolveTarget('https://r.example', 'file:///etc/passwd')).toThrow(/unusable upload plan: upload target has scheme file:/);
    expect(() => resolveTarget('https://r.example', 'javascript:alert(1)')).toThrow(/scheme javascript:/);
    expect(() => resolveTarget('https://r.example', 'http://[::1')).toThrow(/is not a URL reference/);
  });
});
