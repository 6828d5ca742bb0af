/**
 * Adding a package: start an upload (signed targets for the blobs the store lacks),
 * complete it in bounded steps (assemble, verify sha256 and size, move verified bytes
 * into the blob area, validate, commit), abort it, or sweep abandoned ones.
 *
 * Bytes never pass through a function: clients PUT them to signed URLs of a staging
 * area private to the upload (uploads/<id>/blobs/<hex>), so nobody can squat a content
 * address; only bytes the registry has hashed itself, in a copy no client can write,
 * are copied to blobs/sha256/<hex>, so what was verified is exactly what lands
 * (invariant 4).
 */
import { createHash } from 'node:crypto';
import { createSHA256 } from 'hash-wasm';
import { find, type ImageRef } from '../catalog/model';
import { addVersion } from '../catalog/ops';
import type { BundleManifest } from '../bundle/manifest';
import { imagesWithBlobs } from '../v2/image-blobs';
import {
  NotFoundError,
  PayloadTooLargeError,
  PreconditionFailedError,
  RegistryError,
  UploadStateError,
  VersionExistsError,
} from '../errors';
import { mapLimit } from '../limit';
import { keys } from '../keys';
import { describeVersion, indexUpload } from '../packages';
import type { Config } from '../config';
import type { Registry } from '../registry';
import { backoffDelay, sleep } from '../retry';
import { MAX_PART_NUMBER, type MultipartPart, type SignOptions, type Storage } from '../storage/port';
import { checkUploadManifest, contentDigest } from './manifest';
import { newUploadId, Sessions, type SessionBlob, type UploadSession } from './session';
import type { BlobTarget, CompleteAnswer, CompleteProgress, StartUploadRequest, UploadView } from './wire';

/** Blobs above this go in parts; parts are at most this big (serverless-offline caps bodies at 10 MB). */
export const PART_SIZE = 8 * 1024 * 1024;
/** Signed targets live this long; GET /uploads/{id} signs fresh ones. */
const TARGET_TTL_S = 3600;
/** An upload nobody drives is failed by the sweeper after this. */
export const UPLOAD_TTL_MS = 24 * 3600 * 1000;
/**
 * One complete call verifies for at most this long: an HTTP function has 29 s, and the
 * commit that may follow (blob checks, catalog commit) needs the rest, also on a busy host.
 */
const STEP_BUDGET_MS = 15_000;
/** The fast (non-resumable) read-back hash judges after this long whether it will end in time. */
const FAST_HASH_PROBE_MS = 500;

function partSizeFor(size: number): number {
  const mib = 1024 * 1024;
  return Math.max(PART_SIZE, Math.ceil(size / MAX_PART_NUMBER / mib) * mib);
}

export type { UploadView } from './wire';

/** Targets (single PUTs plus parts) a blob of this size needs. */
function targetsOf(size: number): number {
  return size > PART_SIZE ? Math.max(1, Math.ceil(size / partSizeFor(size))) : 1;
}

/**
 * What an upload may declare (issue 10 item 6): its bytes, each blob's bytes and the targets it
 * needs are capped before anything is stored or signed, so a small manifest cannot make the
 * registry create or sign without bound.
 */
function checkUploadLimits(blobs: ReadonlyArray<{ digest: string; size: number }>, limits: Config['uploadLimits']): void {
  let bytes = 0;
  let targets = 0;
  for (const b of blobs) {
    if (b.size > limits.maxBlobBytes) {
      throw new PayloadTooLargeError(
        `Blob ${b.digest} declares ${b.size} bytes; this registry accepts at most ${limits.maxBlobBytes} bytes per blob (REGISTRY_MAX_BLOB_BYTES)`,
      );
    }
    bytes += b.size;
    targets += targetsOf(b.size);
  }
  if (bytes > limits.maxUploadBytes) {
    throw new PayloadTooLargeError(
      `The upload declares ${bytes} bytes in ${blobs.length} blobs; this registry accepts at most ${limits.maxUploadBytes} bytes per upload (REGISTRY_MAX_UPLOAD_BYTES)`,
    );
  }
  if (targets > limits.maxUploadParts) {
    throw new PayloadTooLargeError(
      `The upload needs ${targets} upload targets (single PUTs and ${PART_SIZE / 1024 / 1024} MiB parts); this registry accepts at most ${limits.maxUploadParts} per upload (REGISTRY_MAX_UPLOAD_PARTS)`,
    );
  }
}

