/** GET/HEAD /resource/{digest}/{name}: an asset file of an added package. */
import type { Request } from '../lib/http/handler';
import { lambdaHandler } from '../lib/http/lambda';
import { resourceAnswer } from '../lib/resource';

const answer = (req: Request) =>
  resourceAnswer(req.registry, {
    digest: req.params.digest,
    name: req.params.name,
    origin: req.origin,
    head: req.method === 'HEAD',
    range: req.headers.range,
    ifNoneMatch: req.headers['if-none-match'],
  });

export const operations = { getResource: answer, headResource: answer };

export const handler = lambdaHandler('resource', operations);
