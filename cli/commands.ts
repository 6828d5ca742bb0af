/**
 * One function per verb (VERB_TABLE in verbs.ts names them): flags in, one call into lib/, a result out (a JSON object for --json and
 * the lines printed otherwise). Printing and exit codes are main.ts's business.
 */
import { readFile } from 'node:fs/promises';
import { buildBundle, migrateToFile } from '../lib/builder';
import { pullSettings } from './pull-settings';
import { buildProgressPrinter } from './build-progress';
import {
  addBundle,
  collectGarbage,
  describePackage,
  readAuditLog,
  type AuditRecord,
  listPackages,
  removePackage,
  resolveConnection,
  type AddProgress,
  type Connection,
} from '../lib/client';
import { activateRegistry, loginUid, UID_PATTERN } from '../lib/dcos/activate';
import { defaultAccountNames } from '../lib/dcos/service-account';
import { AddFailedError } from '../lib/client/add';
import { readUploadState } from '../lib/client/state';
import { UsageError } from './errors';
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

const TOKEN_ON_COMMAND_LINE_WARNING =
  'Warning: --token on the command line is visible to other users of this machine (process list, shell history); set DCOS_REGISTRY_TOKEN instead.';

function clientOptions(ctx: CommandContext): Connection {
  const token = str(ctx.flags.token);
  if (token !== undefined) ctx.progress.line(TOKEN_ON_COMMAND_LINE_WARNING);
  const { env } = ctx;
  return resolveConnection({
    url: str(ctx.flags.url),
    token,
    name: str(ctx.flags.name),
    registryUrl: env.registryUrl,
    registryToken: env.registryToken,
    dcosUrl: env.dcosUrl,
    dcosAcsToken: env.dcosAcsToken,
    dcosTlsInsecure: env.dcosTlsInsecure,
    dcosTlsCaPath: env.dcosTlsCaPath,
    httpProxy: env.httpProxy,
    httpsProxy: env.httpsProxy,
    noProxy: env.noProxy,
    caFile: env.caFile,
  });
}

export async function migrate(ctx: CommandContext): Promise<CommandResult> {
  const { path, changes, notes, copied } = await migrateToFile({
    packageDirectory: str(ctx.flags['package-directory'])!,
    outputDirectory: str(ctx.flags['output-directory'])!,
    upgrade: ctx.flags.upgrade === true,
    allowLocalDirectories: (ctx.flags['allow-local-dir'] as string[] | undefined) ?? [],
  });
  for (const c of copied) ctx.progress.line(`Copied ${c.uri} to ${c.path}`);
  for (const c of changes) ctx.progress.line(`Upgraded: ${c}`);
  for (const n of notes) ctx.progress.line(`Note: ${n}`);
  return { json: { name: path }, text: [`Created DC/OS Build Definition ${path}`] };
}

export async function build(ctx: CommandContext): Promise<CommandResult> {
  const { progress, env } = ctx;
  const onProgress = buildProgressPrinter(progress);
  const { path } = await buildBundle({
    definitionFile: str(ctx.flags['build-definition-file'])!,
    outputDirectory: str(ctx.flags['output-directory'])!,
    allowLocalDirectories: (ctx.flags['allow-local-dir'] as string[] | undefined) ?? [],
    ...pullSettings(ctx.flags, env),
    onProgress,
  });
  progress.clear();
  return { json: { name: path }, text: [`Created DC/OS Universe Package ${path}`] };
}

