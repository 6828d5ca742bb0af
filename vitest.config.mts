import { defineConfig } from 'vitest/config';

/**
 * Two projects. `unit`: in-process tests that need no service (no S3 server, no serverless offline,
 * no docker-registry, no spawned CLI): `npm run test:unit`, seconds. `integration`: everything else,
 * against the real services that scripts/test.sh starts (`npm test` runs both projects).
 */
const UNIT = [
  'test/universe/**/*.test.ts',
  'test/bundle/**/*.test.ts',
  'test/build/build.test.ts',
  'test/cli/add.test.ts',
  'test/cli/plan.test.ts',
  'test/cli/verbs.test.ts',
  'test/docker/auth-parsing.test.ts',
  'test/docker/reference.test.ts',
  'test/e2e/offline-quirks.test.ts',
  'test/resource/render.test.ts',
  'test/server/routes.test.ts',
  'test/storage/s3-errors.test.ts',
  'test/v2/commit.test.ts',
  'test/v2/serve.test.ts',
  'test/repo/guard-fs.test.ts',
  'test/repo/machine-paths.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Suites start their own servers on distinct ports; files run in parallel workers.
    pool: 'forks',
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      REGISTRY_LOG_LEVEL: 'warn',
      // The AWS SDK would read the user's ~/.aws/config and ~/.aws/credentials (found by the read guard).
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    },
    // Fails any test that reads outside the repository (test/support/guard-fs.ts).
    setupFiles: ['test/support/guard-fs.ts'],
    projects: [
      // One module cache per worker for the unit files (isolate: false): the AWS SDK, ajv and lib/ load
      // once per worker instead of once per file, which was most of the unit run's CPU time. The setup
      // file still runs before every file (vitest re-imports setup files), so the read guard stays on.
      { extends: true, test: { name: 'unit', include: UNIT, isolate: false } },
      { extends: true, test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: UNIT } },
    ],
  },
});
