/** One structured logger per process: JSON lines on stderr. Never log tokens, credentials or whole events. */
import { config } from './config';
import { mapStack } from './stack';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;

function emit(level: Level, msg: string, fields?: Record<string, unknown>): void {
  let threshold: Level = 'info';
  try {
    threshold = config().logLevel;
  } catch {
    /* config errors are reported elsewhere; keep logging */
  }
  if (LEVELS[level] < LEVELS[threshold]) return;
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
}

export const log = {
  debug: (msg: string, fields?: Record<string, unknown>) => emit('debug', msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => emit('info', msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => emit('warn', msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => emit('error', msg, fields),
};

/** An error's name, message and first stack frames, mapped to the TypeScript sources where a bundle's .map is beside it (lib/stack.ts). */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const stack = error.stack?.split('\n').slice(0, 6).join('\n');
    return { error: error.name, message: error.message, stack: stack === undefined ? undefined : mapStack(stack) };
  }
  return { error: String(error) };
}
