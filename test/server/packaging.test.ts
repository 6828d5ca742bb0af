/**
 * Packaging of the registry itself: the Universe package directory passes the project's
 * own migrate; its Marathon template, rendered as Cosmos renders it (mustache over the
 * config defaults merged with the user's options, plus `resource`), is a valid Marathon app
 * in each storage mode; the example Marathon app is exactly such a rendering; and the
 * Dockerfile (which cannot be built here: no Docker engine) copies files that exist and
 * starts the server with flags it accepts.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Ajv from 'ajv';
import Mustache from 'mustache';
import { describe, expect, it } from 'vitest';
import { migrateToFile } from '../../lib/build/migrate';
import { migratePackageDirectory } from '../../lib/universe/package-dir';
import { parseServerOptions } from '../../server/options';

const ROOT = path.resolve(__dirname, '../..');
const PKG = path.join(ROOT, 'packaging/universe');

/** What mustache.java (Cosmos) escapes; unlike mustache.js it leaves "/" alone. */
const cosmosEscape = (s: unknown) => String(s).replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);

type Json = Record<string, any>;
function defaultsOf(schema: Json): Json {
  const out: Json = {};
  for (const [k, p] of Object.entries<Json>(schema.properties ?? {})) {
    if (p.type === 'object') out[k] = defaultsOf(p);
    else if ('default' in p) out[k] = p.default;
  }
  return out;
}
function merge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = v && typeof v === 'object' && !Array.isArray(v) ? merge(base[k] ?? {}, v) : v;
  return out;
}

async function render(options: Json = {}): Promise<Json> {
  const [template, config, resource] = await Promise.all([
    readFile(path.join(PKG, 'marathon.json.mustache'), 'utf8'),
    readFile(path.join(PKG, 'config.json'), 'utf8').then(JSON.parse),
    readFile(path.join(PKG, 'resource.json'), 'utf8').then(JSON.parse),
  ]);
  const view = { ...merge(defaultsOf(config), options), resource };
  const text = Mustache.render(template, view, undefined, { escape: cosmosEscape });
  return JSON.parse(text);
}

/** The fields of a Marathon app definition this package relies on (Marathon's AppDefinition, abridged). */
const MARATHON_APP = {
  type: 'object',
  required: ['id', 'instances', 'cpus', 'mem', 'cmd', 'container', 'env', 'healthChecks', 'portDefinitions'],
  properties: {
    id: {
      type: 'string',
      pattern: '^(\\/?((\\.\\.)|(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9]))?($|\\/))+$',
    },
    instances: { type: 'integer', minimum: 0 },
    cpus: { type: 'number', exclusiveMinimum: 0 },
    mem: { type: 'number', exclusiveMinimum: 0 },
    cmd: { type: 'string', minLength: 1 },
    container: {
      type: 'object',
      required: ['type', 'docker'],
      properties: {
        type: { enum: ['MESOS', 'DOCKER'] },
        docker: { type: 'object', required: ['image'], properties: { image: { type: 'string', pattern: '^[a-z0-9]' } } },
        volumes: {
          type: 'array',
          items: {
            type: 'object',
            required: ['containerPath'],
            properties: {
              containerPath: { type: 'string', minLength: 1 },
              hostPath: { type: 'string', pattern: '^/' },
              mode: { enum: ['RO', 'RW'] },
              secret: { type: 'string' },
              persistent: {
                type: 'object',
                required: ['size'],
                properties: { size: { type: 'integer', minimum: 1 }, type: { enum: ['root', 'path', 'mount'] } },
              },
            },
          },
        },
      },
    },
    env: {
      type: 'object',
      additionalProperties: {
        oneOf: [
          { type: 'string' },
          { type: 'object', required: ['secret'], properties: { secret: { type: 'string' } }, additionalProperties: false },
        ],
      },
    },
    secrets: {
      type: 'object',
      additionalProperties: { type: 'object', required: ['source'], properties: { source: { type: 'string', minLength: 1 } } },
    },
    constraints: { type: 'array', items: { type: 'array', minItems: 2, maxItems: 3, items: { type: 'string' } } },
    portDefinitions: {
      type: 'array',
      minItems: 1,
      items: { type: 'object', required: ['port'], properties: { port: { type: 'integer', minimum: 0 } } },
    },
    healthChecks: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['protocol'],
        properties: {
          protocol: { enum: ['HTTP', 'HTTPS', 'TCP', 'COMMAND', 'MESOS_HTTP', 'MESOS_HTTPS', 'MESOS_TCP'] },
          path: { type: 'string', pattern: '^/' },
          portIndex: { type: 'integer' },
        },
      },
    },
    upgradeStrategy: {
      type: 'object',
      properties: {
        minimumHealthCapacity: { type: 'number', minimum: 0, maximum: 1 },
        maximumOverCapacity: { type: 'number', minimum: 0, maximum: 1 },
      },
    },
    taskKillGracePeriodSeconds: { type: 'integer', minimum: 0 },
  },
};
const validApp = new Ajv({ allErrors: true, strict: false }).compile(MARATHON_APP);
function expectValidApp(app: Json): void {
  const ok = validApp(app);
  expect(validApp.errors ?? []).toEqual([]);
  expect(ok).toBe(true);
  // Every secret an env var or volume names is declared.
  const used = [
    ...Object.values<any>(app.env)
      .filter((v) => typeof v === 'object')
      .map((v) => v.secret),
    ...(app.container.volumes ?? []).filter((v: any) => v.secret).map((v: any) => v.secret),
  ];
  for (const s of used) expect(app.secrets?.[s]).toBeDefined();
}

