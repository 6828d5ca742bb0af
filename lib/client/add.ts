/**
 * `dcos-registry add`: uploads a bundle per the registry's upload protocol (docs/cli.md).
 * Open and verify the bundle; start an upload (or resume the one remembered in
 * `<bundle>.upload.json`); PUT the blobs/parts the registry does not have straight to the signed
 * URLs (resolved against the base URL: resolveTarget), in parallel, streamed from the zip; then drive /complete until the package is Added.
 */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { openBundle, type OpenedBundle } from '../bundle/reader';
import { mapLimit } from '../limit';
import { backoffDelay, sleep } from '../retry';
import { DEFAULT_RETRY, withRetry } from '../net/retry';
import { RegistryApiError, callJson, putBytes, type ClientOptions } from './http';
import type { CompleteProgress, StartUploadRequest, UploadView } from '../uploads/wire';
import { bytesPending, planTransfers, resolveTarget, UploadPlanError } from './plan';
import { clearUploadState, readUploadState, writeUploadState } from './state';
import type { DescribeBody } from './registry';

export type AddProgress =
  | { kind: 'verify'; verified: number; total: number }
  | { kind: 'start'; uploadId: string; resumed: boolean; blobs: number; present: number; bytesToSend: number }
  | { kind: 'upload'; sent: number; total: number }
  | { kind: 'retry'; what: string; attempt: number; delayMs: number; error: string }
  | { kind: 'processing'; progress?: unknown };

export interface AddOptions extends ClientOptions {
  /** Parallel PUTs (default 4). */
  concurrency?: number;
  /**
   * Longest delay between /complete calls while the registry answers Processing (default
   * 300 ms). Delays start at 25 ms and double: a Processing answer usually comes after a full
   * bounded step of work, so calling again at once loses nothing.
   */
  pollIntervalMs?: number;
  onProgress?: (event: AddProgress) => void;
}

export class AddFailedError extends Error {
  constructor(
    message: string,
    readonly type: string,
  ) {
    super(message);
    this.name = 'AddFailedError';
  }
}

/** Rounds of "GET the session, send what is missing": covers signed URLs that expired mid-upload. */
const MAX_ROUNDS = 3;

export async function addBundle(bundlePath: string, opts: AddOptions): Promise<DescribeBody> {
  const progress = opts.onProgress ?? (() => undefined);
  const bundle = await openBundle(bundlePath);
  try {
    await bundle.verify({ onProgress: (e) => progress({ kind: 'verify', ...e }) });
    const manifestSha256 = createHash('sha256').update(JSON.stringify(bundle.manifest)).digest('hex');
    const { name, version } = bundle.manifest.package;

    let session = await resume(bundlePath, opts, manifestSha256);
    const resumed = session !== undefined;
    if (!session) {
      session = (await callJson<UploadView>(opts, 'POST', '/uploads', { manifest: bundle.manifest } satisfies StartUploadRequest, true))
        .body;
      await writeUploadState(bundlePath, { url: opts.url, uploadId: session.id, manifestSha256, name, version });
    }
    const id = session.id;
    const sizes = new Map([...bundle.blobs].map(([d, b]) => [d, b.size]));
    progress({
      kind: 'start',
      uploadId: id,
      resumed,
      blobs: session.blobs.length,
      present: session.blobs.filter((b) => b.present).length,
      bytesToSend: bytesPending(session),
    });

    // One answer carries a bounded number of signed targets (`more`): send them, then ask for the next.
    const tally = { sent: 0, total: bytesPending(session) };
    for (let round = 1; ; round++) {
      try {
        const sent = await sendMissing(bundle, session, sizes, opts, progress, tally);
        if (session.more !== true) break;
        if (sent === 0) throw new UploadPlanError('the answer says more targets follow but carries none to send');
        session = (await callJson<UploadView>(opts, 'GET', `/uploads/${id}`, undefined, true)).body;
        round = 0; // a new page is progress, not a failed round
      } catch (err) {
        if (round >= MAX_ROUNDS) throw err;
        progress({ kind: 'retry', what: `upload ${id}`, attempt: round, delayMs: 0, error: (err as Error).message });
        session = (await callJson<UploadView>(opts, 'GET', `/uploads/${id}`, undefined, true)).body;
      }
    }

    const done = await complete(id, opts, progress).catch(async (err: unknown) => {
      // A Failed upload cannot be resumed: forget it so the next add starts afresh.
      if (err instanceof AddFailedError) await clearUploadState(bundlePath);
      throw err;
    });
    await clearUploadState(bundlePath);
    return done;
  } finally {
    bundle.close();
  }
}

