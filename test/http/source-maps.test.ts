/**
 * Issue 14: the functions run without --enable-source-maps (it cost ~25 ms of every cold start), so
 * an error's stack is mapped to the TypeScript sources only when it is logged (lib/stack.ts, through
 * describeError in lib/log.ts): the log still names lib/...ts and the line, not only the bundle.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { mapStack } from '../../lib/stack';
import { FileStorage } from '../../lib/storage/fs';
import { bundleAsDeployed, runScript } from '../support/bundle';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = Buffer.from('0123456789abcdef0123456789abcdef');

/** 1-based line of the first line of `file` (repository-relative) that contains `text`. */
async function lineOf(file: string, text: string): Promise<number> {
  const lines = (await fsp.readFile(path.join(ROOT, file), 'utf8')).split('\n');
  const i = lines.findIndex((l) => l.includes(text));
  if (i < 0) throw new Error(`${text} not in ${file}`);
  return i + 1;
}

describe('logged stacks of a deployed function without --enable-source-maps', () => {
  // A snapshot whose chunks are not a list: the catalog read throws a TypeError inside lib/catalog/catalog.ts,
  // logged by the health check (lib/health.ts) and, for any other operation, as a 500 by lib/http/app.ts.
  const cases = [
    { fn: 'health', event: 'events/health.json', status: 503, msg: 'health check failed', caller: 'lib/health.ts:' },
    { fn: 'packages', event: 'events/describe.json', status: 500, msg: 'request failed', caller: 'lib/packages.ts:' },
  ];
  it.each(cases)('$fn: the $msg line names the TypeScript source file and line of each bundle frame', async (c) => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'registry-maps-'));
    try {
      const bundle = await bundleAsDeployed(dir, path.join(ROOT, `functions/${c.fn}.ts`));
      const store = path.join(dir, 'store');
      await new FileStorage({ root: store, signingKey: async () => SECRET }).put('catalog/snapshot.json', '{"seq":1,"chunks":5}');
      const event = JSON.parse(await fsp.readFile(path.join(ROOT, c.event), 'utf8'));
      const script = `
        const lines = [];
        const write = process.stderr.write.bind(process.stderr);
        process.stderr.write = (chunk, ...rest) => { lines.push(String(chunk)); return write(chunk, ...rest); };
        const { handler } = require(process.argv[1]);
        const context = { awsRequestId: 'test', functionName: ${JSON.stringify(c.fn)}, getRemainingTimeInMillis: () => 29000 };
        handler(${JSON.stringify(event)}, context).then(
          (r) => process.stdout.write(JSON.stringify({ status: r.statusCode, sourceMaps: process.execArgv.concat(process.env.NODE_OPTIONS || '').join(' '), logs: lines.join('').split('\\n').filter(Boolean).map((l) => JSON.parse(l)) })),
          (e) => { console.error(e); process.exit(1); });`;
      const out = (await runScript(script, bundle, {
        PATH: process.env.PATH,
        REGISTRY_STORAGE: `file:${store}`,
        REGISTRY_SIGNING_KEY: SECRET.toString('hex'),
        REGISTRY_LOG_LEVEL: 'error',
      })) as { status: number; sourceMaps: string; logs: { msg: string; error?: string; stack?: string }[] };
      expect(out.status).toBe(c.status);
      expect(out.sourceMaps).not.toContain('source-maps');
      const logged = out.logs.find((l) => l.msg === c.msg);
      expect(logged?.error).toBe('TypeError');
      const frames = (logged?.stack ?? '').split('\n').filter((l) => l.trimStart().startsWith('at '));
      expect(frames.length).toBeGreaterThan(1);
      // The throwing frame is the catalog's read of root.chunks, at its line in the TypeScript source.
      const line = await lineOf('lib/catalog/catalog.ts', 'root.chunks.map(');
      expect(frames[0]).toMatch(
        new RegExp(`\\(${ROOT.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/?lib/catalog/catalog\\.ts:${line}:\\d+\\)$`),
      );
      // No frame of the function's own code is left pointing into the bundle.
      for (const frame of frames) expect(frame).not.toContain(path.join(dir, 'functions'));
      expect(frames.slice(1).some((f) => f.includes(c.caller))).toBe(true);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('mapStack (lib/stack.ts)', () => {
  /** `a.js` in a new folder, with `a.js.map` holding `map` (a string written as is) unless undefined. */
  async function bundleWith(map: string | undefined): Promise<{ dir: string; js: string }> {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'registry-stack-'));
    const js = path.join(dir, 'out', 'a.js');
    await fsp.mkdir(path.dirname(js));
    await fsp.writeFile(js, 'first();\nsecond();\n');
    if (map !== undefined) await fsp.writeFile(`${js}.map`, map);
    return { dir, js };
  }
  // Generated line 1 column 1 -> a.ts 1:1; generated line 2 column 1 -> a.ts 3:3.
  const MAP = JSON.stringify({ version: 3, sources: ['../src/a.ts'], names: [], mappings: 'AAAA;AAEE' });

  it('maps named, anonymous, async and file:// frames of a file with a map beside it, and keeps every other line', async () => {
    const { dir, js } = await bundleWith(MAP);
    try {
      const ts = path.join(dir, 'src', 'a.ts');
      const stack = [
        'Error: boom',
        `    at f (${js}:2:1)`,
        `    at async g (file://${js}:1:1)`,
        `    at ${js}:2:1`,
        `    at new H (${js}:2:1)`,
        '    at async Promise.all (index 0)',
        '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
      ].join('\n');
      expect(mapStack(stack).split('\n')).toEqual([
        'Error: boom',
        `    at f (${ts}:3:3)`,
        `    at async g (${ts}:1:1)`,
        `    at ${ts}:3:3`,
        `    at new H (${ts}:3:3)`,
        '    at async Promise.all (index 0)',
        '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
      ]);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves the stack to Node when it maps stacks itself (--enable-source-maps, as the production server runs)', async () => {
    const { dir, js } = await bundleWith(MAP);
    const stack = `Error: boom\n    at f (${js}:2:1)`;
    const before = process.sourceMapsEnabled;
    try {
      process.setSourceMapsEnabled(true);
      expect(mapStack(stack)).toBe(stack);
      process.setSourceMapsEnabled(false);
      expect(mapStack(stack)).toBe(`Error: boom\n    at f (${path.join(dir, 'src', 'a.ts')}:3:3)`);
    } finally {
      process.setSourceMapsEnabled(before);
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves a frame as it is when its file has no map, a map that does not parse, or one over 16 MiB', async () => {
    const none = await bundleWith(undefined);
    const broken = await bundleWith('{"version":3,"sources":[');
    // A valid map, padded past the cap with whitespace (still valid JSON): mapped but for the cap.
    const huge = await bundleWith(MAP + ' '.repeat(16 * 1024 * 1024 + 1 - MAP.length));
    try {
      for (const { js } of [none, broken, huge]) {
        const stack = `TypeError: x is not a function\n    at f (${js}:2:1)\n    at ${js}:1:1`;
        expect(mapStack(stack)).toBe(stack);
      }
    } finally {
      for (const { dir } of [none, broken, huge]) await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
