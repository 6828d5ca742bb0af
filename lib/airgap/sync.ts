/**
 * `dcos-registry sync --from <url> --to <url>`: makes the target serve every version the source
 * serves. For each source version (GET /package on both sides):
 *
 * - on the target with the same contentDigest: already synced, skipped (so a re-run after a kill
 *   redoes nothing that finished);
 * - on the target with another contentDigest: a conflict, reported and never overwritten;
 * - absent: exported from the source into a bundle in the work directory (lib/airgap/export.ts),
 *   then added to the target with `add`'s protocol, whose upload session answers which blobs the
 *   target already holds (from any version), so only the others are sent (the item's `sent` and
 *   `bundleBytes` say how much); an interrupted upload resumes (its `<bundle>.upload.json`). The
 *   work directory is stable per (source, target) pair, so a kill mid-upload resumes the same
 *   upload. The export itself still reads the whole version from the source (add verifies
 *   every blob of the bundle before sending).
 *
 * With `delete`, versions the target has and the source does not (within the package filter) are
 * removed from the target. Versions are processed one at a time, in list order.
 */
import { createHash } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { openBundle } from '../bundle/reader';
import { addBundle, type AddProgress } from '../client/add';
import { describePackage, listPackages, removePackage } from '../client/registry';
import { statePath } from '../client/state';
import { ClientConfigError } from '../client/http';
import type { RetryPolicy } from '../net/retry';
import { checkName, checkVersion } from '../keys';
import { contentDigest } from '../uploads/manifest';
import { bundleFileName, exportBundle, type ExportProgress } from './export';

export interface SyncOptions {
  from: string;
  to: string;
  /** Write token of the target. */
  token?: string;
  /** Only these package names (all when empty). */
  packages?: readonly string[];
  delete?: boolean;
  /** Where bundles are staged between export and add; default a per-(from, to) folder in the temp dir. */
  workDirectory?: string;
  dispatcher?: Dispatcher;
  retry?: Partial<RetryPolicy>;
  pollIntervalMs?: number;
  onEvent?: (event: SyncEvent) => void;
}

type SyncOutcome = 'added' | 'present' | 'conflict' | 'failed' | 'deleted';

export interface SyncItem {
  name: string;
  version: string;
  outcome: SyncOutcome;
  detail?: string;
  /** added: bytes this run sent to the target (add uploads only the blobs the target lacks). */
  sent?: number;
  /** added: size of the bundle exported from the source. */
  bundleBytes?: number;
}

type SyncEvent =
  | { kind: 'item'; item: SyncItem }
  | { kind: 'export'; name: string; version: string; event: ExportProgress }
  | { kind: 'add'; name: string; version: string; event: AddProgress };

export interface SyncResult {
  items: SyncItem[];
  /** true when every source version is on the target with the source's content (and deletions, if asked, are done). */
  complete: boolean;
}

function defaultWorkDirectory(from: string, to: string): string {
  return join(tmpdir(), `dcos-registry-sync-${createHash('sha256').update(`${from}\n${to}`).digest('hex').slice(0, 16)}`);
}

type Versions = Map<string, Set<string>>;

async function versions(url: string, opts: SyncOptions): Promise<Versions> {
  const body = await listPackages({ url, dispatcher: opts.dispatcher, retry: opts.retry });
  const out: Versions = new Map();
  for (const p of body.packages ?? []) {
    if (opts.packages?.length && !opts.packages.includes(p.name)) continue;
    out.set(p.name, new Set(p.versions.map((v) => v.version)));
  }
  return out;
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

export async function syncRegistries(opts: SyncOptions): Promise<SyncResult> {
  // Checked before anything is read or written: a run that cannot write fails at once, not per version.
  if (!opts.token) throw new ClientConfigError("sync writes to the target: give --token or DCOS_REGISTRY_TOKEN (the target's write token)");
  const source = { url: opts.from, dispatcher: opts.dispatcher, retry: opts.retry };
  const target = { url: opts.to, token: opts.token, dispatcher: opts.dispatcher, retry: opts.retry };
  const [have, want] = await Promise.all([versions(opts.to, opts), versions(opts.from, opts)]);
  const work = opts.workDirectory ?? defaultWorkDirectory(opts.from, opts.to);
  await mkdir(work, { recursive: true });
  const items: SyncItem[] = [];
  const record = (item: SyncItem) => {
    items.push(item);
    opts.onEvent?.({ kind: 'item', item });
  };

  for (const [name, vs] of want) {
    for (const version of vs) {
      try {
        // Names come from the source registry: checked before they name anything on disk.
        checkName(name);
        checkVersion(version);
        const wanted = (await describePackage(source, name, version)).contentDigest as string;
        if (have.get(name)?.has(version)) {
          const held = (await describePackage(target, name, version)).contentDigest as string;
          if (held === wanted) record({ name, version, outcome: 'present' });
          else record({ name, version, outcome: 'conflict', detail: `source has ${wanted}, target has ${held}` });
          continue;
        }
        const path = join(work, bundleFileName(name, version));
        // A bundle left by an interrupted run is reused only if it still has the source's content.
        if (await exists(path)) {
          const bundle = await openBundle(path).catch(() => undefined);
          const same = bundle ? contentDigest(bundle.manifest) === wanted : false;
          bundle?.close();
          if (!same) await Promise.all([rm(path, { force: true }), rm(statePath(path), { force: true })]);
        }
        let detail: string | undefined;
        if (!(await exists(path))) {
          const exported = await exportBundle({
            url: opts.from,
            name,
            version,
            outputDirectory: work,
            dispatcher: opts.dispatcher,
            retry: opts.retry,
            onProgress: (event) => opts.onEvent?.({ kind: 'export', name, version, event }),
          });
          if (!exported.identical) detail = `exported bundle differs from the one added to the source: ${exported.notes.join('; ')}`;
        }
        const bundleBytes = (await stat(path)).size;
        // The upload session answers which blobs the target already holds (present); only the rest is sent.
        let sent = 0;
        await addBundle(path, {
          ...target,
          pollIntervalMs: opts.pollIntervalMs,
          onProgress: (event) => {
            if (event.kind === 'upload') sent = Math.max(sent, event.sent);
            opts.onEvent?.({ kind: 'add', name, version, event });
          },
        });
        await rm(path, { force: true });
        record({ name, version, outcome: 'added', sent, bundleBytes, ...(detail ? { detail } : {}) });
      } catch (err) {
        record({ name, version, outcome: 'failed', detail: (err as Error).message });
      }
    }
  }

  if (opts.delete) {
    for (const [name, vs] of have) {
      for (const version of vs) {
        if (want.get(name)?.has(version)) continue;
        try {
          await removePackage(target, name, version);
          record({ name, version, outcome: 'deleted' });
        } catch (err) {
          record({ name, version, outcome: 'failed', detail: `remove: ${(err as Error).message}` });
        }
      }
    }
  }
  return { items, complete: items.every((i) => i.outcome !== 'conflict' && i.outcome !== 'failed') };
}