export async function add(ctx: CommandContext): Promise<CommandResult> {
  const { progress } = ctx;
  const concurrency = ctx.flags.concurrency === undefined ? undefined : Number(ctx.flags.concurrency);
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 64)) {
    throw new UsageError('add: --concurrency must be an integer from 1 to 64');
  }
  // The original's wording (its users know it): the bar's label, and one line once the bytes are sent.
  let uploaded = false;
  const announceUploaded = () => {
    if (!uploaded) progress.line('Package uploaded successfully. Please wait while it is being validated..');
    uploaded = true;
  };
  const onProgress = (e: AddProgress) => {
    switch (e.kind) {
      case 'verify':
        return progress.bar('Verifying bundle', e.verified, e.total);
      case 'start':
        return progress.line(
          `${e.resumed ? 'Resuming' : 'Started'} upload ${e.uploadId}: ${e.blobs - e.present} of ${e.blobs} blobs to send (${formatBytes(e.bytesToSend)})`,
        );
      case 'upload':
        progress.bar('File Upload progress:', e.sent, e.total);
        if (e.sent >= e.total) announceUploaded();
        return;
      case 'retry':
        return progress.line(`Retrying ${e.what} (attempt ${e.attempt}): ${e.error}`);
      case 'processing':
        return announceUploaded();
    }
  };
  const file = str(ctx.flags['dcos-file'])!;
  const body = await addBundle(file, { ...clientOptions(ctx), concurrency, onProgress }).catch(async (err: unknown) => {
    throw await withKeptUpload(err, file);
  });
  progress.clear();
  return {
    json: { packages: [{ name: body.name, version: body.version, status: body.status }] },
    text: ['Added packages:', `${body.name} ${body.version}`],
  };
}

/**
 * An add that errored out after its upload started (network, registry restart) keeps the upload
 * (<bundle>.upload.json): its message says so, and how to go on (the seed's recovery step: describe).
 */
async function withKeptUpload(err: unknown, file: string): Promise<unknown> {
  if (err instanceof AddFailedError || !(err instanceof Error)) return err;
  const kept = await readUploadState(file);
  if (!kept) return err;
  const describeCommand = `dcos-registry describe --package-name=${kept.name} --package-version=${kept.version}`;
  return new Error(
    `${err.message}; upload ${kept.uploadId} is kept: run add again to resume it; \`${describeCommand}\` shows where it stands`,
    {
      cause: err,
    },
  );
}

export async function describe(ctx: CommandContext): Promise<CommandResult> {
  const body = await describePackage(clientOptions(ctx), str(ctx.flags['package-name'])!, str(ctx.flags['package-version'])!);
  return { json: body, text: [JSON.stringify(body, null, 2)] };
}

export async function remove(ctx: CommandContext): Promise<CommandResult> {
  const name = str(ctx.flags['package-name'])!;
  const version = str(ctx.flags['package-version'])!;
  const body = await removePackage(clientOptions(ctx), name, version);
  // Once it is removed (a refused remove says only why).
  ctx.progress.line(
    `Warning: services already deployed from ${name} ${version} may break: its assets and images stop being served once garbage collection runs.`,
  );
  return { json: body, text: [`Removed ${body.name ?? name} ${body.version ?? version}`] };
}

export async function list(ctx: CommandContext): Promise<CommandResult> {
  const body = await listPackages(clientOptions(ctx));
  const lines = (body.packages ?? []).flatMap((p) =>
    p.versions.map((v) => `${p.name} ${v.version} ${v.status}${v.releaseVersion !== undefined ? ` ${v.releaseVersion}` : ''}`),
  );
  return { json: body, text: lines.length ? lines : ['No packages'] };
}

export async function gc(ctx: CommandContext): Promise<CommandResult> {
  const body = await collectGarbage(clientOptions(ctx));
  return { json: body, text: [`Garbage collection: ${JSON.stringify(body)}`] };
}

/** Most records one `audit` page may ask for (the registry's bound, docs/openapi.yaml). */
const AUDIT_LIMIT_MAX = 1000;

/** One audit record as a line: when, who, what (and on which version / upload), from which instance. */
function auditLine(r: AuditRecord): string {
  const what = [
    r.action,
    ...(r.name !== undefined ? [r.name, r.version ?? ''] : []),
    ...(r.uploadId !== undefined ? [`upload=${r.uploadId}`] : []),
  ];
  return [r.at, r.subject, ...what, ...(r.outcome === 'failed' ? ['outcome=failed'] : []), `instance=${r.instance}`].join(' ');
}

