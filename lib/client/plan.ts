/**
 * Turns the registry's answer to POST/GET /uploads into the list of byte ranges still to send,
 * checked against the bundle: the registry may only ask for blobs the bundle has, with their
 * sizes, and parts must tile the blob exactly as the protocol defines (part k covers bytes
 * [(k-1)*P, min(k*P, size))). An answer marked `more` carries only some of the targets (the
 * registry signs a bounded number per answer): blobs without a target and parts past the
 * listed ones come with the next GET /uploads/{id}.
 */
import type { UploadView } from '../uploads/wire';
import { endpoint } from './http';

export interface TransferTask {
  digest: string;
  /** undefined for a whole-blob PUT */
  partNumber?: number;
  url: string;
  headers: Record<string, string>;
  start: number;
  /** exclusive */
  end: number;
}

export class UploadPlanError extends Error {
  constructor(message: string) {
    super(`registry sent an unusable upload plan: ${message}`);
    this.name = 'UploadPlanError';
  }
}

export function planTransfers(session: UploadView, bundleSizes: ReadonlyMap<string, number>): TransferTask[] {
  if (!session || !Array.isArray(session.blobs)) throw new UploadPlanError('no blobs list');
  // Only an Uploading session takes bytes (a Processing one has no targets): what is missing then
  // is for /complete to report, not for the client to guess.
  if (session.status !== 'Uploading') return [];
  const tasks: TransferTask[] = [];
  for (const blob of session.blobs) {
    const size = bundleSizes.get(blob.digest);
    if (size === undefined) throw new UploadPlanError(`blob ${blob.digest} is not in the bundle`);
    if (blob.size !== size) throw new UploadPlanError(`blob ${blob.digest} has ${size} bytes, the registry expects ${blob.size}`);
    if (blob.present || blob.received) continue;
    const upload = blob.upload;
    if (!upload) {
      if (session.more === true) continue; // its target comes in a later answer
      throw new UploadPlanError(`blob ${blob.digest} is missing and has no upload target`);
    }
    if ('multipart' in upload) {
      const { partSize, parts } = upload.multipart;
      if (!Number.isInteger(partSize) || partSize <= 0) throw new UploadPlanError(`blob ${blob.digest} has part size ${partSize}`);
      const count = Math.max(1, Math.ceil(size / partSize));
      const numbers = new Set<number>();
      for (const p of parts) {
        if (!Number.isInteger(p.partNumber) || p.partNumber < 1 || p.partNumber > count || numbers.has(p.partNumber)) {
          throw new UploadPlanError(`blob ${blob.digest} has an invalid part number ${p.partNumber}`);
        }
        numbers.add(p.partNumber);
        if (p.received) continue;
        const start = (p.partNumber - 1) * partSize;
        tasks.push({
          digest: blob.digest,
          partNumber: p.partNumber,
          url: p.url,
          headers: { ...upload.headers },
          start,
          end: Math.min(start + partSize, size),
        });
      }
      if (numbers.size !== count && session.more !== true)
        throw new UploadPlanError(`blob ${blob.digest} needs ${count} parts, the registry listed ${numbers.size}`);
    } else {
      if (upload.method && upload.method.toUpperCase() !== 'PUT')
        throw new UploadPlanError(`blob ${blob.digest} upload method ${upload.method} is not PUT`);
      tasks.push({
        digest: blob.digest,
        url: upload.url,
        headers: { ...upload.headers },
        start: 0,
        end: size,
      });
    }
  }
  // Big transfers first so the tail of a parallel upload is small ones, not one long part.
  return tasks.sort(
    (a, b) => b.end - b.start - (a.end - a.start) || (a.digest < b.digest ? -1 : 1) || (a.partNumber ?? 0) - (b.partNumber ?? 0),
  );
}

/**
 * Where to PUT a target: the URI reference the registry gave, resolved against the registry's
 * base URL as this client called it (`<base>/`). The registry answers the targets it serves itself
 * (`/_store`) relative to its base (`_store/...`), so they land under whatever prefix a proxy in
 * front strips (Admin Router's `/service/<name>/`); absolute targets (S3 presigned) are kept as
 * they are. Anything but http(s) is refused.
 */
export function resolveTarget(base: string, target: string): string {
  const root = endpoint(base, '/');
  let url: URL;
  try {
    url = new URL(target, root);
  } catch {
    throw new UploadPlanError(`upload target ${JSON.stringify(target.slice(0, 200))} is not a URL reference`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UploadPlanError(`upload target has scheme ${url.protocol}`);
  return url.href;
}

export function bytesToSend(tasks: readonly TransferTask[]): number {
  return tasks.reduce((n, t) => n + (t.end - t.start), 0);
}

/**
 * Bytes the registry still lacks, targets in this answer or not: every blob neither present nor
 * received, less the parts it lists as received. For progress across paged answers.
 */
export function bytesPending(session: UploadView): number {
  if (session.status !== 'Uploading') return 0;
  let total = 0;
  for (const blob of session.blobs) {
    if (blob.present || blob.received) continue;
    total += blob.size;
    const multipart = blob.upload && 'multipart' in blob.upload ? blob.upload.multipart : undefined;
    if (!multipart) continue;
    for (const p of multipart.parts) {
      if (p.received) total -= Math.max(0, Math.min(multipart.partSize, blob.size - (p.partNumber - 1) * multipart.partSize));
    }
  }
  return total;
}
