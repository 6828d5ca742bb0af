/**
 * A Marathon 1.x app definition as Marathon documents it (AppDefinition, abridged to the
 * fields this package uses; no schema file of Marathon's is needed), plus the checks that
 * tie its parts together: every secret a volume or env var names is declared (and none
 * more), persistent volumes come with the strategies Marathon requires, the VIP label
 * names the app.
 */
import Ajv from 'ajv';
import { expect } from 'vitest';
import { type Json, vipHost } from './render';

/** The fields of a Marathon 1.x app definition this package relies on (Marathon's AppDefinition, abridged). */
const SEGMENT = '[a-z0-9]([a-z0-9-]*[a-z0-9])?';
const MARATHON_APP = {
  type: 'object',
  required: ['id', 'instances', 'cpus', 'mem', 'cmd', 'container', 'networks', 'env', 'healthChecks', 'portDefinitions'],
  properties: {
    id: { type: 'string', pattern: `^/?${SEGMENT}(/${SEGMENT})*$` },
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
            oneOf: [
              { required: ['secret'], not: { anyOf: [{ required: ['hostPath'] }, { required: ['persistent'] }] } },
              { required: ['hostPath', 'mode'], not: { anyOf: [{ required: ['secret'] }, { required: ['persistent'] }] } },
              { required: ['persistent', 'mode'], not: { anyOf: [{ required: ['secret'] }, { required: ['hostPath'] }] } },
            ],
            properties: {
              // Secret and persistent volumes: one relative segment; host volumes: relative to the sandbox or absolute.
              containerPath: { type: 'string', pattern: '^[^/]' },
              hostPath: { type: 'string', pattern: '^/' },
              mode: { enum: ['RO', 'RW'] },
              secret: { type: 'string', minLength: 1 },
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
    networks: {
      type: 'array',
      minItems: 1,
      items: { type: 'object', required: ['mode'], properties: { mode: { enum: ['host', 'container', 'container/bridge'] } } },
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
      additionalProperties: {
        type: 'object',
        required: ['source'],
        properties: { source: { type: 'string', minLength: 1 } },
        additionalProperties: false,
      },
    },
    constraints: {
      type: 'array',
      items: {
        type: 'array',
        minItems: 2,
        maxItems: 3,
        items: [
          { type: 'string', minLength: 1 },
          { enum: ['UNIQUE', 'CLUSTER', 'GROUP_BY', 'LIKE', 'UNLIKE', 'MAX_PER', 'IS'] },
          { type: 'string', minLength: 1 },
        ],
      },
    },
    portDefinitions: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['port', 'protocol'],
        properties: {
          port: { type: 'integer', minimum: 0, maximum: 65535 },
          protocol: { enum: ['tcp', 'udp', 'udp,tcp'] },
          name: { type: 'string', pattern: '^[a-z0-9-]+$' },
          labels: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
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
          portIndex: { type: 'integer', minimum: 0 },
        },
      },
    },
    unreachableStrategy: { oneOf: [{ const: 'disabled' }, { type: 'object' }] },
    upgradeStrategy: {
      type: 'object',
      properties: {
        minimumHealthCapacity: { type: 'number', minimum: 0, maximum: 1 },
        maximumOverCapacity: { type: 'number', minimum: 0, maximum: 1 },
      },
    },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    taskKillGracePeriodSeconds: { type: 'integer', minimum: 0 },
  },
};
const validApp = new Ajv({ allErrors: true, strict: false }).compile(MARATHON_APP);

export function expectValidApp(app: Json): void {
  const ok = validApp(app);
  expect(validApp.errors ?? []).toEqual([]);
  expect(ok).toBe(true);
  // Every secret an env var or volume names is declared, and every declared secret is used.
  const used = [
    ...Object.values<any>(app.env)
      .filter((v) => typeof v === 'object')
      .map((v) => v.secret),
    ...(app.container.volumes ?? []).filter((v: any) => v.secret).map((v: any) => v.secret),
  ];
  expect(new Set(used).size).toBe(used.length);
  expect(Object.keys(app.secrets ?? {}).sort()).toEqual([...used].sort());
  // Persistent volumes need the app pinned to its reservation: no unreachable replacement, no overlap on upgrade.
  if ((app.container.volumes ?? []).some((v: any) => v.persistent)) {
    expect(app.unreachableStrategy).toBe('disabled');
    expect(app.upgradeStrategy).toEqual({ minimumHealthCapacity: 0, maximumOverCapacity: 0 });
  }
  // The VIP label names the app itself.
  const vip = app.portDefinitions[0].labels.VIP_0 as string;
  expect(vip.replace(/:\d+$/, '').replace(/^\//, '')).toBe(app.id.replace(/^\//, ''));
  vipHost(vip);
}
