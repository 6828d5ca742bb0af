/**
 * docs/openapi.yaml as a test oracle: `checkResponse` finds the documented operation for a
 * request, requires the answer's status to be documented there, its required headers to
 * be present and its JSON body to match the documented schema (a HEAD answer: no body at
 * all). Every schema is compiled once, when the document is loaded, so a broken schema
 * fails at once, not in the one test that happens to reach it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

// js-yaml is in node_modules through serverless, not a direct dependency, and has no
// types installed: load it untyped (package.json should list it as a devDependency).
const yaml = createRequire(__filename)('js-yaml') as { load(text: string): unknown };

export const ROOT = path.resolve(__dirname, '../..');
const OPENAPI_PATH = path.join(ROOT, 'docs/openapi.yaml');

export function loadYaml(file: string): any {
  return yaml.load(readFileSync(file, 'utf8'));
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const;
/** Where component schemas live once rewritten for ajv (OpenAPI refs point into the document). */
const COMPONENTS_ID = 'https://dcos-registry/openapi/components.json';

interface CompiledMedia {
  mediaType: string;
  validate?: ValidateFunction;
}

interface CompiledResponse {
  headers: Array<{ name: string; required: boolean; validate?: ValidateFunction }>;
  content: CompiledMedia[];
}

interface Operation {
  method: string;
  template: string;
  responses: Map<string, CompiledResponse>;
  security: unknown[];
}

export interface OpenApi {
  doc: any;
  operations: Operation[];
  find(method: string, path: string): Operation;
}

/** Resolve a local `$ref` (`#/components/...`) of the document. */
function deref(doc: any, node: any): any {
  let n = node;
  for (let i = 0; n && typeof n.$ref === 'string' && i < 10; i++) {
    if (!n.$ref.startsWith('#/')) throw new Error(`openapi: only local $refs are supported, got ${n.$ref}`);
    n = n.$ref
      .slice(2)
      .split('/')
      .map((s: string) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((o: any, k: string) => o?.[k], doc);
    if (n === undefined) throw new Error(`openapi: dangling $ref ${node.$ref}`);
  }
  return n;
}

/** Copy of a schema whose component refs point at the schema registered under COMPONENTS_ID. */
function rewriteRefs(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rewriteRefs);
  if (schema && typeof schema === 'object') {
    return Object.fromEntries(
      Object.entries(schema).map(([k, v]) => [
        k,
        k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')
          ? `${COMPONENTS_ID}#/$defs/${v.slice(21)}`
          : rewriteRefs(v),
      ]),
    );
  }
  return schema;
}

function normalizeMediaType(type: string): string {
  return type.toLowerCase().replace(/\s+/g, '');
}

function templateRegex(template: string, params: any[]): RegExp {
  const greedy = new Set(params.filter((p) => p?.in === 'path' && p['x-greedy']).map((p) => p.name));
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const m = /^\{([^}]+)\}$/.exec(part);
      if (!m) return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      return greedy.has(m[1]) ? '(.+)' : '([^/]+)';
    })
    .join('');
  return new RegExp(`^${source}$`);
}

function loadOpenApi(file = OPENAPI_PATH): OpenApi {
  const doc = loadYaml(file);
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false });
  addFormats(ajv);
  // OpenAPI 3.1 schema keywords that are annotations, and our own extension.
  for (const keyword of ['example', 'discriminator', 'xml', 'externalDocs']) ajv.addKeyword(keyword);
  ajv.addSchema({ $id: COMPONENTS_ID, $defs: rewriteRefs(doc.components?.schemas ?? {}) as Record<string, unknown> });
  const compile = (schema: unknown, where: string): ValidateFunction => {
    try {
      return ajv.compile(rewriteRefs(schema) as object);
    } catch (error) {
      throw new Error(`openapi: schema of ${where} does not compile: ${(error as Error).message}`);
    }
  };

  const operations: Array<Operation & { regex: RegExp; literal: number }> = [];
  for (const [template, rawItem] of Object.entries<any>(doc.paths ?? {})) {
    const item = deref(doc, rawItem);
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: any) => deref(doc, p));
      const responses = new Map<string, CompiledResponse>();
      for (const [status, rawResponse] of Object.entries<any>(op.responses ?? {})) {
        const where = `${method.toUpperCase()} ${template} ${status}`;
        const response = deref(doc, rawResponse);
        const headers = Object.entries<any>(response.headers ?? {}).map(([name, h]) => {
          const header = deref(doc, h);
          return {
            name: name.toLowerCase(),
            required: header.required === true,
            validate: header.schema ? compile(header.schema, `${where} header ${name}`) : undefined,
          };
        });
        const content = Object.entries<any>(response.content ?? {}).map(([mediaType, media]) => ({
          mediaType: normalizeMediaType(mediaType),
          validate: media.schema && /json/.test(mediaType) ? compile(media.schema, `${where} ${mediaType}`) : undefined,
        }));
        responses.set(status, { headers, content });
      }
      operations.push({
        method: method.toUpperCase(),
        template,
        responses,
        security: op.security ?? doc.security ?? [],
        regex: templateRegex(template, params),
        // More literal characters = more specific template: tried first.
        literal: template.replace(/\{[^}]+\}/g, '').length,
      });
    }
  }
  operations.sort((a, b) => b.literal - a.literal);

  return {
    doc,
    operations,
    find(method: string, urlPath: string): Operation {
      const p = urlPath.split('?')[0];
      const candidates = operations.filter((o) => o.regex.test(p));
      if (!candidates.length) throw new Error(`openapi: no documented path matches ${p}`);
      const op = candidates.find((o) => o.method === method.toUpperCase());
      if (!op) throw new Error(`openapi: ${method.toUpperCase()} is not documented for ${candidates[0].template} (path ${p})`);
      return op;
    },
  };
}

