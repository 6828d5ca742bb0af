/** /v2/...: the read-only Docker Registry HTTP API v2 (errors in its own shape, see lib/v2/errors.ts). */
import { v2Answer } from '../lib/v2/serve';
import type { Request } from '../lib/http/handler';
import { lambdaHandler } from '../lib/http/lambda';

const answer = (req: Request) => v2Answer(req.registry, req);

export const operations = { v2Base: answer, v2Get: answer, v2Head: answer };

export const handler = lambdaHandler('v2', operations);
