#!/usr/bin/env node
'use strict';
// Runs the prebuilt CLI (dist/cli.js) when there is one; in a development checkout, loads the
// TypeScript sources through tsx (a devDependency), so `npx dcos-registry` works after `npm ci`.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const built = join(__dirname, '..', 'dist', 'cli.js');
let entry;
if (existsSync(built)) {
  entry = require(built);
} else {
  require('tsx/cjs');
  entry = require(join(__dirname, '..', 'cli', 'main.ts'));
}
entry.cli().catch((err) => {
  process.stderr.write(`Error: ${err?.message ? err.message : err}\n`);
  process.exitCode = 1;
});
