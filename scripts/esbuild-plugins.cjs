/**
 * esbuild plugins of the function bundles (serverless.yml custom.esbuild.plugins).
 *
 * lazy-chunks (issue 14): code a read function does not run at cold start is a file of its own
 * beside the handlers in every zip, and the one dynamic `import()` that loads it becomes a
 * require of that file:
 *
 * | chunk           | module             | loaded by                              | when
 * | s3-sdk.js       | lib/storage/s3.ts  | lib/storage/s3-lazy.ts `import('./s3')` | first S3 write (the AWS SDK)
 * | jwt.js          | lib/auth/jwt.ts    | lib/http/auth.ts `import('../auth/jwt')` | first JWT that is not a static token (jose)
 * | fs-storage.js   | lib/storage/fs.ts  | lib/storage/fs-lazy.ts `import('./fs')` | first call on the filesystem driver
 *                                                                              (graceful-fs, proper-lockfile)
 *
 * A format-cjs bundle cannot be split by esbuild itself, and a lazily evaluated module inside the
 * bundle still costs its parse (and its share of the source map) at every cold start: measured,
 * the SDK's 560 KB tripled the handler's require time though it was never evaluated; graceful-fs
 * and proper-lockfile also load node:assert and patch node:fs when evaluated.
 * The error classes (lib/errors.ts) cross between the files, and callers test them with
 * instanceof: every bundle requires them from one third file, functions/registry-errors.js, so
 * there is one copy of each class per process. A chunk's other imports are copied into it, so a
 * chunk module imports only stateless helpers (it is handed the configuration by its caller).
 *
 * middy's core imports node:stream/web for one `instanceof ReadableStream` on streamed responses
 * (which the functions do not use); evaluated at start, that import costs ten of Node's internal
 * modules. The bundles get it through a getter that loads it on first use instead (lazy-builtins).
 */
const path = require('node:path');
const esbuild = require('esbuild');

const LIB = path.join(__dirname, '..', 'lib');
const CHUNKS = [
  { file: 's3-sdk.js', module: path.join(LIB, 'storage', 's3'), importer: path.join(LIB, 'storage', 's3-lazy.ts') },
  { file: 'jwt.js', module: path.join(LIB, 'auth', 'jwt'), importer: path.join(LIB, 'http', 'auth.ts') },
  { file: 'fs-storage.js', module: path.join(LIB, 'storage', 'fs'), importer: path.join(LIB, 'storage', 'fs-lazy.ts') },
];
const ERRORS = 'registry-errors.js';
const LIB_ERRORS = path.join(LIB, 'errors');
/** One build of the shared files per output folder at a time (all functions build at once into one folder). */
const building = new Map();

/** Imports of lib/errors become a require of the shared file, in the handlers and in the chunks. */
function sharedErrors(build) {
  build.onResolve({ filter: /errors$/ }, (args) =>
    path.resolve(args.resolveDir, args.path) === LIB_ERRORS ? { path: `./${ERRORS}`, external: true } : undefined,
  );
}

/** node:stream/web behind a getter: required when middy first tests a response, not at start. */
function lazyStreamWeb(build) {
  build.onResolve({ filter: /^node:stream\/web$/ }, (args) =>
    /[\\/]@middy[\\/]core[\\/]/.test(args.importer) ? { path: 'stream-web', namespace: 'lazy-builtin' } : undefined,
  );
  build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, () => ({
    contents: "module.exports = { get ReadableStream() { return require('node:stream/web').ReadableStream; } };",
    loader: 'js',
  }));
}

function buildShared(initial, outdir) {
  let pending = building.get(outdir);
  if (!pending) {
    const options = (entry, outfile, plugins) => ({
      entryPoints: [entry],
      outfile: path.join(outdir, outfile),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: initial.target,
      minify: initial.minify,
      sourcemap: initial.sourcemap,
      sourcesContent: initial.sourcesContent,
      logLevel: 'warning',
      plugins,
    });
    const chunkPlugins = [
      { name: 'shared-errors', setup: sharedErrors },
      { name: 'lazy-chunks', setup: (build) => lazyChunkImports(build) },
    ];
    pending = Promise.all([
      ...CHUNKS.map((c) => esbuild.build(options(`${c.module}.ts`, c.file, chunkPlugins))),
      esbuild.build(options(`${LIB_ERRORS}.ts`, ERRORS, [])),
    ]).finally(() => building.delete(outdir));
    building.set(outdir, pending);
  }
  return pending;
}

/** The dynamic import of a chunk's module, from its one importer, becomes a require of the chunk's file. */
function lazyChunkImports(build) {
  build.onResolve({ filter: /^\.\.?\// }, (args) => {
    if (args.kind !== 'dynamic-import') return undefined;
    const target = path.resolve(args.resolveDir, args.path);
    const chunk = CHUNKS.find((c) => c.module === target && c.importer === args.importer);
    return chunk ? { path: `./${chunk.file}`, external: true } : undefined;
  });
}

const lazyChunks = {
  name: 'lazy-chunks',
  setup(build) {
    const outdir = build.initialOptions.outdir;
    if (!outdir) return;
    sharedErrors(build);
    lazyStreamWeb(build);
    lazyChunkImports(build);
    build.onEnd(async (result) => {
      if (result.errors.length === 0) await buildShared(build.initialOptions, outdir);
    });
  },
};

module.exports = [lazyChunks];
