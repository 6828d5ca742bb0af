/** GET / and GET /health: the seed's exact health shape (GET / redirects a browser to the web catalog). */
import { health } from '../lib/health';
import type { Request } from '../lib/http/handler';
import { lambdaHandler } from '../lib/http/lambda';
import { prefersHtml, uiRedirect } from '../lib/ui/negotiate';

const answer = async (req: Request) => {
  const { status, body } = await health(req.registry);
  return { statusCode: status, headers: { 'content-type': 'application/json' }, body };
};

export const operations = {
  root: async (req: Request) => (prefersHtml(req.headers.accept) ? uiRedirect(req.registry.config.publicUrl ?? req.origin) : answer(req)),
  health: answer,
};

export const handler = lambdaHandler('health', operations);
