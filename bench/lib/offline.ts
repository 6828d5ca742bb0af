/** `serverless offline` for the benchmark, run in a code snapshot (see snapshot.ts) instead of the shared checkout. */
import { startOffline, type Offline } from '../../test/support/offline';

/** Each instance's REGISTRY_PUBLIC_URL is its own address (so /repo past the Lambda limit redirects, as deployed). */
export function startOfflineIn(dir: string, env: Record<string, string>, timeoutMs = 180_000): Promise<Offline> {
  return startOffline((url) => ({ REGISTRY_PUBLIC_URL: url, ...env }), timeoutMs, dir);
}
