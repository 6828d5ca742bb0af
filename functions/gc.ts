/** Garbage collection: POST /gc for operators (`dcos-registry gc`), and on a schedule. */
import { collectGarbage } from '../lib/gc';
import { httpHandler, json } from '../lib/http/handler';
import { registry } from '../lib/registry';

export const handler = httpHandler({
  'POST /gc': [async () => json(200, await collectGarbage(registry())), { write: true }],
});

/** The scheduled entry point (not an HTTP event). */
export const scheduled = async () => collectGarbage(registry());
