/**
 * A storage port that counts the store requests made through it (signing a URL is local
 * work, not a request), for the "store requests per /repo and per commit" figures.
 */
import type { Storage } from '../../lib/storage/port';

const LOCAL = new Set(['signPut', 'signGet', 'signPart', 'kind']);

export interface Counting {
  storage: Storage;
  count(): number;
}

export function counting(inner: Storage): Counting {
  let n = 0;
  const storage = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || LOCAL.has(String(prop))) return typeof value === 'function' ? value.bind(target) : value;
      return (...args: unknown[]) => {
        n++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { storage, count: () => n };
}
