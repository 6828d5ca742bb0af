/**
 * Runs serverless.yml's scheduled functions (the upload sweeper, garbage collection) inside
 * the server, since on-prem there is no EventBridge. Every instance runs each at a random
 * phase of its rate, so N instances run it N times per period at spread-out moments; both
 * are safe to run concurrently (the sweeper finishes or fails uploads through the commit
 * protocol; collections are fenced in the commit log), as overlapping Lambda invocations
 * already require. The next run is due one interval after a run starts, whether or not that
 * run has ended: a run stuck on a store that stopped answering never stops the schedule.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { collectScheduled } from '../functions/gc';
import { sweep } from '../functions/sweeper';
import { FUNCTIONS, rateMs } from '../lib/http/routes';
import { describeError, log } from '../lib/log';
import type { Registry } from '../lib/registry';

type ScheduledHandler = (event: unknown, context: Context) => Promise<unknown>;

/** serverless.yml's scheduled functions (lib/http/routes.ts FUNCTIONS), bound to their handlers. */
export interface ScheduledFunction {
  schedule: string;
  handler: ScheduledHandler;
}

/** serverless.yml's scheduled functions over `registry` (the server's own, as its requests use). */
export function scheduledFunctions(registry: Registry): Record<string, ScheduledFunction> {
  return {
    gcScheduled: { schedule: FUNCTIONS.gcScheduled.schedule, handler: () => collectScheduled(registry) },
    sweeper: { schedule: FUNCTIONS.sweeper.schedule, handler: () => sweep(registry) },
  };
}

/** The Lambda context a scheduled handler gets: its deadline is the next run. */
function lambdaContext(functionName: string, requestId: string, deadline: number): Context {
  const unsupported = () => {
    throw new Error('callback-style completion is not supported');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '0',
    awsRequestId: requestId,
    logGroupName: `/dcos-registry/${functionName}`,
    logStreamName: 'server',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

export interface Scheduler {
  /** Stop scheduling and wait for a run in progress. */
  stop(): Promise<void>;
}

export function startSchedules(
  enabled: boolean,
  functions: Record<string, ScheduledFunction>,
  random = Math.random,
  intervalOf: (fn: ScheduledFunction) => number = (fn) => rateMs(fn.schedule),
): Scheduler {
  const timers = new Map<string, NodeJS.Timeout>();
  const running = new Set<Promise<unknown>>();
  let stopped = false;
  for (const [name, fn] of Object.entries(enabled ? functions : {})) {
    const interval = intervalOf(fn);
    let previous: Promise<unknown> | undefined;
    const run = () => {
      if (stopped) return;
      timers.set(name, setTimeout(run, interval).unref());
      if (previous) log.warn('scheduled function still running after its interval; starting the next run', { function: name });
      const id = randomUUID();
      const started = Date.now();
      const event = {
        version: '0',
        id,
        source: 'aws.events',
        'detail-type': 'Scheduled Event',
        time: new Date().toISOString(),
        detail: {},
      };
      const p = fn
        .handler(event, lambdaContext(name, id, Date.now() + interval))
        .then((result) => log.info('scheduled', { function: name, ms: Date.now() - started, result }))
        .catch((error) => log.error('scheduled function failed', { function: name, ...describeError(error) }))
        .finally(() => {
          running.delete(p);
          if (previous === p) previous = undefined;
        });
      previous = p;
      running.add(p);
    };
    timers.set(name, setTimeout(run, Math.floor(random() * interval)).unref());
  }
  return {
    stop: async () => {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
      await Promise.all(running);
    },
  };
}