let cached: OpenApi | undefined;
export function openApi(): OpenApi {
  return (cached ??= loadOpenApi());
}

function headerValue(headers: Headers | Record<string, string | undefined>, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

function errorsText(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .slice(0, 8)
    .map(
      (e) => `${e.instancePath || '(root)'} ${e.message}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`,
    )
    .join('; ');
}

/**
 * Throws unless the answer matches docs/openapi.yaml: a documented operation for method
 * and path, a documented status, the required headers, a documented Content-Type when
 * there is a body, and a JSON body valid against its schema. `body` is the parsed JSON,
 * the raw text, or undefined/'' for none.
 */
export function checkResponse(
  method: string,
  urlPath: string,
  status: number,
  headers: Headers | Record<string, string | undefined>,
  body: unknown,
): void {
  const op = openApi().find(method, urlPath);
  const where = `${op.method} ${op.template} (${urlPath.split('?')[0]})`;
  const response = op.responses.get(String(status)) ?? op.responses.get(`${String(status)[0]}XX`);
  if (!response) {
    const shown = typeof body === 'string' ? body.slice(0, 300) : JSON.stringify(body)?.slice(0, 300);
    throw new Error(
      `openapi: ${where} answered ${status}, which is not documented (documented: ${[...op.responses.keys()].join(', ')}); body: ${shown}`,
    );
  }
  for (const h of response.headers) {
    const value = headerValue(headers, h.name);
    if (value === undefined) {
      if (h.required) throw new Error(`openapi: ${where} ${status} lacks the required header ${h.name}`);
      continue;
    }
    if (h.validate && !h.validate(value))
      throw new Error(`openapi: ${where} ${status} header ${h.name}: ${JSON.stringify(value)} ${errorsText(h.validate)}`);
  }
  const empty = body === undefined || body === '' || (body instanceof Uint8Array && body.length === 0);
  // A HEAD answer is the GET answer's headers without its body, whatever content is documented.
  if (op.method === 'HEAD') {
    if (!empty) throw new Error(`openapi: ${where} ${status} is an answer to HEAD but has a body`);
    return;
  }
  if (!response.content.length) {
    if (!empty) throw new Error(`openapi: ${where} ${status} is documented without a body but has one`);
    return;
  }
  if (empty) throw new Error(`openapi: ${where} ${status} is documented with a body but has none`);
  const contentType = normalizeMediaType(headerValue(headers, 'content-type') ?? '');
  const media =
    response.content.find((m) => m.mediaType === contentType) ??
    response.content.find((m) => !m.mediaType.includes(';') && m.mediaType === contentType.split(';')[0]) ??
    response.content.find((m) => m.mediaType === '*/*');
  if (!media) {
    throw new Error(
      `openapi: ${where} ${status} answered Content-Type ${JSON.stringify(contentType)}, documented: ${response.content.map((m) => m.mediaType).join(', ')}`,
    );
  }
  if (!media.validate) return;
  let value = body;
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
    try {
      value = JSON.parse(text);
    } catch {
      throw new Error(`openapi: ${where} ${status} body is not JSON: ${text.slice(0, 200)}`);
    }
  }
  if (!media.validate(value)) {
    throw new Error(
      `openapi: ${where} ${status} body does not match the schema: ${errorsText(media.validate)}\nbody: ${JSON.stringify(value).slice(0, 500)}`,
    );
  }
}