export async function audit(ctx: CommandContext): Promise<CommandResult> {
  const limitFlag = str(ctx.flags.limit);
  const limit = limitFlag === undefined ? undefined : Number(limitFlag);
  if (limit !== undefined && !(/^\d+$/.test(limitFlag!) && limit >= 1 && limit <= AUDIT_LIMIT_MAX)) {
    throw new UsageError(`audit: --limit must be an integer from 1 to ${AUDIT_LIMIT_MAX}`);
  }
  const body = await readAuditLog(clientOptions(ctx), { after: str(ctx.flags.after), limit });
  if (body.next !== undefined) ctx.progress.line(`More records: run again with --after=${body.next}`);
  return { json: body, text: body.entries.length ? body.entries.map(auditLine) : ['No audit records'] };
}

/** --options=FILE: its JSON object, with service.name agreeing with --name; the registry is reached under that name. */
async function activateOptionsFile(ctx: CommandContext, conn: Connection, file: string) {
  let options: Record<string, unknown>;
  try {
    options = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`activate: cannot read the options file ${file}: ${(error as Error).message}`);
  }
  if (!options || typeof options !== 'object' || Array.isArray(options)) throw new UsageError(`activate: ${file} must hold a JSON object`);
  const svc = (options.service ?? {}) as Record<string, unknown>;
  const named = typeof svc.name === 'string' ? svc.name : undefined;
  if (named && str(ctx.flags.name) && named.replace(/^\/+/, '') !== str(ctx.flags.name)!.replace(/^\/+/, '')) {
    throw new UsageError(`activate: --name ${str(ctx.flags.name)} differs from service.name ${named} in ${file}`);
  }
  const service = (named ?? conn.service!).replace(/^\/+/, '');
  const registry = service === conn.service ? conn : clientOptions({ ...ctx, flags: { ...ctx.flags, name: service, token: undefined } });
  return { service, registry, options: { ...options, service: { ...svc, name: service } } };
}

/** Default options' writers: --writers (comma-separated uids), else the uid of the DC/OS login running activate. */
function activateWriters(ctx: CommandContext, conn: Connection): string[] {
  const flag = ctx.flags.writers;
  if (flag !== undefined) {
    const writers = String(flag)
      .split(',')
      .map((w) => w.trim());
    const bad = writers.find((w) => !UID_PATTERN.test(w));
    if (bad !== undefined)
      throw new UsageError(`activate: --writers takes comma-separated DC/OS uids (letters, digits, @ . _ -): not "${bad}"`);
    return writers;
  }
  const uid = loginUid(conn.token);
  if (!uid)
    throw new UsageError('activate: cannot read the uid of your DC/OS login (run `dcos auth login`), or name the writers: --writers=<uid>');
  return [uid];
}

/**
 * With --options=FILE: the install with those options. Without: default options, for which the
 * service account, its secret and the CA permission are made first (lib/dcos/service-account.ts).
 */
export async function activate(ctx: CommandContext): Promise<CommandResult> {
  const conn = clientOptions(ctx);
  if (conn.mode !== 'dcos' || !conn.cluster) {
    throw new UsageError('activate: needs an attached DC/OS cluster: run it as `dcos registry activate` (DCOS_URL), without --url');
  }
  const file = str(ctx.flags.options);
  const writers = file ? undefined : activateWriters(ctx, conn);
  if (file && ctx.flags.writers !== undefined) {
    throw new UsageError(
      'activate: --writers goes with default options; with --options, the options file says who writes (registry.auth.writers)',
    );
  }
  const { service, registry, options } = file
    ? await activateOptionsFile(ctx, conn, file)
    : { service: conn.service!, registry: conn, options: undefined };
  const result = await activateRegistry({
    cluster: conn.cluster,
    registry,
    service,
    packageName: str(ctx.flags['package-name']) ?? 'package-registry',
    options,
    serviceAccount: options ? undefined : defaultAccountNames(service),
    writers,
    repositoryName: str(ctx.flags['repository-name']) ?? 'Registry',
    onStep: (line) => ctx.progress.line(line),
  });
  return { json: { service, ...result }, text: [`Registry ${service} is active: package repository ${result.repositoryUri}`] };
}
