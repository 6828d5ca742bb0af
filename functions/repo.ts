/** GET /repo: the Universe repository index. */
import { httpHandler } from '../lib/http/handler';
import { registry } from '../lib/registry';
import { repoAnswer } from '../lib/repo';

export const handler = httpHandler({
  'GET /repo': (req) =>
    repoAnswer(registry(), {
      accept: req.headers.accept,
      acceptEncoding: req.headers['accept-encoding'],
      ifNoneMatch: req.headers['if-none-match'],
      userAgent: req.headers['user-agent'],
      origin: req.origin,
    }),
});
