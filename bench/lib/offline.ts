/** `serverless offline` for the benchmark, run in a code snapshot (see snapshot.ts) instead of the shared checkout. */
import { startOffline, type Offline } from '../../test/support/offline';

export function startOfflineIn(dir: string, env: Record<string, string>, timeoutMs = 180_000): Promise<Offline> {
  return startOffline(env, timeoutMs, dir);
}
