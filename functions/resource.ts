/** GET/HEAD /resource/{digest}/{name}: an asset file of an added package. */
import { httpHandler } from '../lib/http/handler';
import { registry } from '../lib/registry';
import { resourceAnswer } from '../lib/resource';

export const handler = httpHandler({
  'GET /resource/{digest}/{name}': (req) =>
    resourceAnswer(registry(), {
      digest: req.params.digest,
      name: req.params.name,
      origin: req.origin,
      head: req.method === 'HEAD',
      range: req.headers.range,
      ifNoneMatch: req.headers['if-none-match'],
    }),
});