export interface CompleteResult {
  done: boolean;
  body: CompleteAnswer;
}

const OCTET = { 'Content-Type': 'application/octet-stream' };

/** The session's record of one blob (the digest is one of the session's). */
function blobOf(session: UploadSession, digest: string): SessionBlob {
  return session.blobs.find((b) => b.digest === digest)!;
}

/** A garbage collection started between an add's blob check and its commit: check again. */
class GcFenceError extends Error {}

export class Uploads {
  private readonly sessions: Sessions;

  constructor(
    private readonly registry: Registry,
    private readonly now: () => number = Date.now,
  ) {
    this.sessions = new Sessions(registry.storage);
  }

  /** POST /uploads */
  async start(body: Partial<Record<keyof StartUploadRequest, unknown>>): Promise<UploadView> {
    const manifest = checkUploadManifest(body.manifest);
    checkUploadLimits(manifest.blobs, this.registry.config.uploadLimits);
    this.checkRuntimeRelays();
    const { storage } = this.registry;
    await this.registry.gate.check();
    const id = newUploadId();
    const blobs: SessionBlob[] = manifest.blobs.map((b) => ({ digest: b.digest.slice(7), size: b.size, present: false }));
    await mapLimit(blobs, 16, async (b) => {
      try {
        await storage.head(keys.blob(b.digest));
        b.present = true;
        b.verified = true;
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
        if (b.size > PART_SIZE) {
          b.partSize = partSizeFor(b.size);
          b.multipartId = await storage.createMultipart(keys.uploadBlob(id, b.digest));
        }
      }
    });
    const session: UploadSession = {
      id,
      status: 'Uploading',
      name: manifest.package.name,
      version: manifest.package.version,
      contentDigest: contentDigest(manifest),
      createdAt: new Date(this.now()).toISOString(),
      expiresAt: new Date(this.now() + UPLOAD_TTL_MS).toISOString(),
      manifest,
      blobs,
    };
    // Index by name+version first, so that describe finds the upload from any instance (lib/packages.ts).
    await indexUpload(storage, session);
    await this.sessions.create(session);
    return this.view(session, false);
  }

  /**
   * Bodies relayed to a store (REGISTRY_UPLOADS=proxy on S3) must be streamed: Lambda cannot
   * (its payload limit is below a part), so an upload is refused there before anything is stored.
   */
  private checkRuntimeRelays(): void {
    const { storage, streamsBodies } = this.registry;
    if (storage.urls?.servedBy === 'registry' && storage.kind !== 'file' && !streamsBodies) {
      throw new RegistryError(
        'NotImplemented',
        'Uploads through the registry (REGISTRY_UPLOADS=proxy) need the production server (dist/server.js): Lambda cannot stream request bodies of this size to the store. Serve with the production server, or set REGISTRY_UPLOADS=direct with a store clients can reach',
      );
    }
  }

  /** GET /uploads/{id}: state and fresh targets for what has not been received. */
  async status(id: string): Promise<UploadView> {
    const { session } = await this.sessions.load(id);
    return this.view(session, true);
  }

