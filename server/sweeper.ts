/**
 * Runs serverless.yml's scheduled functions (the upload sweeper) inside the server, since
 * on-prem there is no EventBridge. Every instance runs it at a random phase of the
 * interval, so N instances sweep N times per interval at spread-out moments; the sweeper
 * is safe to run concurrently (it only finishes or fails uploads through the commit
 * protocol), as overlapping Lambda invocations already require.
 */
import { randomUUID } from 'node:crypto';
import { describeError, log } from '../lib/log';
import { lambdaContext } from './event';
import { rateMs, SCHEDULED_FUNCTIONS } from './routes';

export interface Scheduler {
  /** Stop scheduling and wait for a run in progress. */
  stop(): Promise<void>;
}

export function startSchedules(intervalOverrideMs: number | undefined, random = Math.random): Scheduler {
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<unknown>>();
  let stopped = false;
  for (const [name, fn] of Object.entries(SCHEDULED_FUNCTIONS)) {
    const interval = intervalOverrideMs ?? rateMs(fn.schedule);
    if (interval <= 0) continue;
    const run = () => {
      if (stopped) return;
      const id = randomUUID();
      const started = Date.now();
      const event = { version: '0', id, source: 'aws.events', 'detail-type': 'Scheduled Event', time: new Date().toISOString(), detail: {} };
      const p = fn
        .handler(event, lambdaContext(name, id, Date.now() + interval))
        .then((result) => log.info('scheduled', { function: name, ms: Date.now() - started, result }))
        .catch((error) => log.error('scheduled function failed', { function: name, ...describeError(error) }))
        .finally(() => {
          running.delete(p);
          if (!stopped) timers.push(setTimeout(run, interval).unref());
        });
      running.add(p);
    };
    timers.push(setTimeout(run, Math.floor(random() * interval)).unref());
  }
  return {
    stop: async () => {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      await Promise.all(running);
    },
  };
}
