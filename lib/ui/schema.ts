/**
 * A package's config schema (config.json, a JSON Schema) as rows of a table: one row per
 * property, nested objects flattened to dotted paths, and the diff of two versions' schemas.
 */

export interface SchemaRow {
  /** The property's path from the root, one segment per object level. */
  path: string[];
  type: string;
  /** The default as JSON text, undefined when the schema gives none. */
  default?: string;
  description: string;
  required: boolean;
  /** An object with properties of its own (its children follow it). */
  group: boolean;
}

type Json = Record<string, unknown>;

/** Most rows shown (a schema is small; this bounds the page for a hostile one). */
const MAX_ROWS = 1000;
const MAX_DEPTH = 12;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

function typeOf(s: Json): string {
  const t = s.type;
  if (Array.isArray(t)) return t.map(String).join(' | ');
  if (typeof t === 'string') return t;
  if (Array.isArray(s.enum)) return 'enum';
  if (isObject(s.properties)) return 'object';
  return '';
}

/** Rows in document order, parents before their children. */
export function schemaRows(schema: unknown): SchemaRow[] {
  const rows: SchemaRow[] = [];
  const walk = (node: Json, parent: string[], depth: number) => {
    const props = node.properties;
    if (!isObject(props) || depth > MAX_DEPTH) return;
    const required = new Set(Array.isArray(node.required) ? node.required.map(String) : []);
    for (const [key, raw] of Object.entries(props)) {
      if (rows.length >= MAX_ROWS) return;
      if (!isObject(raw)) continue;
      const path = [...parent, key];
      const group = isObject(raw.properties) && Object.keys(raw.properties).length > 0;
      rows.push({
        path,
        type: typeOf(raw),
        default: raw.default === undefined ? undefined : JSON.stringify(raw.default),
        description: typeof raw.description === 'string' ? raw.description : '',
        required: required.has(key),
        group,
      });
      if (group) walk(raw, path, depth + 1);
    }
  };
  if (isObject(schema)) walk(schema, [], 0);
  return rows;
}

export interface SchemaDiff {
  added: SchemaRow[];
  removed: SchemaRow[];
  /** Same path, another type or default. */
  changed: Array<{ path: string[]; from: SchemaRow; to: SchemaRow }>;
}

/** What changes from the schema `from` to the schema `to`. */
export function diffSchemas(from: unknown, to: unknown): SchemaDiff {
  const key = (r: SchemaRow) => JSON.stringify(r.path);
  const a = new Map(schemaRows(from).map((r) => [key(r), r]));
  const b = new Map(schemaRows(to).map((r) => [key(r), r]));
  const diff: SchemaDiff = { added: [], removed: [], changed: [] };
  for (const [k, r] of b) if (!a.has(k)) diff.added.push(r);
  for (const [k, r] of a) {
    const other = b.get(k);
    if (!other) diff.removed.push(r);
    else if (other.type !== r.type || other.default !== r.default) diff.changed.push({ path: r.path, from: r, to: other });
  }
  return diff;
}
