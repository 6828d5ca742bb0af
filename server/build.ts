/**
 * Bundles the production server into one file runnable with plain node: dist/server.js
 * (CommonJS, as serverless.yml's esbuild settings for the functions and for the same
 * reasons: the AWS SDK's dynamic requires). `tsx server/build.ts [outfile]`.
 */
import path from 'node:path';
import { build } from 'esbuild';

export async function buildServer(outfile = path.resolve(__dirname, '../dist/server.js')): Promise<string> {
  await build({
    entryPoints: [path.resolve(__dirname, 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    keepNames: true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
  });
  return outfile;
}

if (require.main === module) {
  buildServer(process.argv[2] ? path.resolve(process.argv[2]) : undefined)
    .then((file) => process.stdout.write(`${file}\n`))
    .catch((error) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    });
}
