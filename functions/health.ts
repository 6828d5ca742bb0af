/** GET / and GET /health: the seed's exact health shape. */
import { health } from '../lib/health';
import { lambdaHandler } from '../lib/http/lambda';
import { registry } from '../lib/registry';

const answer = async () => {
  const { status, body } = await health(registry());
  return { statusCode: status, headers: { 'content-type': 'application/json' }, body };
};

export const operations = { root: answer, health: answer };

export const handler = lambdaHandler('health', operations);
