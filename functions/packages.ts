/** Describe, list and remove package versions. */
import { httpHandler, json } from '../lib/http/handler';
import { describe, list, remove } from '../lib/packages';
import { registry } from '../lib/registry';

export const handler = httpHandler({
  'GET /package': async () => json(200, await list(registry())),
  'GET /package/{name}/{version}': async (req) => json(200, await describe(registry(), req.params.name, req.params.version)),
  'DELETE /package/{name}/{version}': [
    async (req) => json(200, await remove(registry(), req.params.name, req.params.version)),
    { write: true },
  ],
});
