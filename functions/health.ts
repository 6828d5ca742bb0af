/** GET / and GET /health: the seed's exact health shape (GET / redirects a browser to the web catalog). */
import { health } from '../lib/health';
import type { Request } from '../lib/http/handler';
import { lambdaHandler } from '../lib/http/lambda';
import { registry } from '../lib/registry';
import { prefersHtml, uiRedirect } from '../lib/ui/negotiate';

const answer = async () => {
  const { status, body } = await health(registry());
  return { statusCode: status, headers: { 'content-type': 'application/json' }, body };
};

export const operations = {
  root: async (req: Request) => (prefersHtml(req.headers.accept) ? uiRedirect(registry().config.publicUrl ?? req.origin) : answer()),
  health: answer,
};

export const handler = lambdaHandler('health', operations);
