/** GET /resource/{digest}/{name}: an asset file of an added package. */
import { httpHandler } from '../lib/http/handler';
import { registry } from '../lib/registry';
import { resourceAnswer } from '../lib/resource';

export const handler = httpHandler({
  'GET /resource/{digest}/{name}': (req) => resourceAnswer(registry(), req.params.digest, req.params.name, req.origin),
});
