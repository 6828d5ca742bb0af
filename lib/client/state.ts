/**
 * `<bundle>.upload.json`: remembers the upload id of an interrupted add, so re-running add on the
 * same bundle against the same registry resumes instead of starting over.
 */
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';

export interface UploadState {
  url: string;
  uploadId: string;
  /** sha256 of the manifest JSON: a rebuilt bundle with the same path does not resume an old upload. */
  manifestSha256: string;
  name: string;
  version: string;
}

export const statePath = (bundlePath: string) => `${bundlePath}.upload.json`;

export async function readUploadState(bundlePath: string): Promise<UploadState | undefined> {
  try {
    const s = JSON.parse(await readFile(statePath(bundlePath), 'utf8')) as UploadState;
    return typeof s?.uploadId === 'string' && typeof s.url === 'string' ? s : undefined;
  } catch {
    return undefined; // absent or unreadable: start a new upload
  }
}

export async function writeUploadState(bundlePath: string, state: UploadState): Promise<void> {
  const path = statePath(bundlePath);
  await writeFile(`${path}.tmp`, JSON.stringify(state, null, 2) + '\n');
  await rename(`${path}.tmp`, path);
}

export async function clearUploadState(bundlePath: string): Promise<void> {
  await unlink(statePath(bundlePath)).catch(() => undefined);
}
