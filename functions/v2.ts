/** /v2/...: the read-only Docker Registry HTTP API v2 (errors in its own shape, see lib/docker/v2-errors.ts). */
import { v2Answer } from '../lib/docker/serve';
import { httpHandler, type Request } from '../lib/http/handler';
import { registry } from '../lib/registry';

const v2 = (req: Request) => v2Answer(registry(), req);

export const handler = httpHandler({
  'GET /v2': v2,
  'GET /v2/{proxy+}': v2,
});
