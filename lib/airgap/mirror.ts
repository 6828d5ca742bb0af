/**
 * `dcos-registry mirror`: a Universe repository index (v3/v4/v5 JSON, from a URL with Cosmos's
 * content negotiation or from a local file) → one build definition and one `.dcos` bundle per
 * selected entry, in an output directory, with `build`'s own code (lib/builder): the same asset
 * downloads and image pulls, digest and contentHash checks, proxies, CA and redirect rules.
 *
 * - Selection: `name` (the newest version by lib/universe/version.ts, or every version with
 *   allVersions), `name@version` (exactly that one); no selection means every package.
 * - Each entry becomes `<name>-<version>.json` (the entry without releaseVersion and selected,
 *   2.0/3.0 upgraded to 4.0 when `upgrade` is set, as migrate does) and `<name>-<version>.dcos`.
 * - The index is hostile input. Entry coordinates are checked before they name a file; an asset
 *   given as a `file:` URI or a relative path is refused (an index carries no files, and the
 *   mirror must never copy a local file into a bundle); JSON size and depth bounds and the
 *   definition schema are checked before anything is downloaded.
 * - An entry that cannot be mirrored is reported (outcome `failed`, one detail line) and the rest
 *   still mirror; `complete` says whether all did.
 * - Resumable: a bundle already in the output directory is complete (the writer links it into
 *   place only when fully written); it is skipped when it holds the same definition, and never
 *   overwritten when it holds another (reported as failed).
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundle, type BuildProgress } from '../builder/build';
import { locateAsset } from '../builder/download';
import { assetSources } from '../builder/resources';
import { openBundle } from '../bundle/reader';
import { bundleFileName } from '../bundle/writer';
import { checkName, checkVersion } from '../keys';
import { HttpClient, HttpDownloadError, redact } from '../net/http';
import type { NetworkSettings } from '../net/network';
import { DEFAULT_RETRY, TransientHttpError, parseRetryAfter, withRetry, type RetryPolicy } from '../net/retry';
import { canonicalJson } from '../uploads/manifest';
import { upgradeToV4 } from '../universe/package-dir';
import { unsupportedPackagingVersionMessage, validateBuildDefinition } from '../universe/validate';
import { compareVersions } from '../universe/version';
import { COSMOS_REPO_ACCEPT } from './http';

class MirrorError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MirrorError';
  }
}

/** The largest index read (the public Universe index of every version is about 30 MB). */
const MAX_INDEX_BYTES = 256 * 1024 * 1024;

export interface MirrorOptions {
  /** http(s) URL of a repository index, or a local file (path or file: URL). */
  repoUrl: string;
  /** `name` or `name@version`; empty: every package of the index. */
  packages?: readonly string[];
  /** Every version of each selected name instead of the newest. */
  allVersions?: boolean;
  /** Created when missing. */
  outputDirectory: string;
  /** Upgrade packagingVersion 2.0/3.0 entries to 4.0 instead of refusing them. */
  upgrade?: boolean;
  insecureRegistries?: readonly string[];
  dockerConfigPath?: string;
  network?: NetworkSettings;
  allowHttpsDowngrade?: boolean;
  retry?: Partial<RetryPolicy>;
  concurrency?: number;
  onProgress?: (event: MirrorProgress) => void;
}

type MirrorOutcome = 'written' | 'present' | 'failed';

export interface MirrorItem {
  name: string;
  version: string;
  outcome: MirrorOutcome;
  /** The bundle (written or present). */
  path?: string;
  /** The build definition written beside it. */
  definition?: string;
  /** Why it failed, or what an upgrade changed. */
  detail?: string;
}

export type MirrorProgress =
  | { kind: 'index'; url: string; entries: number; selected: number }
  | { kind: 'start'; name: string; version: string }
  | { kind: 'build'; name: string; version: string; event: BuildProgress }
  | { kind: 'item'; item: MirrorItem };

export interface MirrorResult {
  index: string;
  items: MirrorItem[];
  /** true when every selected entry has its bundle on disk. */
  complete: boolean;
}

type Json = Record<string, unknown>;

