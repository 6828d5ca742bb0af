/**
 * The functions of serverless.yml as data: which handler answers which API Gateway route
 * key, and which runs on a schedule. The production server dispatches with this table and
 * imports the very same handlers Lambda runs; test/server/routes.test.ts checks it against
 * serverless.yml so the two never drift.
 *
 * Kept as a typed table (not parsed from serverless.yml at run time) so that the bundle is
 * one file with every handler linked in statically.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { handler as gc, scheduled as gcScheduled } from '../functions/gc';
import { handler as health } from '../functions/health';
import { handler as packages } from '../functions/packages';
import { handler as repo } from '../functions/repo';
import { handler as resource } from '../functions/resource';
import { handler as store } from '../functions/store';
import { handler as sweeper } from '../functions/sweeper';
import { handler as uploads } from '../functions/uploads';
import { handler as v2 } from '../functions/v2';

export type HttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>;
export type ScheduledHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface HttpFunction {
  /** serverless.yml `handler:` */
  handlerPath: string;
  routes: string[];
  handler: HttpHandler;
}

export interface ScheduledFunction {
  handlerPath: string;
  /** serverless.yml `schedule:` expression, e.g. "rate(10 minutes)". */
  schedule: string;
  handler: ScheduledHandler;
}

export const HTTP_FUNCTIONS: Record<string, HttpFunction> = {
  health: { handlerPath: 'functions/health.handler', routes: ['GET /', 'GET /health'], handler: health as HttpHandler },
  repo: { handlerPath: 'functions/repo.handler', routes: ['GET /repo'], handler: repo as HttpHandler },
  packages: {
    handlerPath: 'functions/packages.handler',
    routes: ['GET /package', 'GET /package/{name}/{version}', 'DELETE /package/{name}/{version}'],
    handler: packages as HttpHandler,
  },
  uploads: {
    handlerPath: 'functions/uploads.handler',
    routes: ['POST /uploads', 'GET /uploads/{id}', 'POST /uploads/{id}/complete', 'DELETE /uploads/{id}'],
    handler: uploads as HttpHandler,
  },
  resource: {
    handlerPath: 'functions/resource.handler',
    routes: ['GET /resource/{digest}/{name}', 'HEAD /resource/{digest}/{name}'],
    handler: resource as HttpHandler,
  },
  v2: { handlerPath: 'functions/v2.handler', routes: ['GET /v2', 'GET /v2/{proxy+}', 'HEAD /v2/{proxy+}'], handler: v2 as HttpHandler },
  store: { handlerPath: 'functions/store.handler', routes: ['GET /_store/{key+}', 'PUT /_store/{key+}'], handler: store as HttpHandler },
  gc: { handlerPath: 'functions/gc.handler', routes: ['POST /gc'], handler: gc as HttpHandler },
};

export const SCHEDULED_FUNCTIONS: Record<string, ScheduledFunction> = {
  gcScheduled: { handlerPath: 'functions/gc.scheduled', schedule: 'rate(1 hour)', handler: gcScheduled as ScheduledHandler },
  sweeper: { handlerPath: 'functions/sweeper.handler', schedule: 'rate(10 minutes)', handler: sweeper as ScheduledHandler },
};

/** "rate(10 minutes)" → 600000. Only rate() expressions: cron needs a clock we do not trust across instances. */
export function rateMs(expression: string): number {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!m) throw new Error(`Unsupported schedule expression: ${expression}`);
  const unit = m[2].startsWith('minute') ? 60_000 : m[2].startsWith('hour') ? 3_600_000 : 86_400_000;
  return Number(m[1]) * unit;
}