  /**
   * The upload's state with signed targets for what is not received yet, at most
   * uploadUrlsPerAnswer of them, handed out in manifest and part order (`more` says when some
   * were left for the next GET /uploads/{id}).
   *
   * Targets the registry serves itself (/_store: the filesystem driver, REGISTRY_UPLOADS=proxy) are
   * signed without an origin: references relative to the registry's base (`_store/...`) that the
   * client resolves against the base URL it called, whatever prefix a proxy in front strips
   * (Admin Router's /service/<name>/), which the public URL (the VIP, for Cosmos and agents) cannot
   * say. S3's presigned targets are absolute.
   */
  private async view(session: UploadSession, checkReceived: boolean): Promise<UploadView> {
    const { storage } = this.registry;
    const sign: SignOptions = { expiresIn: TARGET_TTL_S, contentType: 'application/octet-stream' };
    const open = session.status === 'Uploading';
    // What the store has, for every blob at once; then the URL budget is spent in a fixed order.
    const received = await mapLimit(session.blobs, 16, async (b): Promise<boolean | Set<number>> => {
      if (b.present || b.verified || b.assembled) return true;
      const staged = keys.uploadBlob(session.id, b.digest);
      if (!b.multipartId) {
        return checkReceived
          ? storage.head(staged).then(
              () => true,
              () => false,
            )
          : false;
      }
      return checkReceived
        ? new Set((await storage.listParts(staged, b.multipartId).catch(() => [])).map((p) => p.partNumber))
        : new Set<number>();
    });
    let budget = this.registry.config.uploadLimits.urlsPerAnswer;
    let more = false;
    const signing: Array<Promise<void>> = [];
    const blobs = session.blobs.map((b, i): BlobTarget => {
      const t: BlobTarget = { digest: `sha256:${b.digest}`, size: b.size, present: b.present };
      if (b.present) return t;
      const got = received[i];
      if (got === true || got === false) {
        t.received = got;
        if (got || !open) return t;
        if (budget === 0) {
          more = true;
          return t;
        }
        budget--;
        const staged = keys.uploadBlob(session.id, b.digest);
        signing.push(storage.signPut(staged, sign).then((url) => void (t.upload = { method: 'PUT', url, headers: OCTET })));
        return t;
      }
      const partSize = b.partSize!;
      const count = Math.max(1, Math.ceil(b.size / partSize));
      t.received = got.size === count;
      if (!open || t.received) return t;
      const staged = keys.uploadBlob(session.id, b.digest);
      const parts: Array<{ partNumber: number; url: string; received: boolean }> = [];
      for (let n = 1; n <= count; n++) {
        if (got.has(n)) {
          parts.push({ partNumber: n, url: '', received: true });
          continue;
        }
        if (budget === 0) {
          more = true;
          break;
        }
        budget--;
        const part = { partNumber: n, url: '', received: false };
        parts.push(part);
        signing.push(storage.signPart(staged, b.multipartId!, n, sign).then((url) => void (part.url = url)));
      }
      if (parts.some((p) => !p.received)) t.upload = { multipart: { partSize, parts }, headers: OCTET };
      return t;
    });
    await Promise.all(signing);
    return {
      id: session.id,
      status: session.status,
      name: session.name,
      version: session.version,
      expiresAt: session.expiresAt,
      blobs,
      ...(more ? { more: true } : {}),
      ...(session.error ? { error: session.error } : {}),
    };
  }

  /** POST /uploads/{id}/complete: one bounded step; done when the version is in the catalog. */
  async complete(id: string, budgetMs = STEP_BUDGET_MS): Promise<CompleteResult> {
    await this.registry.gate.check();
    const deadline = this.now() + budgetMs;
    let { session } = await this.sessions.load(id);
    if (session.status === 'Failed') throw this.failure(session);
    if (session.status !== 'Added') {
      for (const blob of session.blobs) {
        if (blob.verified) continue;
        if (this.now() > deadline) break;
        session = await this.verifyBlob(session, blob.digest, deadline);
      }
      if (session.blobs.every((b) => b.verified)) return this.commit(session);
      return { done: false, body: this.progress(session) };
    }
    const { state } = await this.registry.catalog.read();
    const v = find(state, session.name, session.version);
    if (v && v.contentDigest === session.contentDigest) {
      // A call that died between "Added" and its clean-up left staged bytes: drop them now.
      await this.cleanup(id).catch(() => undefined);
      return { done: true, body: describeVersion(state, v) };
    }
    // Committed once, since removed (or replaced): the upload is over.
    throw new UploadStateError(`Upload ${id} was committed and its version has since been removed`, { uploadId: id });
  }

  private progress(s: UploadSession): CompleteProgress {
    const verified = s.blobs.filter((b) => b.verified);
    return {
      id: s.id,
      status: 'Processing',
      progress: {
        blobs: s.blobs.length,
        verified: verified.length,
        bytes: s.blobs.reduce((n, b) => n + b.size, 0),
        verifiedBytes: verified.reduce((n, b) => n + b.size, 0) + s.blobs.reduce((n, b) => n + (b.hashing?.offset ?? 0), 0),
      },
    };
  }

