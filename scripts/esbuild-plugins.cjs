/**
 * esbuild plugins of the function bundles (serverless.yml custom.esbuild.plugins).
 *
 * sdk-chunk (issue 14): the S3 driver's SDK half (lib/storage/s3.ts, with @aws-sdk/client-s3 and the
 * presigner) becomes its own file, functions/s3-sdk.js, beside the handlers in every zip, and
 * lib/storage/s3-lazy.ts's `import('./s3')` a require of it. A format-cjs bundle cannot be split
 * by esbuild itself, and a lazily evaluated module inside the bundle still costs its parse (and
 * its share of the source map) at every cold start: measured, the SDK's 560 KB tripled the
 * handler's require time though it was never evaluated.
 * The error classes (lib/errors.ts) cross between the two files, and callers test them with
 * instanceof: both bundles require them from one third file, functions/registry-errors.js, so
 * there is one copy of each class per process.
 */
const path = require('node:path');
const esbuild = require('esbuild');

const CHUNK = 's3-sdk.js';
const ERRORS = 'registry-errors.js';
const SDK_DRIVER = path.join(__dirname, '..', 'lib', 'storage', 's3.ts');
const LIB_ERRORS = path.join(__dirname, '..', 'lib', 'errors');
/** One chunk build per output folder at a time (all functions build at once into one folder). */
const building = new Map();

/** Imports of lib/errors become a require of the shared file, in the handlers and in the chunk. */
function sharedErrors(build) {
  build.onResolve({ filter: /errors$/ }, (args) =>
    path.resolve(args.resolveDir, args.path) === LIB_ERRORS ? { path: `./${ERRORS}`, external: true } : undefined,
  );
}

function buildChunk(initial, outdir) {
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
    pending = Promise.all([
      esbuild.build(options(SDK_DRIVER, CHUNK, [{ name: 'shared-errors', setup: sharedErrors }])),
      esbuild.build(options(`${LIB_ERRORS}.ts`, ERRORS, [])),
    ]).finally(() => building.delete(outdir));
    building.set(outdir, pending);
  }
  return pending;
}

const sdkChunk = {
  name: 'sdk-chunk',
  setup(build) {
    const outdir = build.initialOptions.outdir;
    if (!outdir) return;
    sharedErrors(build);
    build.onResolve({ filter: /^\.\/s3$/ }, (args) => {
      if (args.kind !== 'dynamic-import' || !args.importer.endsWith(path.join('lib', 'storage', 's3-lazy.ts'))) return undefined;
      return { path: `./${CHUNK}`, external: true };
    });
    build.onEnd(async (result) => {
      if (result.errors.length === 0) await buildChunk(build.initialOptions, outdir);
    });
  },
};

module.exports = [sdkChunk];
