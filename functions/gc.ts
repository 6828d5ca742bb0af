/** Garbage collection: POST /gc for operators (`dcos-registry gc`), and on a schedule. */
import { collectGarbage } from '../lib/gc';
import { json, type Request } from '../lib/http/handler';
import { lambdaHandler } from '../lib/http/lambda';
import { registry } from '../lib/registry';

export const operations = {
  collectGarbage: async (req: Request) => json(200, await collectGarbage(req.registry)),
};

export const handler = lambdaHandler('gc', operations);

/** The scheduled entry point (not an HTTP event). */
export const scheduled = async () => collectGarbage(registry());
