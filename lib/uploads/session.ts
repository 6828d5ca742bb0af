/**
 * Upload sessions: one JSON object per upload (uploads/<id>/session.json), created
 * create-only and updated by compare-and-swap, so concurrent `complete` calls of one
 * upload never lose each other's progress.
 */
import { randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError, PreconditionFailedError, UploadNotFoundError } from '../errors';
import { keys } from '../keys';
import type { BundleManifest } from '../bundle/manifest';
import type { Storage } from '../storage/port';

export type UploadStatus = 'Uploading' | 'Processing' | 'Added' | 'Failed';

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
  error?: { type: string; message: string; data?: Record<string, unknown> };
  seq?: number;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
/** 130 random bits as 26 base32 characters (keys.UPLOAD_ID). */
export function newUploadId(): string {
  return Array.from(randomBytes(26), (b) => ALPHABET[b & 31]).join('');
}

export class Sessions {
  constructor(private readonly storage: Storage) {}

  async create(session: UploadSession): Promise<void> {
    await this.storage.put(keys.uploadSession(session.id), JSON.stringify(session), { ifNoneMatch: '*', contentType: 'application/json' });
  }

  async load(id: string): Promise<{ session: UploadSession; etag: string }> {
    try {
      const obj = await this.storage.get(keys.uploadSession(id));
      return { session: JSON.parse(obj.body.toString('utf8')) as UploadSession, etag: obj.etag };
    } catch (error) {
      if (error instanceof NotFoundError) throw new UploadNotFoundError(id);
      throw error;
    }
  }

  /**
   * Apply `change` to the current session and store it with CAS, re-reading and
   * re-applying on a lost race. `change` returns false to leave the session as it is.
   */
  async update(id: string, change: (s: UploadSession) => boolean | void): Promise<UploadSession> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const { session, etag } = await this.load(id);
      if (change(session) === false) return session;
      try {
        await this.storage.put(keys.uploadSession(id), JSON.stringify(session), { ifMatch: etag, contentType: 'application/json' });
        return session;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError || error instanceof ConflictError)) throw error;
        await new Promise((r) => setTimeout(r, Math.random() * 50 * (attempt + 1)));
      }
    }
    throw new ConflictError(keys.uploadSession(id));
  }
}