describe('Universe package of the registry', () => {
  it("is accepted by the project's migrate", async () => {
    const { definition } = await migratePackageDirectory(PKG);
    expect(definition).toMatchObject({ packagingVersion: '4.0', name: 'dcos-registry' });
    expect(definition).not.toHaveProperty('selected');
    const out = await mkdtemp(path.join(os.tmpdir(), 'registry-migrate-'));
    const written = await migrateToFile({ packageDirectory: PKG, outputDirectory: out });
    expect(written.path).toBe(path.join(out, `dcos-registry-${definition.version}.json`));
  });

  it("has the version of the server it packages, and the original's options with defaults", async () => {
    const pkg = JSON.parse(await readFile(path.join(PKG, 'package.json'), 'utf8'));
    const project = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.version).toBe(project.version);
    const d = defaultsOf(JSON.parse(await readFile(path.join(PKG, 'config.json'), 'utf8')));
    expect(Object.keys(d.registry.s3)).toEqual(
      expect.arrayContaining(['bucket', 'path', 'endpoint', 'credential-secret-path', 'credential-profile-name']),
    );
    expect(Object.keys(d.registry['mount-volume'])).toEqual(expect.arrayContaining(['container-path', 'pinned-hostname']));
    expect(Object.keys(d.service)).toEqual(expect.arrayContaining(['name', 'instances', 'cpus', 'mem', 'disk']));
  });

  it('renders with default options to a valid Marathon app: local storage on a persistent volume, one instance', async () => {
    const app = await render();
    expectValidApp(app);
    expect(app).toMatchObject({
      id: 'registry',
      instances: 1,
      container: { type: 'MESOS', docker: { image: 'dcos-registry/server:0.1.0' } },
    });
    expect(app.container.volumes).toEqual([{ containerPath: 'registry-data', mode: 'RW', persistent: { type: 'root', size: 20480 } }]);
    expect(app.env.REGISTRY_STORAGE).toBeUndefined(); // the cmd defaults it to the persistent volume
    expect(app.cmd).toContain('file:$MESOS_SANDBOX/registry-data');
    expect(app.healthChecks[0]).toMatchObject({ protocol: 'MESOS_HTTP', path: '/health', portIndex: 0 });
    expect(app.upgradeStrategy).toEqual({ minimumHealthCapacity: 0, maximumOverCapacity: 0 });
    expect(app.secrets).toEqual({});
    expect(app.constraints).toEqual([]);
  });

  it('renders S3 mode (Ceph RGW) with a credentials secret and write tokens', async () => {
    const app = await render({
      service: { instances: 3 },
      registry: {
        s3: {
          bucket: 'registry',
          path: 'prod',
          endpoint: 'http://rgw.site:7480',
          'credential-secret-path': 'registry/s3',
          'credential-profile-name': 'registry',
        },
        'write-tokens-secret-path': 'registry/tokens',
      },
    });
    expectValidApp(app);
    expect(app.instances).toBe(3);
    expect(app.env).toMatchObject({
      REGISTRY_STORAGE: 's3://registry/prod',
      REGISTRY_S3_ENDPOINT: 'http://rgw.site:7480',
      REGISTRY_S3_FORCE_PATH_STYLE: 'true',
      AWS_PROFILE: 'registry',
      REGISTRY_WRITE_TOKENS: { secret: 'write-tokens' },
    });
    expect(app.secrets).toEqual({ 's3-credentials': { source: 'registry/s3' }, 'write-tokens': { source: 'registry/tokens' } });
    expect(app.container.volumes).toEqual([{ containerPath: 'aws-credentials', secret: 's3-credentials' }]);
    expect(app.upgradeStrategy.minimumHealthCapacity).toBe(1);
  });

  it('renders mounted-volume mode pinned to one agent', async () => {
    const app = await render({
      registry: { 'mount-volume': { 'container-path': '/mnt/nfs/registry', 'pinned-hostname': '10.0.0.7' } },
      service: { 'docker-image': 'site-registry:5000/dcos-registry/server:0.1.0' },
    });
    expectValidApp(app);
    expect(app.env.REGISTRY_STORAGE).toBe('file:/mnt/nfs/registry');
    expect(app.container.volumes).toEqual([{ containerPath: '/mnt/nfs/registry', hostPath: '/mnt/nfs/registry', mode: 'RW' }]);
    expect(app.constraints).toEqual([['hostname', 'CLUSTER', '10.0.0.7']]);
    expect(app.container.docker.image).toBe('site-registry:5000/dcos-registry/server:0.1.0');
  });

  it('starts the server with flags it accepts', async () => {
    const app = await render();
    const flags = /exec node \/app\/server\.js (.*)$/
      .exec(app.cmd)![1]
      .replace(/"\$PORT0"/, '8080')
      .split(/\s+/);
    expect(parseServerOptions(flags)).toMatchObject({ host: '0.0.0.0', port: 8080, shutdownGraceMs: 25_000 });
    // Marathon's SIGKILL comes after taskKillGracePeriodSeconds: the drain must fit inside it.
    expect(app.taskKillGracePeriodSeconds * 1000).toBeGreaterThan(25_000);
  });
});

