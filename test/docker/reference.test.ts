import { describe, expect, it } from 'vitest';
import { ImageReferenceError } from '../../lib/docker/errors.js';
import { formatImageReference, isLoopbackRegistry, parseImageReference, registryApiHost } from '../../lib/docker/reference.js';

const D = 'sha256:' + 'a'.repeat(64);

describe('parseImageReference', () => {
  it.each([
    ['nginx', 'docker.io/library/nginx:latest'],
    ['nginx:1.25', 'docker.io/library/nginx:1.25'],
    ['mesosphere/marathon:v1.11.24', 'docker.io/mesosphere/marathon:v1.11.24'],
    ['docker.io/nginx', 'docker.io/library/nginx:latest'],
    ['index.docker.io/library/nginx:x', 'docker.io/library/nginx:x'],
    ['quay.io/coreos/etcd:v3.5.0', 'quay.io/coreos/etcd:v3.5.0'],
    ['localhost/foo', 'localhost/foo:latest'],
    ['localhost:5000/foo/bar:tag', 'localhost:5000/foo/bar:tag'],
    ['127.0.0.1:5000/a/b/c', '127.0.0.1:5000/a/b/c:latest'],
    ['[::1]:5000/img:t', '[::1]:5000/img:t'],
    // A colon before the first slash is a port, not a tag: "localhost:5000" alone is a docker.io repo + tag.
    ['localhost:5000', 'docker.io/library/localhost:5000'],
    ['Registry.Example.COM/app:1', 'Registry.Example.COM/app:1'],
    ['a__b/c.d-e_f:T_ag.1-2', 'docker.io/a__b/c.d-e_f:T_ag.1-2'],
    [`nginx@${D}`, `docker.io/library/nginx@${D}`],
    [`host:5000/x/y:tag@${D}`, `host:5000/x/y:tag@${D}`],
  ])('%s → %s', (input, canonical) => {
    expect(formatImageReference(parseImageReference(input))).toBe(canonical);
  });

  it('splits the parts', () => {
    expect(parseImageReference(`127.0.0.1:5000/team/app:v2@${D}`)).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'team/app',
      tag: 'v2',
      digest: D,
    });
    expect(parseImageReference(`busybox@${D}`)).toEqual({ registry: 'docker.io', repository: 'library/busybox', digest: D });
  });

  it.each([
    ['', 'empty'],
    ['Nginx', 'lowercase'],
    ['docker.io/Library/nginx', 'lowercase'],
    ['nginx:', 'invalid tag'],
    ['nginx:-bad', 'invalid tag'],
    [`nginx:${'t'.repeat(129)}`, 'invalid tag'],
    ['nginx@sha256:abc', 'invalid digest'],
    [`nginx@sha512:${'a'.repeat(128)}`, 'only lower-case sha256'],
    [`nginx@sha256:${'A'.repeat(64)}`, 'only lower-case sha256'],
    ['foo//bar', 'invalid repository path component'],
    ['foo/-bar', 'invalid repository path component'],
    ['foo/bar.', 'invalid repository path component'],
    ['host:5000/', 'empty repository'],
    ['-host.io/x', 'invalid registry host'],
    [' nginx', 'whitespace'],
    ['a'.repeat(64), '64-character hex'],
    [`x.io/${'a/'.repeat(130)}b`, 'longer than 255'],
  ])('rejects %j (%s)', (input, reason) => {
    expect(() => parseImageReference(input)).toThrow(ImageReferenceError);
    expect(() => parseImageReference(input)).toThrow(reason);
  });
});

describe('registry hosts', () => {
  it('maps docker.io to its API host', () => {
    expect(registryApiHost('docker.io')).toBe('registry-1.docker.io');
    expect(registryApiHost('quay.io')).toBe('quay.io');
  });
  it.each([
    ['127.0.0.1:5000', true],
    ['127.5.6.7', true],
    ['localhost:5000', true],
    ['[::1]:5000', true],
    ['128.0.0.1:5000', false],
    ['localhost.example.com', false],
    ['docker.io', false],
  ])('loopback(%s) = %s', (host, expected) => {
    expect(isLoopbackRegistry(host)).toBe(expected);
  });
});