async function resume(bundlePath: string, opts: AddOptions, manifestSha256: string): Promise<UploadView | undefined> {
  const state = await readUploadState(bundlePath);
  if (!state || state.url !== opts.url || state.manifestSha256 !== manifestSha256) return undefined;
  try {
    const session = (await callJson<UploadView>(opts, 'GET', `/uploads/${state.uploadId}`, undefined, true)).body;
    return session.status === 'Uploading' || session.status === 'Processing' ? session : undefined;
  } catch (err) {
    if (err instanceof RegistryApiError && err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 403)
      return undefined;
    throw err;
  }
}

async function sendMissing(
  bundle: OpenedBundle,
  session: UploadView,
  sizes: Map<string, number>,
  opts: AddOptions,
  progress: (e: AddProgress) => void,
  tally: { sent: number; total: number },
): Promise<number> {
  const tasks = planTransfers(session, sizes).map((t) => ({ ...t, url: resolveTarget(opts.url, t.url) }));
  progress({ kind: 'upload', sent: tally.sent, total: tally.total });
  await mapLimit(tasks, opts.concurrency ?? 4, async (task) => {
    const blob = bundle.blobs.get(task.digest)!;
    const whole = task.partNumber === undefined;
    const what = whole ? task.digest : `${task.digest} part ${task.partNumber}`;
    await withRetry(
      { ...DEFAULT_RETRY, ...opts.retry },
      async () => {
        let counted = 0;
        try {
          await putBytes(
            task.url,
            task.headers,
            task.end - task.start,
            () => {
              const s = whole ? blob.open() : blob.openRange(task.start, task.end);
              // Count through a pipe, not a 'data' listener on s: a listener starts the flow at once and
              // drops whatever is read before undici takes the body (a proxy's CONNECT, a slow connect),
              // which undici then reports as a Content-Length mismatch.
              const counter = new Transform({
                transform(chunk: Buffer, _encoding, done) {
                  counted += chunk.length;
                  tally.sent += chunk.length;
                  progress({ kind: 'upload', sent: tally.sent, total: tally.total });
                  done(null, chunk);
                },
              });
              s.on('error', (err) => counter.destroy(err));
              return s.pipe(counter);
            },
            opts.dispatcher,
          );
        } catch (err) {
          tally.sent -= counted; // this attempt's bytes will be sent again
          throw err;
        }
      },
      (err, attempt, delayMs) => progress({ kind: 'retry', what, attempt, delayMs, error: (err as Error).message }),
    );
  });
  return tasks.length;
}

async function complete(id: string, opts: AddOptions, progress: (e: AddProgress) => void): Promise<DescribeBody> {
  const interval = opts.pollIntervalMs ?? 300;
  for (let polls = 0; ; polls++) {
    let res: Awaited<ReturnType<typeof callJson<DescribeBody | CompleteProgress>>>;
    try {
      res = await callJson<DescribeBody | CompleteProgress>(opts, 'POST', `/uploads/${id}/complete`, undefined, true);
    } catch (err) {
      if (err instanceof RegistryApiError && err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 403) {
        throw new AddFailedError(`upload ${id} failed: ${err.type}: ${err.message}`, err.type);
      }
      throw err;
    }
    if (res.status === 202 || res.body?.status === 'Processing') {
      progress({ kind: 'processing', progress: res.body?.progress });
      await sleep(backoffDelay({ baseMs: 25, maxMs: Math.min(interval, 25 * 2 ** 10), growth: 'exponential', jitter: 'none' }, polls));
      continue;
    }
    if (res.body?.status === 'Added') return res.body;
    if (res.body?.status === 'Failed') {
      throw new AddFailedError(`upload ${id} failed: ${String((res.body as { error?: unknown }).error ?? 'no reason given')}`, 'Failed');
    }
    throw new AddFailedError(`upload ${id}: unexpected status ${String(res.body?.status)}`, 'UnexpectedStatus');
  }
}