describe('plain Marathon app', () => {
  it('is the package template rendered with packaging/marathon/options.json', async () => {
    const options = JSON.parse(await readFile(path.join(ROOT, 'packaging/marathon/options.json'), 'utf8'));
    const app = JSON.parse(await readFile(path.join(ROOT, 'packaging/marathon/dcos-registry.json'), 'utf8'));
    expectValidApp(app);
    expect(app).toEqual(await render(options));
  });
});

describe('Dockerfile', () => {
  it('copies sources that exist and runs the bundle with flags the server accepts', async () => {
    const text = await readFile(path.join(ROOT, 'packaging/Dockerfile'), 'utf8');
    const copies = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
    expect(copies.length).toBeGreaterThan(0);
    for (const src of copies)
      await expect(readFile(path.join(ROOT, src)).catch((e) => (e.code === 'EISDIR' ? 'dir' : Promise.reject(e)))).resolves.toBeDefined();
    expect(text).toMatch(/server\/build\.ts/);
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(text)![1]) as string[];
    expect(cmd.slice(0, 2)).toEqual(['node', '/app/server.js']);
    const options = parseServerOptions(cmd.slice(2));
    expect(options).toMatchObject({ host: '0.0.0.0' });
    expect(text).toMatch(new RegExp(`^EXPOSE ${(options as { port: number }).port}$`, 'm'));
  });
});
