/** GET /repo: the Universe repository index. */
import type { Request } from '../lib/http/handler';
import { lambdaHandler } from '../lib/http/lambda';
import { repoAnswer } from '../lib/repo';

export const operations = {
  getRepo: (req: Request) =>
    repoAnswer(req.registry, {
      accept: req.headers.accept,
      acceptEncoding: req.headers['accept-encoding'],
      ifNoneMatch: req.headers['if-none-match'],
      userAgent: req.headers['user-agent'],
      origin: req.origin,
    }),
};

export const handler = lambdaHandler('repo', operations);
