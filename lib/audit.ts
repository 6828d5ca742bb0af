/**
 * The audit log: who did each write, what, when and from which instance. One small object per
 * record under audit/ (lib/keys.ts), created with If-None-Match: * and never rewritten or deleted by
 * the registry: it is kept apart from the commit log (catalog/log/), which garbage collection
 * truncates. Keys start with the UTC time, so a listing reads in time order (as far as instances'
 * clocks agree: the order between instances is only as good as their clocks, which is enough for
 * an audit trail and is never used to order catalog changes).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { BadRequestError } from './errors';
import { keys } from './keys';
import type { Storage } from './storage/port';

export interface AuditWrite {
  /** Who: the static token's label or the JWT subject (uid / sub). Never the token itself. */
  subject: string;
  /** What: the operation, e.g. "upload.start", "upload.complete", "package.remove", "gc". */
  action: string;
  name?: string;
  version?: string;
  uploadId?: string;
  requestId?: string;
  /** How it ended, when recorded after the fact. */
  outcome?: 'ok' | 'failed';
}

export interface AuditEntry extends AuditWrite {
  /** When, as this instance's clock saw it (ISO 8601, UTC). */
  at: string;
  /** Which instance: host name and process id, plus a random id per process. */
  instance: string;
}

const INSTANCE = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
const MAX_FIELD = 256;

function stampOf(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('.', '');
}

/** Appends one record; returns its key. */
export async function recordWrite(storage: Storage, write: AuditWrite, now: Date = new Date()): Promise<string> {
  const clip = (v: string | undefined) => (v === undefined ? undefined : String(v).slice(0, MAX_FIELD));
  const entry: AuditEntry = {
    at: now.toISOString(),
    instance: INSTANCE,
    subject: clip(write.subject) ?? '',
    action: clip(write.action) ?? '',
    ...(write.name !== undefined ? { name: clip(write.name) } : {}),
    ...(write.version !== undefined ? { version: clip(write.version) } : {}),
    ...(write.uploadId !== undefined ? { uploadId: clip(write.uploadId) } : {}),
    ...(write.requestId !== undefined ? { requestId: clip(write.requestId) } : {}),
    ...(write.outcome !== undefined ? { outcome: write.outcome } : {}),
  };
  const key = keys.auditEntry(stampOf(now), randomBytes(8).toString('hex'));
  await storage.put(key, JSON.stringify(entry), { ifNoneMatch: '*', contentType: 'application/json' });
  return key;
}

export interface AuditPage {
  entries: Array<AuditEntry & { key: string }>;
  /** Give as `after` for the next page; absent on the last page. */
  next?: string;
}

/** Most records one page may hold (GET /audit's `limit`), and the default. */
const AUDIT_PAGE_MAX = 1000;
const AUDIT_PAGE_DEFAULT = 100;

const CURSOR = /^audit\/\d{8}T\d{9}Z-[a-f0-9]{16}\.json$/;

/** GET /audit's query (`after`: a key from a previous page's `next`; `limit`: 1..1000) checked: bad input is a 400. */
export function auditQuery(query: Record<string, string | undefined>): { after?: string; limit: number } {
  const { after, limit } = query;
  if (limit !== undefined && !/^\d{1,4}$/.test(limit)) throw new BadRequestError(`limit must be an integer from 1 to ${AUDIT_PAGE_MAX}`);
  const n = limit === undefined ? AUDIT_PAGE_DEFAULT : Number(limit);
  if (n < 1 || n > AUDIT_PAGE_MAX) throw new BadRequestError(`limit must be an integer from 1 to ${AUDIT_PAGE_MAX}`);
  if (after !== undefined && !CURSOR.test(after)) throw new BadRequestError("after must be a previous page's next");
  return { ...(after !== undefined ? { after } : {}), limit: n };
}

/** Records in key (time) order, after a key from a previous page, at most `limit` (1..1000, default 100). */
export async function readAudit(storage: Storage, opts: { after?: string; limit?: number } = {}): Promise<AuditPage> {
  const limit = Math.min(AUDIT_PAGE_MAX, Math.max(1, Math.floor(opts.limit ?? AUDIT_PAGE_DEFAULT)));
  const prefix = keys.auditPrefix();
  if (opts.after !== undefined && !opts.after.startsWith(prefix)) throw new RangeError('bad audit cursor');
  const listed = await storage.list(prefix, { startAfter: opts.after, limit: limit + 1 });
  const page = listed.slice(0, limit);
  const entries = await Promise.all(
    page.map(async (o) => ({ ...(JSON.parse((await storage.get(o.key)).body.toString('utf8')) as AuditEntry), key: o.key })),
  );
  return { entries, ...(listed.length > limit ? { next: page[page.length - 1].key } : {}) };
}
