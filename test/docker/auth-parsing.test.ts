import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseChallenges } from '../../lib/image-pull/challenge.js';
import { defaultDockerConfigPath, readDockerCredentials } from '../../lib/image-pull/credentials.js';

describe('parseChallenges', () => {
  it('reads a Docker Hub style Bearer challenge', () => {
    expect(
      parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'),
    ).toEqual([
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' },
      },
    ]);
  });
  it('reads Basic, unquoted values, escapes and several challenges', () => {
    expect(parseChallenges(['Basic realm="Registry \\"Realm\\""', 'Bearer realm=http://x/t, error=invalid_token'])).toEqual([
      { scheme: 'basic', params: { realm: 'Registry "Realm"' } },
      { scheme: 'bearer', params: { realm: 'http://x/t', error: 'invalid_token' } },
    ]);
    expect(parseChallenges('Basic realm="a", Bearer realm="b"').map((c) => c.scheme)).toEqual(['basic', 'bearer']);
  });
  it('returns nothing for an absent header', () => {
    expect(parseChallenges(undefined)).toEqual([]);
  });
});

describe('readDockerCredentials', () => {
  const dir = mkdtempSync(join(tmpdir(), 'docker-config-'));
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hub:pass').toString('base64') },
        '127.0.0.1:5000': { auth: Buffer.from('local:secret').toString('base64') },
        'https://quay.io': { username: 'q', password: 'qp' },
        'helper.example': {},
      },
      credsStore: 'desktop',
    }),
  );

  it('finds Docker Hub credentials under the legacy key; passwords may contain colons', async () => {
    expect(await readDockerCredentials(file, 'docker.io')).toEqual({ username: 'hubuser', password: 'hub:pass' });
  });
  it('matches host:port and scheme-prefixed keys', async () => {
    expect(await readDockerCredentials(file, '127.0.0.1:5000')).toEqual({ username: 'local', password: 'secret' });
    expect(await readDockerCredentials(file, 'quay.io')).toEqual({ username: 'q', password: 'qp' });
  });
  it('has none for other registries, empty entries, a missing file or no path', async () => {
    expect(await readDockerCredentials(file, '127.0.0.1:5001')).toBeUndefined();
    expect(await readDockerCredentials(file, 'helper.example')).toBeUndefined();
    expect(await readDockerCredentials(join(dir, 'absent.json'), 'docker.io')).toBeUndefined();
    expect(await readDockerCredentials(undefined, 'docker.io')).toBeUndefined();
  });
  it('fails on a malformed file', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{not json');
    await expect(readDockerCredentials(bad, 'docker.io')).rejects.toThrow('not valid JSON');
  });
  it('resolves the default path like the Docker CLI', () => {
    expect(defaultDockerConfigPath({ DOCKER_CONFIG: '/etc/dc', HOME: '/home/u' })).toBe('/etc/dc/config.json');
    expect(defaultDockerConfigPath({ HOME: '/home/u' })).toBe('/home/u/.docker/config.json');
    expect(defaultDockerConfigPath({})).toBeUndefined();
  });
});
