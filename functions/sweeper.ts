/** Scheduled: finish or fail uploads nobody drives; settle the catalog snapshot. */
import { log } from '../lib/log';
import { registry } from '../lib/registry';
import { Uploads } from '../lib/uploads/service';

export const handler = async (): Promise<{ finished: number; failed: number; pending: number }> => {
  const result = await new Uploads(registry()).sweep();
  log.info('sweep', result);
  return result;
};
