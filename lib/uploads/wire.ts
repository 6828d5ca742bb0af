/**
 * The upload protocol on the wire (docs/openapi.yaml, tag "uploads"): the one declaration of
 * its requests and answers, for the server (lib/uploads) and the CLI (lib/client) alike.
 * Type-only: the client checks every answer at run time anyway (lib/client/plan.ts).
 */
import type { BundleManifest } from '../bundle/manifest';
import type { ErrorType } from '../errors';
import type { Describe } from '../packages';

export type UploadStatus = 'Uploading' | 'Processing' | 'Added' | 'Failed';

/** POST /uploads: the bundle's manifest. */
export interface StartUploadRequest {
  manifest: BundleManifest;
}

/** Where to PUT a blob in one request. */
interface SingleTarget {
  method: 'PUT';
  url: string;
  headers: Record<string, string>;
}

/** Where to PUT each part of a big blob: part k holds bytes [(k-1)*partSize, min(k*partSize, size)). */
interface MultipartTarget {
  multipart: { partSize: number; parts: PartTarget[] };
  headers: Record<string, string>;
}

interface PartTarget {
  partNumber: number;
  /** Empty when the part was received already. */
  url: string;
  received: boolean;
}

export interface BlobTarget {
  /** sha256:<hex> */
  digest: string;
  size: number;
  /** The registry has these bytes: send nothing. */
  present: boolean;
  /** The registry has the staged bytes (GET /uploads/{id} checks; POST /uploads says false). */
  received?: boolean;
  /** Only while Uploading and not received. */
  upload?: SingleTarget | MultipartTarget;
}

/** Why an upload is Failed; repeated as the error of every later complete. */
export interface UploadError {
  type: ErrorType;
  message: string;
  data?: Record<string, unknown>;
}

/** Answer of POST /uploads (201) and GET /uploads/{id} (200). */
export interface UploadView {
  id: string;
  status: UploadStatus;
  name: string;
  version: string;
  expiresAt: string;
  /** In manifest order. */
  blobs: BlobTarget[];
  /**
   * True when the upload needs more signed targets than one answer carries
   * (REGISTRY_UPLOAD_URLS_PER_ANSWER): send these, then GET /uploads/{id} for the next ones.
   * Blobs left for a later answer have no `upload`; multipart lists stop at the cut.
   */
  more?: boolean;
  error?: UploadError;
}

/** Answer of POST /uploads/{id}/complete while it still works (202). */
export interface CompleteProgress {
  id: string;
  status: 'Processing';
  progress: { blobs: number; verified: number; bytes: number; verifiedBytes: number };
}

/** Answer of POST /uploads/{id}/complete: the added version (200) or progress (202). */
export type CompleteAnswer = Describe | CompleteProgress;