  private failure(session: UploadSession): RegistryError {
    const e = session.error ?? { type: 'UploadFailed', message: 'Upload failed' };
    return new RegistryError(e.type, e.message, { ...(e.data ?? {}), uploadId: session.id });
  }

  /** Mark the upload Failed with this error (terminal) and throw it. */
  private async fail(id: string, error: RegistryError): Promise<never> {
    await this.sessions.update(id, (s) => {
      if (s.status === 'Added' || s.status === 'Failed') return false;
      s.status = 'Failed';
      s.error = { type: error.type, message: error.message, ...(error.data ? { data: error.data } : {}) };
    });
    await this.cleanup(id).catch(() => undefined);
    throw error;
  }

  /**
   * One blob's verification, in the steps a reader can follow: already landed (someone
   * else's upload brought the bytes)? assemble its parts; seal a single-PUT blob; check the
   * size; hash (resumably, across calls); land the verified bytes in the blob area. Each step
   * records its progress in the session, so a call cut short resumes at the next one.
   */
  private async verifyBlob(session: UploadSession, digest: string, deadline: number): Promise<UploadSession> {
    if (await this.alreadyLanded(digest)) return this.updateBlob(session.id, digest, (b) => void (b.verified = true));
    const assembled = await this.assembleParts(session, digest);
    if (assembled.failed) return assembled.session;
    session = assembled.session;
    const sealed = await this.sealSinglePut(session, digest);
    session = sealed.session;
    const info = await this.stagedInfo(sealed.source, digest);
    const blob = blobOf(session, digest);
    if (info.size !== blob.size) {
      return this.fail(
        session.id,
        new RegistryError('BlobSizeMismatch', `Blob sha256:${digest} has ${info.size} bytes, the manifest says ${blob.size}`, {
          digest: `sha256:${digest}`,
          expected: blob.size,
          actual: info.size,
        }),
      );
    }
    const hashed = await this.hashStaged(session, digest, sealed.source, info, deadline);
    if (hashed.kind === 'pending') return hashed.session;
    if (hashed.actual !== digest || hashed.offset !== blob.size) {
      return this.fail(
        session.id,
        new RegistryError('BlobDigestMismatch', `Blob sha256:${digest}: the uploaded bytes have sha256:${hashed.actual}`, {
          digest: `sha256:${digest}`,
          actual: `sha256:${hashed.actual}`,
        }),
      );
    }
    return this.land(session, digest, sealed.source, info);
  }

  /** Records a change to one blob of the session (a CAS update). */
  private updateBlob(id: string, digest: string, change: (blob: SessionBlob) => void): Promise<UploadSession> {
    return this.sessions.update(id, (s) => change(blobOf(s, digest)));
  }

  /** Someone else's verified upload may have brought the same bytes meanwhile. */
  private alreadyLanded(digest: string): Promise<boolean> {
    return this.registry.storage.head(keys.blob(digest)).then(
      () => true,
      (e) => (e instanceof NotFoundError ? false : Promise.reject(e)),
    );
  }

  /**
   * A multipart blob: check every part is there with its size, then complete the store's
   * multipart upload (BlobMissing names missing parts; wrong sizes fail the upload).
   */
  private async assembleParts(session: UploadSession, digest: string): Promise<{ session: UploadSession; failed?: true }> {
    const { storage } = this.registry;
    const blob = blobOf(session, digest);
    if (!blob.multipartId || blob.assembled) return { session };
    const staged = keys.uploadBlob(session.id, digest);
    const count = Math.max(1, Math.ceil(blob.size / blob.partSize!));
    let parts: MultipartPart[];
    try {
      parts = await storage.listParts(staged, blob.multipartId);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      parts = [];
    }
    const missing = [];
    for (let n = 1; n <= count; n++) if (!parts.some((p) => p.partNumber === n)) missing.push(n);
    if (missing.length) {
      // Maybe an earlier call assembled it and died before recording that.
      const assembled = await storage.head(staged).then(
        () => true,
        () => false,
      );
      if (!assembled) {
        throw new RegistryError(
          'BlobMissing',
          `Blob sha256:${digest} lacks parts ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}`,
          {
            digest: `sha256:${digest}`,
            missingParts: missing.slice(0, 100),
          },
        );
      }
    } else {
      const extra = parts.filter((p) => p.partNumber > count);
      const wrong = parts.filter(
        (p) => p.partNumber <= count && p.size !== Math.min(blob.partSize!, blob.size - (p.partNumber - 1) * blob.partSize!),
      );
      if (extra.length || wrong.length) {
        const failed = await this.fail(
          session.id,
          new RegistryError('BlobSizeMismatch', `Blob sha256:${digest}: parts do not add up to ${blob.size} bytes`, {
            digest: `sha256:${digest}`,
          }),
        );
        return { session: failed, failed: true };
      }
      await storage.completeMultipart(
        staged,
        blob.multipartId,
        parts.filter((p) => p.partNumber <= count),
      );
    }
    return { session: await this.updateBlob(session.id, digest, (b) => void (b.assembled = true)) };
  }

