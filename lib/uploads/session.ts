/**
 * Upload sessions: one JSON object per upload (uploads/<id>/session.json), created
 * create-only and updated by compare-and-swap, so concurrent `complete` calls of one
 * upload never lose each other's progress.
 */
import { randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError, PreconditionFailedError, UploadNotFoundError } from '../errors';
import { keys } from '../keys';
import { type Backoff, backoffDelay, sleep } from '../retry';
import type { BundleManifest } from '../bundle/manifest';
import type { Storage } from '../storage/port';
import type { UploadError, UploadStatus } from './wire';

export interface SessionBlob {
  /** Bare hex sha256. */
  digest: string;
  size: number;
  /** Already in the blob area when the upload started: nothing to send. */
  present: boolean;
  /** Store multipart upload id for big blobs. */
  multipartId?: string;
  partSize?: number;
  /** Staged bytes were assembled (multipart completed). */
  assembled?: boolean;
  /** Single-PUT bytes were copied to the upload's private key (keys.uploadSealed). */
  sealed?: boolean;
  /** Bytes verified and in the blob area. */
  verified?: boolean;
  /** Resumable hashing of a big staged blob: offset reached, hasher state, staged etag. */
  hashing?: { offset: number; state: string; etag: string };
}

export interface UploadSession {
  id: string;
  status: UploadStatus;
  name: string;
  version: string;
  contentDigest: string;
  createdAt: string;
  expiresAt: string;
  manifest: BundleManifest;
  blobs: SessionBlob[];
  error?: UploadError;
  seq?: number;
}

/** Callers racing for one session: full jitter growing by 50 ms per lost race. */
const CAS_BACKOFF: Backoff = { baseMs: 50, maxMs: Infinity, growth: 'linear', jitter: 'full' };

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
/** 130 random bits as 26 base32 characters (keys.UPLOAD_ID). */
export function newUploadId(): string {
  return Array.from(randomBytes(26), (b) => ALPHABET[b & 31]).join('');
}

/** Sessions whose last known text and etag an instance remembers: bounded in count and in bytes. */
const KNOWN_MAX = 256;
/** Bytes of remembered session text per instance; one session may take at most a quarter of it. */
export const SESSION_MEMORY_BYTES = 16 * 1024 * 1024;
const KNOWN_ENTRY_MAX_BYTES = SESSION_MEMORY_BYTES / 4;

export class Sessions {
  /**
   * Last text and etag this instance read or wrote per session: load() revalidates it with a
   * conditional GET (no body when unchanged) and update() swaps against it without reading
   * first. A stale entry only costs a lost swap (412), after which update() reads afresh.
   */
  private readonly known = new Map<string, { text: string; etag: string }>();
  private knownBytes = 0;

  constructor(private readonly storage: Storage) {}

  /** Bytes of session text this instance remembers (at most SESSION_MEMORY_BYTES). */
  get rememberedBytes(): number {
    return this.knownBytes;
  }

  private forget(id: string): void {
    const entry = this.known.get(id);
    if (!entry) return;
    this.knownBytes -= entry.text.length;
    this.known.delete(id);
  }

  private remember(id: string, text: string, etag: string): void {
    this.forget(id);
    // Too big to be worth holding: such a session is read from the store each time.
    if (text.length > KNOWN_ENTRY_MAX_BYTES) return;
    this.known.set(id, { text, etag });
    this.knownBytes += text.length;
    // Least recently remembered first, until both bounds hold.
    while (this.known.size > KNOWN_MAX || this.knownBytes > SESSION_MEMORY_BYTES) this.forget(this.known.keys().next().value!);
  }

  async create(session: UploadSession): Promise<void> {
    const text = JSON.stringify(session);
    const { etag } = await this.storage.put(keys.uploadSession(session.id), text, { ifNoneMatch: '*', contentType: 'application/json' });
    this.remember(session.id, text, etag);
  }

  async load(id: string): Promise<{ session: UploadSession; etag: string }> {
    const known = this.known.get(id);
    try {
      const obj = await this.storage.getIfChanged(keys.uploadSession(id), known?.etag);
      if (obj === null && known) return { session: JSON.parse(known.text) as UploadSession, etag: known.etag };
      if (obj === null) throw new Error(`store answered "not modified" to an unconditional read of ${keys.uploadSession(id)}`);
      const text = obj.body.toString('utf8');
      this.remember(id, text, obj.etag);
      return { session: JSON.parse(text) as UploadSession, etag: obj.etag };
    } catch (error) {
      if (error instanceof NotFoundError) {
        this.forget(id);
        throw new UploadNotFoundError(id);
      }
      throw error;
    }
  }

  /**
   * Apply `change` to the current session and store it with CAS, re-reading and
   * re-applying on a lost race. `change` returns false to leave the session as it is.
   * The first attempt swaps against the version this instance last saw, without a read.
   */
  async update(id: string, change: (s: UploadSession) => boolean | void): Promise<UploadSession> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const known = attempt === 0 ? this.known.get(id) : undefined;
      const { session, etag } = known ? { session: JSON.parse(known.text) as UploadSession, etag: known.etag } : await this.load(id);
      let unchanged: boolean;
      try {
        unchanged = change(session) === false;
      } catch (error) {
        if (!known) throw error;
        this.forget(id); // decided on a remembered copy: decide again on the store's
        continue;
      }
      if (unchanged) {
        if (!known) return session;
        // Decided on a remembered copy: confirm it against the store before acting on it.
        this.forget(id);
        continue;
      }
      const text = JSON.stringify(session);
      try {
        const put = await this.storage.put(keys.uploadSession(id), text, { ifMatch: etag, contentType: 'application/json' });
        this.remember(id, text, put.etag);
        return session;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError || error instanceof ConflictError)) throw error;
        this.forget(id);
        if (known) continue; // a stale remembered copy: read afresh at once
        await sleep(backoffDelay(CAS_BACKOFF, attempt));
      }
    }
    throw new ConflictError(keys.uploadSession(id));
  }
}