/** Reads the index: a URL through the build's HTTP client (Cosmos's Accept header), else a local file. */
async function readRepositoryIndex(
  repoUrl: string,
  opts: { network?: NetworkSettings; allowHttpsDowngrade?: boolean; retry?: Partial<RetryPolicy> } = {},
): Promise<Json[]> {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(repoUrl)?.[1]?.toLowerCase();
  let text: string;
  if (scheme === 'http' || scheme === 'https') {
    text = await fetchIndex(repoUrl, opts);
  } else if (!scheme || scheme.length === 1 || scheme === 'file') {
    const file = scheme === 'file' ? fileURLToPath(repoUrl) : repoUrl;
    const bytes = await readFile(file).catch((err: Error) => {
      throw new MirrorError(`cannot read repository index ${file}: ${err.message}`, { cause: err });
    });
    if (bytes.length > MAX_INDEX_BYTES) throw new MirrorError(`repository index ${file} is larger than ${MAX_INDEX_BYTES} bytes`);
    text = bytes.toString('utf8');
  } else {
    throw new MirrorError(`--repo-url ${redact(repoUrl)}: unsupported scheme ${scheme}: (http, https, or a local file)`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new MirrorError(`repository index ${redact(repoUrl)} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const packages = (value as { packages?: unknown } | null)?.packages;
  if (!value || typeof value !== 'object' || !Array.isArray(packages))
    throw new MirrorError(`repository index ${redact(repoUrl)} has no "packages" array: not a Universe repository index`);
  return packages.map((p) => (p && typeof p === 'object' && !Array.isArray(p) ? (p as Json) : {}));
}

async function fetchIndex(url: string, opts: { network?: NetworkSettings; allowHttpsDowngrade?: boolean; retry?: Partial<RetryPolicy> }) {
  let http: HttpClient;
  try {
    http = new HttpClient({ ...opts.network, allowHttpsDowngrade: opts.allowHttpsDowngrade });
  } catch (err) {
    throw new MirrorError(`cannot set up downloads: ${(err as Error).message}`, { cause: err });
  }
  const shown = redact(url);
  try {
    return await withRetry({ ...DEFAULT_RETRY, ...opts.retry }, async () => {
      const res = await http.get(url, { accept: COSMOS_REPO_ACCEPT });
      if (res.status < 200 || res.status >= 300) {
        res.body.resume();
        const message = `GET ${shown} answered ${res.status}`;
        if (res.status >= 500 || res.status === 429)
          throw new TransientHttpError(res.status, message, parseRetryAfter(res.headers['retry-after']));
        throw new MirrorError(message);
      }
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        n += chunk.length;
        if (n > MAX_INDEX_BYTES) {
          res.body.destroy();
          throw new MirrorError(`repository index ${shown} is larger than ${MAX_INDEX_BYTES} bytes`);
        }
        chunks.push(chunk);
      }
      return Buffer.concat(chunks).toString('utf8');
    });
  } catch (err) {
    if (err instanceof MirrorError) throw err;
    const detail = err instanceof HttpDownloadError ? err.message : `${(err as Error).message}`;
    throw new MirrorError(`cannot read repository index ${shown}: ${detail}`, { cause: err });
  } finally {
    http.close();
  }
}

interface Selected {
  name: string;
  version: string;
  entry?: Json;
  /** Set when the entry cannot even be looked at (unknown name, duplicate, bad coordinates). */
  problem?: string;
}

/** The entries a run mirrors, sorted by name then version; pure, for tests. */
function selectEntries(entries: readonly Json[], specs: readonly string[], allVersions = false): Selected[] {
  const byName = new Map<string, Map<string, Json[]>>();
  for (const e of entries) {
    const name = typeof e.name === 'string' ? e.name : '(no name)';
    const version = typeof e.version === 'string' ? e.version : '(no version)';
    const versions = byName.get(name) ?? new Map<string, Json[]>();
    versions.set(version, [...(versions.get(version) ?? []), e]);
    byName.set(name, versions);
  }
  const wanted: Array<{ name: string; version?: string }> = specs.length
    ? specs.map((s) => {
        const at = s.indexOf('@');
        return at < 0 ? { name: s } : { name: s.slice(0, at), version: s.slice(at + 1) };
      })
    : [...byName.keys()].map((name) => ({ name }));
  const out = new Map<string, Selected>();
  for (const w of wanted) {
    const versions = byName.get(w.name);
    const pick = (version: string) => {
      const found = versions?.get(version) ?? [];
      out.set(`${w.name}@${version}`, {
        name: w.name,
        version,
        ...(found.length === 1
          ? { entry: found[0] }
          : { problem: found.length ? `the index has ${found.length} entries for it` : 'not in the repository index' }),
      });
    };
    if (w.version !== undefined) pick(w.version);
    else if (!versions) out.set(`${w.name}@`, { name: w.name, version: '', problem: 'no such package in the repository index' });
    else {
      const all = [...versions.keys()].sort(compareVersions);
      for (const v of allVersions ? all : all.slice(-1)) pick(v);
    }
  }
  return [...out.values()].sort((a, b) => (a.name !== b.name ? (a.name < b.name ? -1 : 1) : compareVersions(a.version, b.version)));
}

/**
 * The build definition of an index entry: releaseVersion and selected dropped, 2.0/3.0 upgraded
 * when asked, validated, and every asset a URL (no file: URI, no relative path). Pure, for tests.
 */
export function entryDefinition(entry: Json, upgrade = false): { definition: Json; changes: string[] } {
  const { releaseVersion: _r, selected: _s, ...raw } = entry;
  let definition: Json = raw;
  let changes: string[] = [];
  const pv = raw.packagingVersion;
  if (pv === '2.0' || pv === '3.0') {
    if (!upgrade) throw new MirrorError(`${unsupportedPackagingVersionMessage(pv)}; mirror --upgrade does this for index entries`);
    ({ definition, changes } = upgradeToV4(raw));
  }
  const result = validateBuildDefinition(definition);
  if (!result.ok) throw new MirrorError(`not a valid package: ${result.errors.join('; ')}`);
  for (const { uri } of assetSources(definition.resource)) {
    let local = true;
    try {
      local = 'file' in locateAsset(uri, '/nonexistent');
    } catch {
      local = false; // an unsupported scheme: build names it
    }
    if (local)
      throw new MirrorError(
        `asset ${JSON.stringify(uri.slice(0, 200))} is a local file (file: URI or relative path): refused in a repository index`,
      );
  }
  return { definition, changes };
}

/** An existing bundle at `path` holding `definition`: true; another definition: an error; none: false. */
async function alreadyMirrored(path: string, definition: Json): Promise<boolean> {
  const bundle = await openBundle(path).catch((err: NodeJS.ErrnoException | Error) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MirrorError(`${path} exists and is not a readable bundle (${err.message}): move it away to mirror this version`);
  });
  if (!bundle) return false;
  try {
    if (canonicalJson(bundle.manifest.package) === canonicalJson(definition)) return true;
  } finally {
    bundle.close();
  }
  throw new MirrorError(`${path} exists with another package definition than the index entry: move it away to mirror this version`);
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = `${path}.partial-${process.pid}`;
  try {
    await writeFile(temp, text);
    await rename(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
}

export async function mirrorRepository(opts: MirrorOptions): Promise<MirrorResult> {
  const progress = opts.onProgress ?? (() => undefined);
  const entries = await readRepositoryIndex(opts.repoUrl, opts);
  const selected = selectEntries(entries, opts.packages ?? [], opts.allVersions);
  progress({ kind: 'index', url: redact(opts.repoUrl), entries: entries.length, selected: selected.length });
  const items: MirrorItem[] = [];
  const record = (item: MirrorItem) => {
    items.push(item);
    progress({ kind: 'item', item });
  };

  for (const s of selected) {
    const { name, version } = s;
    try {
      if (s.problem || !s.entry) throw new MirrorError(s.problem ?? 'not in the repository index');
      // Coordinates from the index name files: checked first.
      checkName(name);
      checkVersion(version);
      const { definition, changes } = entryDefinition(s.entry, opts.upgrade);
      const path = join(opts.outputDirectory, bundleFileName(name, version));
      const definitionFile = join(opts.outputDirectory, `${name}-${version}.json`);
      if (await alreadyMirrored(path, definition)) {
        record({ name, version, outcome: 'present', path, definition: definitionFile });
        continue;
      }
      progress({ kind: 'start', name, version });
      await mkdir(opts.outputDirectory, { recursive: true });
      await writeAtomically(definitionFile, `${JSON.stringify(definition, null, 2)}\n`);
      await buildBundle({
        definitionFile,
        outputDirectory: opts.outputDirectory,
        insecureRegistries: opts.insecureRegistries,
        dockerConfigPath: opts.dockerConfigPath,
        network: opts.network,
        allowHttpsDowngrade: opts.allowHttpsDowngrade,
        retry: opts.retry,
        concurrency: opts.concurrency,
        onProgress: (event) => progress({ kind: 'build', name, version, event }),
      });
      record({
        name,
        version,
        outcome: 'written',
        path,
        definition: definitionFile,
        ...(changes.length ? { detail: `upgraded: ${changes.join('; ')}` } : {}),
      });
    } catch (err) {
      record({ name, version, outcome: 'failed', detail: (err as Error).message.split('\n')[0] });
    }
  }
  return { index: redact(opts.repoUrl), items, complete: items.every((i) => i.outcome !== 'failed') };
}
