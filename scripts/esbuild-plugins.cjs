/**
 * esbuild plugins of the function bundles (serverless.yml custom.esbuild.plugins).
 *
 * sdk-chunk (issue 14): the S3 driver's SDK half (lib/storage/s3.ts, with @aws-sdk/client-s3 and the
 * presigner) becomes its own file, functions/s3-sdk.js, beside the handlers in every zip, and
 * lib/storage/s3-lazy.ts's `import('./s3')` a require of it. A format-cjs bundle cannot be split
 * by esbuild itself, and a lazily evaluated module inside the bundle still costs its parse (and
 * its share of the source map) at every cold start: measured, the SDK's 560 KB tripled the
 * handler's require time though it was never evaluated.
 */
const path = require('node:path');
const esbuild = require('esbuild');

const CHUNK = 's3-sdk.js';
const SDK_DRIVER = path.join(__dirname, '..', 'lib', 'storage', 's3.ts');
/** One chunk build per output folder at a time (all functions build at once into one folder). */
const building = new Map();

function buildChunk(initial, outdir) {
  let pending = building.get(outdir);
  if (!pending) {
    pending = esbuild
      .build({
        entryPoints: [SDK_DRIVER],
        outfile: path.join(outdir, CHUNK),
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: initial.target,
        minify: initial.minify,
        sourcemap: initial.sourcemap,
        sourcesContent: initial.sourcesContent,
        logLevel: 'warning',
      })
      .finally(() => building.delete(outdir));
    building.set(outdir, pending);
  }
  return pending;
}

const sdkChunk = {
  name: 'sdk-chunk',
  setup(build) {
    const outdir = build.initialOptions.outdir;
    if (!outdir) return;
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
