/**
 * A private copy of the code the functions are built from (serverless.yml, functions/, lib/,
 * …, node_modules linked), taken once per run. Offline instances and `serverless package`
 * run there, so edits others make in the shared checkout during a run neither trigger
 * serverless-esbuild's watch rebuilds (which briefly break handlers) nor mix versions.
 */
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
const FILES = ['serverless.yml', 'functions', 'lib', 'scripts', 'package.json', 'tsconfig.json', 'events'];

export interface CodeSnapshot {
  dir: string;
  remove(): Promise<void>;
}

export async function snapshotCode(): Promise<CodeSnapshot> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-code-'));
  for (const f of FILES) await cp(path.join(ROOT, f), path.join(dir, f), { recursive: true });
  await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return {
    dir,
    remove: async () => {
      await rm(path.join(dir, 'node_modules'), { force: true }); // the link, never its target
      await rm(dir, { recursive: true, force: true });
    },
  };
}