  /**
   * A single-PUT blob stays writable through its signed URL until that expires, so the
   * registry hashes and lands a private copy that no URL names: what was hashed is exactly
   * what lands, even on stores that ignore x-amz-copy-source-if-match (RGW). An assembled
   * multipart object is already out of the client's reach. Returns the key to verify.
   */
  private async sealSinglePut(session: UploadSession, digest: string): Promise<{ session: UploadSession; source: string }> {
    const staged = keys.uploadBlob(session.id, digest);
    if (blobOf(session, digest).multipartId) return { session, source: staged };
    const source = keys.uploadSealed(session.id, digest);
    if (blobOf(session, digest).sealed) return { session, source };
    try {
      await this.registry.storage.copy(staged, source);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      throw new RegistryError('BlobMissing', `Blob sha256:${digest} was not uploaded`, { digest: `sha256:${digest}` });
    }
    return { session: await this.updateBlob(session.id, digest, (b) => void (b.sealed = true)), source };
  }

  /** Size and etag of the bytes to verify; BlobMissing when there are none. */
  private async stagedInfo(source: string, digest: string): Promise<Awaited<ReturnType<Storage['head']>>> {
    try {
      return await this.registry.storage.head(source);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      throw new RegistryError('BlobMissing', `Blob sha256:${digest} was not uploaded`, { digest: `sha256:${digest}` });
    }
  }

