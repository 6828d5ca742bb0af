/** Scheduled: finish or fail uploads nobody drives; settle the catalog snapshot. */
import { log } from '../lib/log';
import { type Registry, registry } from '../lib/registry';
import { Uploads } from '../lib/uploads/service';

/** One sweep over a registry: the server's schedules (server/schedules.ts) run it on theirs. */
export async function sweep(r: Registry): Promise<{ finished: number; failed: number; pending: number }> {
  const result = await new Uploads(r).sweep();
  log.info('sweep', result);
  return result;
}

/** The scheduled Lambda entry point, over the process's registry. */
export const handler = async () => sweep(registry());
