/**
 * Error stacks mapped to the TypeScript sources when they are logged, not at every start (issue 14).
 *
 * The functions run without `--enable-source-maps`: with it, Node 20 reads each bundle's `.map` and
 * resolves its sources at load, ~25 ms of every cold start, for stacks almost no start ever prints.
 * Instead, each `at … (<file>.js:L:C)` frame of a logged stack whose `<file>.js.map` lies beside it
 * is mapped through Node's own `module.SourceMap`; the map is read and parsed once per file, on the
 * first error that names it. Anything unexpected (no map, a map over MAX_MAP_BYTES, a map that does
 * not parse, a position it does not cover) leaves that frame as it was: logging never fails on it.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The largest .map read (the function bundles' maps are a few MiB without sourcesContent). */
const MAX_MAP_BYTES = 16 * 1024 * 1024;
/** Files whose map (or its absence) is remembered; the oldest is forgotten beyond this. */
const MAX_FILES = 32;

interface Loaded {
  map: SourceMap;
  /** Where the map's sources are relative to: the map's folder joined with its sourceRoot. */
  base: string;
}

const cache = new Map<string, Loaded | null>();

/** `    at [async |new ]name (/abs/file.js:L:C)` or `    at /abs/file.js:L:C` (also file:// URLs, .cjs, .mjs). */
const FRAME = /^(\s*at )(async |new )?(?:(.+?) \()?((?:file:\/\/)?\/.+?\.[cm]?js):(\d+):(\d+)(\)?)$/;

interface Frame {
  indent: string;
  modifier: string;
  callee?: string;
  file: string;
  line: number;
  column: number;
}

/** `text` with every frame of a bundle that has a source map beside it pointing at the original source. */
export function mapStack(text: string): string {
  // Node maps stacks itself when the flag is on (the production server keeps it): nothing to add.
  if (process.sourceMapsEnabled) return text;
  return text
    .split('\n')
    .map((line) => {
      try {
        return mapFrame(parseFrame(line)) ?? line;
      } catch {
        return line;
      }
    })
    .join('\n');
}

function parseFrame(line: string): Frame | undefined {
  const m = FRAME.exec(line);
  if (!m) return undefined;
  const [, indent, modifier = '', callee, location, lineText, columnText] = m;
  const file = location.startsWith('file://') ? fileURLToPath(location) : location;
  return { indent, modifier, callee, file, line: Number(lineText), column: Number(columnText) };
}

/** The frame at its original position; undefined to keep the line as it is. */
function mapFrame(frame: Frame | undefined): string | undefined {
  if (!frame) return undefined;
  const loaded = load(frame.file);
  if (!loaded) return undefined;
  // {} when the position is before the first mapping; the fields typed loosely, as a map may hold anything.
  const entry: Partial<Record<'originalSource' | 'originalLine' | 'originalColumn', unknown>> = loaded.map.findEntry(
    frame.line - 1,
    frame.column - 1,
  );
  const { originalSource: source, originalLine: line, originalColumn: column } = entry;
  if (typeof source !== 'string' || typeof line !== 'number' || typeof column !== 'number') return undefined;
  const where = `${sourcePath(source, loaded.base)}:${line + 1}:${column + 1}`;
  return frame.callee ? `${frame.indent}${frame.modifier}${frame.callee} (${where})` : `${frame.indent}${frame.modifier}${where}`;
}

/** A map's source as a path: relative ones resolved against the map's folder, as Node does; URLs as written. */
function sourcePath(source: string, base: string): string {
  if (source.startsWith('file://')) return fileURLToPath(source);
  if (/^[a-z][a-z0-9+.-]*:/i.test(source)) return source;
  return path.resolve(base, source);
}

function load(file: string): Loaded | null {
  const known = cache.get(file);
  if (known !== undefined) return known;
  let loaded: Loaded | null = null;
  try {
    const text = readCapped(`${file}.map`);
    if (text !== undefined) {
      const payload = JSON.parse(text) as { sourceRoot?: unknown };
      const root = typeof payload.sourceRoot === 'string' && !/^[a-z][a-z0-9+.-]*:/i.test(payload.sourceRoot) ? payload.sourceRoot : '';
      loaded = { map: new SourceMap(payload as ConstructorParameters<typeof SourceMap>[0]), base: path.resolve(path.dirname(file), root) };
    }
  } catch {
    loaded = null;
  }
  if (cache.size >= MAX_FILES) cache.delete(cache.keys().next().value as string);
  cache.set(file, loaded);
  return loaded;
}

/** The file's text, or undefined when it is missing, not a regular file or over MAX_MAP_BYTES. */
function readCapped(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size > MAX_MAP_BYTES) return undefined;
    const buffer = Buffer.alloc(stat.size);
    let read = 0;
    while (read < buffer.length) {
      const n = readSync(fd, buffer, read, buffer.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return buffer.subarray(0, read).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