  /**
   * Hash from where an earlier call stopped, if the staged bytes are still the same; else
   * try the fast hasher first (OpenSSL's sha256, several times hash-wasm's speed), which
   * cannot save its state: it gives up early, for the resumable hasher, on a read-back that
   * would not end within this step. 'pending': the deadline came first (state saved) or the
   * bytes were replaced meanwhile (the next call starts over).
   */
  private async hashStaged(
    session: UploadSession,
    digest: string,
    source: string,
    info: { size: number; etag: string },
    deadline: number,
  ): Promise<{ kind: 'pending'; session: UploadSession } | { kind: 'hashed'; actual: string; offset: number }> {
    const saved = blobOf(session, digest).hashing;
    const resume = saved && saved.etag === info.etag ? saved : undefined;
    if (!resume) {
      const fast = await this.fastHash(source, info, deadline);
      if (fast === 'replaced') return { kind: 'pending', session };
      if (fast !== undefined) return { kind: 'hashed', actual: fast, offset: info.size };
    }
    const hasher = await createSHA256();
    hasher.init();
    let offset = 0;
    if (resume?.state) {
      hasher.load(Buffer.from(resume.state, 'base64'));
      offset = resume.offset;
    }
    if (offset < info.size) {
      const { stream, etag } = await this.registry.storage.getStream(source, { start: offset });
      if (etag !== info.etag) return { kind: 'pending', session };
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        hasher.update(chunk);
        offset += chunk.length;
        if (this.now() > deadline && offset < info.size) {
          stream.destroy();
          const state = Buffer.from(hasher.save()).toString('base64');
          const updated = await this.updateBlob(session.id, digest, (b) => void (b.hashing = { offset, state, etag: info.etag }));
          return { kind: 'pending', session: updated };
        }
      }
    }
    return { kind: 'hashed', actual: hasher.digest('hex'), offset };
  }

  /** Copies the hashed bytes into the blob area, only if they are still what was hashed. */
  private async land(session: UploadSession, digest: string, source: string, info: { etag: string }): Promise<UploadSession> {
    try {
      await this.registry.storage.copy(source, keys.blob(digest), { ifSourceEtag: info.etag });
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      // The source changed after we hashed it (defence in depth): verify again.
      return this.updateBlob(session.id, digest, (b) => void delete b.hashing);
    }
    return this.updateBlob(session.id, digest, (b) => {
      b.verified = true;
      delete b.hashing;
    });
  }

  /**
   * sha256 of the whole object with node's hasher, or undefined when the read-back would not
   * end by the deadline (judged from its rate after FAST_HASH_PROBE_MS, or the deadline
   * passed): the caller then hashes resumably. 'replaced' when the etag changed.
   */
  private async fastHash(key: string, info: { size: number; etag: string }, deadline: number): Promise<string | 'replaced' | undefined> {
    const started = this.now();
    if (info.size > 0 && deadline - started < 1000) return undefined;
    const { stream, etag } = await this.registry.storage.getStream(key);
    if (etag !== info.etag) {
      stream.destroy();
      return 'replaced';
    }
    const hash = createHash('sha256');
    let offset = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      offset += chunk.length;
      if (offset >= info.size) continue;
      const now = this.now();
      const elapsed = now - started;
      const late = now > deadline || (elapsed > FAST_HASH_PROBE_MS && now + ((info.size - offset) * elapsed) / offset > deadline);
      if (late) {
        stream.destroy();
        return undefined;
      }
    }
    return offset === info.size ? hash.digest('hex') : undefined;
  }

  private async commit(session: UploadSession): Promise<CompleteResult> {
    await this.sessions.update(session.id, (s) => {
      if (s.status !== 'Uploading') return false;
      s.status = 'Processing';
    });
    const m: BundleManifest = session.manifest;
    // `selected` (the package's own Certified flag, as authored) is kept: the web catalog shows it;
    // /repo still serves selected: false (lib/universe/render.ts). releaseVersion is the registry's to assign.
    const { releaseVersion: _r, selected, ...rest } = m.package as Record<string, unknown>;
    const pkg = typeof selected === 'boolean' ? { ...rest, selected } : rest;
    let result: number | undefined;
    let images: ImageRef[] | undefined;
    // The garbage-collection fence (lib/gc.ts): check that every blob is in the blob area,
    // then commit only if no collection started meanwhile and none of them is pending.
    for (let attempt = 0; result === undefined; attempt++) {
      const epoch = (await this.registry.catalog.newest()).gc?.epoch ?? 0;
      await this.reopenMissing(session);
      try {
        // The image manifests are verified blobs now: record each image's config and layers (for /v2).
        images ??= await imagesWithBlobs(this.registry.storage, m);
      } catch (error) {
        if (error instanceof RegistryError && error.type === 'InvalidPackage') return this.fail(session.id, error);
        throw error;
      }
      try {
        result = await addVersion(
          this.registry.catalog,
          {
            name: session.name,
            version: session.version,
            uploadId: session.id,
            addedAt: new Date(this.now()).toISOString(),
            contentDigest: session.contentDigest,
            package: pkg,
            assets: m.assets,
            images,
            blobs: m.blobs,
          },
          (state) => {
            const gc = state.gc;
            if (gc && (gc.epoch !== epoch || m.blobs.some((b) => gc.pending.includes(b.digest)))) throw new GcFenceError();
          },
        );
      } catch (error) {
        if (error instanceof VersionExistsError) return this.fail(session.id, error);
        if (!(error instanceof GcFenceError)) throw error;
        if (attempt >= 10)
          throw new UploadStateError('A garbage collection is in progress; complete the upload again later', { uploadId: session.id });
        await sleep(backoffDelay({ baseMs: 200, maxMs: Infinity, growth: 'linear', jitter: 'none' }, attempt));
      }
    }
    await this.sessions.update(session.id, (s) => {
      if (s.status === 'Added') return false;
      s.status = 'Added';
      s.seq = result;
    });
    await this.cleanup(session.id).catch(() => undefined);
    const { state } = await this.registry.catalog.read();
    const v = find(state, session.name, session.version)!;
    return { done: true, body: describeVersion(state, v) };
  }

  /**
   * Before committing: every blob must be in the blob area. One that is not (garbage
   * collection took a blob that was present when the upload started) is opened for
   * upload again, and the client is told to send it (BlobMissing).
   */
  private async reopenMissing(session: UploadSession): Promise<void> {
    const { storage } = this.registry;
    const missing: string[] = [];
    await mapLimit(session.blobs, 16, async (b) => {
      const there = await storage.head(keys.blob(b.digest)).then(
        () => true,
        (e) => (e instanceof NotFoundError ? false : Promise.reject(e)),
      );
      if (!there) missing.push(b.digest);
    });
    if (missing.length === 0) return;
    const multipart = new Map<string, string>();
    for (const d of missing) {
      const b = session.blobs.find((x) => x.digest === d)!;
      if (b.size > PART_SIZE) multipart.set(d, await storage.createMultipart(keys.uploadBlob(session.id, d)));
    }
    await this.sessions.update(session.id, (s) => {
      s.status = 'Uploading';
      for (const d of missing) {
        const b = s.blobs.find((x) => x.digest === d)!;
        Object.assign(b, { present: false, verified: false, sealed: false, assembled: false, hashing: undefined });
        if (multipart.has(d)) Object.assign(b, { multipartId: multipart.get(d), partSize: partSizeFor(b.size) });
      }
    });
    throw new RegistryError(
      'BlobMissing',
      `Blobs were collected meanwhile and must be sent again: ${missing
        .map((d) => `sha256:${d}`)
        .slice(0, 5)
        .join(', ')}`,
      {
        missing: missing.map((d) => `sha256:${d}`),
      },
    );
  }

  /** DELETE /uploads/{id} */
  async abort(id: string): Promise<void> {
    await this.registry.gate.check();
    const s = await this.sessions.update(id, (s) => {
      if (s.status === 'Added')
        throw new UploadStateError(`Upload ${id} is already committed; remove the package instead`, { uploadId: id });
      if (s.status === 'Failed') return false;
      s.status = 'Failed';
      s.error = { type: 'UploadAborted', message: 'The upload was aborted' };
    });
    if (s.status === 'Failed') await this.cleanup(id);
  }

  /** Drop the staged bytes and unfinished multipart uploads of an upload (session kept). */
  private async cleanup(id: string): Promise<void> {
    const { storage } = this.registry;
    const { session } = await this.sessions.load(id);
    for (const b of session.blobs) {
      if (b.multipartId) await storage.abortMultipart(keys.uploadBlob(id, b.digest), b.multipartId).catch(() => undefined);
    }
    const staged = (await storage.list(keys.uploadPrefix(id))).filter((o) => o.key !== keys.uploadSession(id));
    await mapLimit(staged, 8, (o) => storage.delete(o.key));
  }

  /**
   * The sweeper (scheduled): finish uploads whose bytes are all there but that nobody
   * drives, fail expired ones, and roll the catalog snapshot over entries left by writers
   * that died before advancing it.
   */
  async sweep(budgetMs = STEP_BUDGET_MS): Promise<{ finished: number; failed: number; pending: number }> {
    const { storage } = this.registry;
    await this.registry.gate.check();
    await this.registry.catalog.settle();
    const sessions = (await storage.list(keys.uploadsPrefix())).filter((o) => o.key.endsWith('/session.json'));
    const result = { finished: 0, failed: 0, pending: 0 };
    const deadline = this.now() + budgetMs;
    for (const o of sessions) {
      if (this.now() > deadline) break;
      const id = o.key.split('/')[1];
      const { session } = await this.sessions.load(id);
      if (session.status === 'Added' || session.status === 'Failed') continue;
      try {
        const r = await this.complete(id, Math.max(1000, deadline - this.now()));
        if (r.done) result.finished++;
        else result.pending++;
      } catch (error) {
        if (!(error instanceof RegistryError)) throw error;
        if (Date.parse(session.expiresAt) < this.now()) {
          await this.fail(id, new RegistryError('UploadExpired', 'Nobody completed the upload before it expired')).catch(() => undefined);
          result.failed++;
        } else if (error.type !== 'BlobMissing') result.failed++;
        else result.pending++;
      }
    }
    return result;
  }
}
