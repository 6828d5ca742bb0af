/**
 * One function per verb: flags in, one call into lib/, a result out (a JSON object for --json and
 * the lines printed otherwise). Printing and exit codes are main.ts's business.
 */
import { buildBundle, createDispatcher, migrateToFile, type BuildProgress } from '../lib/build';
import {
  addBundle,
  collectGarbage,
  describePackage,
  listPackages,
  removePackage,
  ClientConfigError,
  type AddProgress,
  type ClientOptions,
} from '../lib/client';
import { exportCommand, syncCommand } from '../lib/airgap/commands';
import { UsageError, type Verb } from './args';
import type { CliEnvironment } from './env';
import { formatBytes, type Progress } from './progress';

export interface CommandResult {
  json: unknown;
  text: string[];
}

export interface CommandContext {
  flags: Record<string, string | boolean | string[] | undefined>;
  env: CliEnvironment;
  progress: Progress;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

function clientOptions(ctx: CommandContext): ClientOptions {
  const url = str(ctx.flags.url) ?? ctx.env.registryUrl;
  if (!url) throw new ClientConfigError('no registry URL: give --url or set DCOS_REGISTRY_URL');
  return {
    url,
    token: str(ctx.flags.token) ?? ctx.env.registryToken,
    dispatcher: createDispatcher({
      httpProxy: ctx.env.httpProxy,
      httpsProxy: ctx.env.httpsProxy,
      noProxy: ctx.env.noProxy,
      caFile: ctx.env.caFile,
    }),
  };
}

async function migrate(ctx: CommandContext): Promise<CommandResult> {
  const { path, changes, notes } = await migrateToFile({
    packageDirectory: str(ctx.flags['package-directory'])!,
    outputDirectory: str(ctx.flags['output-directory'])!,
    upgrade: ctx.flags.upgrade === true,
  });
  for (const c of changes) ctx.progress.line(`Upgraded: ${c}`);
  for (const n of notes) ctx.progress.line(`Note: ${n}`);
  return { json: { name: path }, text: [`Created DC/OS Build Definition ${path}`] };
}

async function build(ctx: CommandContext): Promise<CommandResult> {
  const { progress, env } = ctx;
  const transferred = new Map<string, number>();
  let sum = 0;
  const track = (key: string, n: number) => {
    sum += n - (transferred.get(key) ?? 0);
    transferred.set(key, n);
    progress.bar('Downloading', sum);
  };
  const onProgress = (e: BuildProgress) => {
    switch (e.kind) {
      case 'asset':
        return track(e.uri, e.transferred);
      case 'asset-done':
        return progress.line(`Downloaded ${e.uri} (${formatBytes(e.size)})`);
      case 'image':
        if (e.event.kind === 'blob') track(e.event.digest, e.event.transferred);
        if (e.event.kind === 'retry') progress.line(`Retrying ${e.reference} (attempt ${e.event.attempt}): ${e.event.error}`);
        return;
      case 'image-done':
        return progress.line(`Pulled ${e.reference} (${e.manifestDigest})`);
      case 'retry':
        return progress.line(`Retrying ${e.what} (attempt ${e.attempt}): ${e.error}`);
      case 'write':
        return progress.bar('Writing bundle', e.written, e.total);
    }
  };
  const { path } = await buildBundle({
    definitionFile: str(ctx.flags['build-definition-file'])!,
    outputDirectory: str(ctx.flags['output-directory'])!,
    insecureRegistries: (ctx.flags['insecure-registry'] as string[] | undefined) ?? [],
    dockerConfigPath: str(ctx.flags['docker-config']) ?? env.dockerConfigPath,
    dispatcher: createDispatcher({
      httpProxy: env.httpProxy,
      httpsProxy: env.httpsProxy,
      noProxy: env.noProxy,
      caFile: str(ctx.flags['ca-file']) ?? env.caFile,
    }),
    onProgress,
  });
  progress.clear();
  return { json: { name: path }, text: [`Created DC/OS Package ${path}`] };
}

async function add(ctx: CommandContext): Promise<CommandResult> {
  const { progress } = ctx;
  const concurrency = ctx.flags.concurrency === undefined ? undefined : Number(ctx.flags.concurrency);
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 64)) {
    throw new UsageError('add: --concurrency must be an integer from 1 to 64');
  }
  let processing = false;
  const onProgress = (e: AddProgress) => {
    switch (e.kind) {
      case 'verify':
        return progress.bar('Verifying bundle', e.verified, e.total);
      case 'start':
        return progress.line(
          `${e.resumed ? 'Resuming' : 'Started'} upload ${e.uploadId}: ${e.blobs - e.present} of ${e.blobs} blobs to send (${formatBytes(e.bytesToSend)})`,
        );
      case 'upload':
        return progress.bar('Uploading', e.sent, e.total);
      case 'retry':
        return progress.line(`Retrying ${e.what} (attempt ${e.attempt}): ${e.error}`);
      case 'processing':
        if (!processing) progress.line('Registry is verifying the upload...');
        processing = true;
        return;
    }
  };
  const body = await addBundle(str(ctx.flags['dcos-file'])!, { ...clientOptions(ctx), concurrency, onProgress });
  progress.clear();
  return {
    json: { packages: [{ name: body.name, version: body.version, status: body.status }] },
    text: ['Added packages:', `${body.name} ${body.version}`],
  };
}

async function describe(ctx: CommandContext): Promise<CommandResult> {
  const body = await describePackage(clientOptions(ctx), str(ctx.flags['package-name'])!, str(ctx.flags['package-version'])!);
  return { json: body, text: [JSON.stringify(body, null, 2)] };
}

async function remove(ctx: CommandContext): Promise<CommandResult> {
  const name = str(ctx.flags['package-name'])!;
  const version = str(ctx.flags['package-version'])!;
  ctx.progress.line(
    `Warning: services already deployed from ${name} ${version} may break: its assets and images stop being served once garbage collection runs.`,
  );
  const body = await removePackage(clientOptions(ctx), name, version);
  return { json: body, text: [`Removed ${body.name ?? name} ${body.version ?? version}`] };
}

async function list(ctx: CommandContext): Promise<CommandResult> {
  const body = await listPackages(clientOptions(ctx));
  const lines = (body.packages ?? []).flatMap((p) =>
    p.versions.map((v) => `${p.name} ${v.version} ${v.status}${v.releaseVersion !== undefined ? ` ${v.releaseVersion}` : ''}`),
  );
  return { json: body, text: lines.length ? lines : ['No packages'] };
}

async function gc(ctx: CommandContext): Promise<CommandResult> {
  const body = await collectGarbage(clientOptions(ctx));
  return { json: body, text: [`Garbage collection: ${JSON.stringify(body)}`] };
}

export const COMMANDS: Record<Verb, (ctx: CommandContext) => Promise<CommandResult>> = {
  migrate,
  build,
  add,
  describe,
  remove,
  list,
  gc,
  export: exportCommand,
  sync: syncCommand,
};
