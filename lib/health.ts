/**
 * Health: exactly {"checks":{"/repo":{"Healthy":{"message":"Able to find N package(s)."}}}}
 * (compact, this key order), or 503 with Unhealthy and the reason when the store cannot
 * be read or the capability probe found that it ignores conditional writes.
 */
import { describeError, log } from './log';
import type { Registry } from './registry';
import { readVerdict } from './storage/probe';

export async function health(registry: Registry): Promise<{ status: number; body: string }> {
  const unhealthy = (message: string) => ({
    status: 503,
    body: JSON.stringify({ checks: { '/repo': { Unhealthy: { message } } } }),
  });
  try {
    const [{ state }, verdict] = await Promise.all([registry.catalog.read(), readVerdict(registry.storage)]);
    if (verdict && !verdict.ok) return unhealthy(`Storage refuses writes: ${verdict.reason}`);
    return {
      status: 200,
      body: JSON.stringify({ checks: { '/repo': { Healthy: { message: `Able to find ${state.versions.length} package(s).` } } } }),
    };
  } catch (error) {
    log.error('health check failed', describeError(error));
    return unhealthy('Unable to read the catalog from storage');
  }
}
