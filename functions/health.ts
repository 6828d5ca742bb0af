/** GET / and GET /health: the seed's exact health shape. */
import { health } from '../lib/health';
import { httpHandler } from '../lib/http/handler';
import { registry } from '../lib/registry';

const route = async () => {
  const { status, body } = await health(registry());
  return { statusCode: status, headers: { 'content-type': 'application/json' }, body };
};

export const handler = httpHandler({ 'GET /': route, 'GET /health': route });
