/**
 * The `mirror`, `export` and `sync` verbs, in the shape of commands.ts's functions (flags in, a JSON result and text lines
 * out; VERB_TABLE in verbs.ts names them). The work is lib/airgap's; this file reads the flags and turns its events into
 * progress lines.
 */
import { pullSettings } from './pull-settings';
import { buildProgressPrinter } from './build-progress';
import { createDispatcher } from '../lib/net/network';
import { ClientConfigError } from '../lib/client/http';
import { exportBundle } from '../lib/airgap/export';
import { syncRegistries, type SyncItem } from '../lib/airgap/sync';
import { mirrorRepository, type MirrorItem, type MirrorProgress } from '../lib/airgap/mirror';
import type { CommandContext, CommandResult } from './commands';

/** Thrown by sync when not everything synced: the CLI prints it and exits 1 (the lines are already on stderr). */
class SyncIncompleteError extends Error {
  constructor(readonly items: SyncItem[]) {
    const bad = items.filter((i) => i.outcome === 'conflict' || i.outcome === 'failed');
    super(`sync incomplete: ${bad.length} version(s) not synced (${bad.map((i) => `${i.name} ${i.version} ${i.outcome}`).join(', ')})`);
    this.name = 'SyncIncompleteError';
  }
}

/** Thrown by mirror when some entries were not mirrored: the CLI prints it and exits 1 (the lines are already on stderr). */
class MirrorIncompleteError extends Error {
  constructor(readonly items: MirrorItem[]) {
    const bad = items.filter((i) => i.outcome === 'failed');
    const done = items.length - bad.length;
    super(`mirror incomplete: ${bad.length} of ${items.length} package version(s) not mirrored (${done} written or already present)`);
    this.name = 'MirrorIncompleteError';
  }
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : []);

function dispatcher(ctx: CommandContext) {
  const { env } = ctx;
  return createDispatcher({ httpProxy: env.httpProxy, httpsProxy: env.httpsProxy, noProxy: env.noProxy, caFile: env.caFile });
}

/**
 * `dcos-registry mirror`: the lines `build` prints, prefixed by the package version for each
 * entry, one `Failed <name> <version>: <why>` line per entry that could not be mirrored, and a
 * summary; exit status 1 (MirrorIncompleteError) unless every selected entry is on disk.
 */
export async function mirrorCommand(ctx: CommandContext): Promise<CommandResult> {
  const { progress, env } = ctx;
  const printBuild = buildProgressPrinter(progress);
  const onProgress = (p: MirrorProgress) => {
    if (p.kind === 'index') return progress.line(`Read ${p.url}: ${p.entries} entries, ${p.selected} selected`);
    if (p.kind === 'start') return progress.line(`Mirroring ${p.name} ${p.version}`);
    if (p.kind === 'item') {
      const i = p.item;
      if (i.outcome === 'failed') return progress.line(`Failed ${i.name} ${i.version || '(any version)'}: ${i.detail}`);
      if (i.outcome === 'present') return progress.line(`Skipped (already on disk) ${i.path}`);
      return progress.line(`Created DC/OS Universe Package ${i.path}${i.detail ? ` (${i.detail})` : ''}`);
    }
    printBuild(p.event);
  };
  const result = await mirrorRepository({
    repoUrl: str(ctx.flags['repo-url'])!,
    packages: list(ctx.flags.package),
    allVersions: ctx.flags['all-versions'] === true,
    outputDirectory: str(ctx.flags['output-directory'])!,
    upgrade: ctx.flags.upgrade === true,
    ...pullSettings(ctx.flags, env),
    onProgress,
  });
  progress.clear();
  if (!result.complete) throw new MirrorIncompleteError(result.items);
  const count = (o: string) => result.items.filter((i) => i.outcome === o).length;
  return {
    json: { index: result.index, items: result.items, complete: true },
    text: [`Mirror complete: ${count('written')} written, ${count('present')} already present`],
  };
}

export async function exportCommand(ctx: CommandContext): Promise<CommandResult> {
  const url = str(ctx.flags.url) ?? ctx.env.registryUrl;
  if (!url) throw new ClientConfigError('no registry URL: give --url or set DCOS_REGISTRY_URL');
  const result = await exportBundle({
    url,
    name: str(ctx.flags['package-name'])!,
    version: str(ctx.flags['package-version'])!,
    outputDirectory: str(ctx.flags['output-directory']) ?? '.',
    dispatcher: dispatcher(ctx),
    network: { httpProxy: ctx.env.httpProxy, httpsProxy: ctx.env.httpsProxy, noProxy: ctx.env.noProxy, caFile: ctx.env.caFile },
    onProgress: (e) => {
      if (e.kind === 'asset-done') ctx.progress.line(`Downloaded ${e.name} (${e.digest})`);
      if (e.kind === 'image-done') ctx.progress.line(`Pulled ${e.reference} (${e.manifestDigest})`);
      if (e.kind === 'write') ctx.progress.bar('Writing bundle', e.written, e.total);
    },
  });
  ctx.progress.clear();
  for (const n of result.notes) ctx.progress.line(`Note: ${n}`);
  if (!result.identical) ctx.progress.line(`Note: the export is valid for add but not byte-identical to the bundle that was added`);
  return {
    json: { name: result.path, identical: result.identical, contentDigest: result.sourceDigest, notes: result.notes },
    text: [`Created DC/OS Package ${result.path}`],
  };
}

export async function syncCommand(ctx: CommandContext): Promise<CommandResult> {
  const result = await syncRegistries({
    from: str(ctx.flags.from)!,
    to: str(ctx.flags.to)!,
    token: str(ctx.flags.token) ?? ctx.env.registryToken,
    packages: list(ctx.flags.package),
    delete: ctx.flags.delete === true,
    workDirectory: str(ctx.flags['work-directory']),
    dispatcher: dispatcher(ctx),
    onEvent: (e) => {
      if (e.kind === 'item') {
        const i = e.item;
        const label = {
          added: 'Synced',
          present: 'Skipped (already on target)',
          conflict: 'Conflict',
          failed: 'Failed',
          deleted: 'Deleted',
        }[i.outcome];
        const sent = i.sent !== undefined && i.bundleBytes !== undefined ? ` (sent ${i.sent} of ${i.bundleBytes} bundle bytes)` : '';
        ctx.progress.line(`${label} ${i.name} ${i.version}${sent}${i.detail ? `: ${i.detail}` : ''}`);
      } else if (e.kind === 'add' && e.event.kind === 'upload')
        ctx.progress.bar(`Uploading ${e.name} ${e.version}`, e.event.sent, e.event.total);
    },
  });
  ctx.progress.clear();
  if (!result.complete) throw new SyncIncompleteError(result.items);
  const count = (o: string) => result.items.filter((i) => i.outcome === o).length;
  return {
    json: { items: result.items, complete: true },
    text: [`Sync complete: ${count('added')} added, ${count('present')} already present, ${count('deleted')} deleted`],
  };
}
