/** Garbage collection: POST /gc for operators (`dcos-registry gc`), and on a schedule. */
import { collectGarbage } from '../lib/gc';
import { json, type Request } from '../lib/http/handler';
import { lambdaHandler } from '../lib/http/lambda';
import { type Registry, registry } from '../lib/registry';

export const operations = {
  collectGarbage: async (req: Request) => json(200, await collectGarbage(req.registry)),
};

export const handler = lambdaHandler('gc', operations);

/** The scheduled collection over a registry: the server's schedules (server/schedules.ts) run it on theirs. */
export const collectScheduled = (r: Registry) => collectGarbage(r);

/** The scheduled Lambda entry point (not an HTTP event), over the process's registry. */
export const scheduled = async () => collectScheduled(registry());
