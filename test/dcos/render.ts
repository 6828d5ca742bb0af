/**
 * The registry's Universe package rendered as Cosmos renders it: the options are checked
 * against config.json after its defaults are merged in (Cosmos validates the merged
 * options), then marathon.json.mustache is rendered with mustache over those options plus
 * `resource`, with mustache.java's escaping. The shape of a Marathon 1.x app
 * definition is in marathon-app.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import Mustache from 'mustache';

export const ROOT = path.resolve(__dirname, '../..');
export const PKG = path.join(ROOT, 'packaging/universe');

/** What mustache.java (Cosmos) escapes; unlike mustache.js it leaves "/" alone. */
const cosmosEscape = (s: unknown) => String(s).replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);

export type Json = Record<string, any>;

/** The seed's sample options file, verbatim, stray quote included. */
export const SEED_OPTIONS_TEXT = `{
    "registry": {
        "s3": {
            "credential-secret-path" : "dcos-registry-s3-credential-file",
            "credential-profile-name" : "default",
            "bucket" : "my-bucket",
            "path" : "my-path-in-bucket",
            "endpoint" : "https://s3.us-east-1.amazonaws.com"
        },
        "service-account-secret-path" : "registry-private-key"
    },
    "service": {
        "mem" : 2048,
        "instances" : 2
    }
    "
}`;
/** The seed's file with its stray quote line removed, as a user would have to. */
export const seedOptions = (): Json => JSON.parse(SEED_OPTIONS_TEXT.replace(/\n\s*"\n/, '\n'));

export function defaultsOf(schema: Json): Json {
  const out: Json = {};
  for (const [k, p] of Object.entries<Json>(schema.properties ?? {})) {
    if (p.type === 'object') out[k] = defaultsOf(p);
    else if ('default' in p) out[k] = p.default;
  }
  return out;
}

export function merge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = v && typeof v === 'object' && !Array.isArray(v) ? merge(base[k] ?? {}, v) : v;
  return out;
}

const readJson = (file: string) => JSON.parse(readFileSync(path.join(PKG, file), 'utf8'));
export const packageConfig = (): Json => readJson('config.json');

/** Cosmos's option check: the merged options against config.json (a draft-04 schema; the keywords used mean the same in ajv). */
export function optionErrors(options: Json): string[] {
  const { $schema: _, ...schema } = packageConfig();
  const validate = new Ajv({ allErrors: true, verbose: true, strict: false, validateSchema: false }).compile(schema);
  const merged = merge(defaultsOf(schema), options);
  if (validate(merged)) return [];
  // An anyOf's own description is the message a user gets; its branches' errors would only say which branch missed.
  const errors = validate.errors ?? [];
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf');
  return errors
    .filter((e) => !anyOfs.some((a) => e.schemaPath.startsWith(`${a.schemaPath}/`)))
    .map((e) => (e.keyword === 'anyOf' ? String((e.parentSchema as Json).description) : `${e.instancePath} ${e.message}`));
}

/** The rendered text (Cosmos parses it as JSON next). */
export function renderText(options: Json = {}): string {
  const template = readFileSync(path.join(PKG, 'marathon.json.mustache'), 'utf8');
  const view = { ...merge(defaultsOf(packageConfig()), options), resource: readJson('resource.json') };
  return Mustache.render(template, view, undefined, { escape: cosmosEscape });
}

/** Validated options rendered and parsed, as `dcos package install --options` would get them. */
export function render(options: Json = {}): Json {
  const errors = optionErrors(options);
  if (errors.length) throw new Error(`options refused: ${errors.join('; ')}`);
  return JSON.parse(renderText(options));
}

/** Marathon's rule for a named VIP: the name without its slashes, under marathon.l4lb.thisdcos.directory. */
export function vipHost(label: string): { host: string; port: number } {
  const m = /^(\/?[a-z0-9/-]+):(\d+)$/.exec(label);
  if (!m) throw new Error(`not a VIP label: ${label}`);
  return { host: `${m[1].replaceAll('/', '')}.marathon.l4lb.thisdcos.directory`, port: Number(m[2]) };
}
