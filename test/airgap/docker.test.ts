/**
 * Export with real images: a bundle built by `build` from a real docker-registry (Debian's
 * distribution, filled by skopeo) and a local asset server, added to a production server, then
 * exported through the CLI: the file is the built bundle, byte for byte.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../lib/builder';
import { addBundle } from '../../lib/client';
import { startAssetServer } from '../build/fixtures';
import { onlyJson, runCli } from '../cli/run-cli';
import { makeOciImage, pushWithSkopeo } from '../docker/make-image';
import { startRegistry, type RegistryProcess } from '../docker/registry-process';
import { startServer, type ServerProcess } from '../server/harness';
import { packageMetadata } from '../support/fixtures';
import { TEST_TOKEN } from '../support/offline';
import { fileStore, type TestStore } from '../support/stores';

let work: string;
let docker: RegistryProcess;
let assets: Awaited<ReturnType<typeof startAssetServer>>;
let store: TestStore;
let server: ServerProcess;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'airgap-docker-'));
  docker = await startRegistry();
  const image = makeOciImage(join(work, 'img'), { tag: 'v1', layerSizes: [3000, 150_000] });
  await pushWithSkopeo(image, `${docker.host}/team/app:v1`);
  await pushWithSkopeo(image, `${docker.host}/team/app-s2:v1`, { format: 'v2s2' });
  assets = await startAssetServer({ '/app.jar': Buffer.alloc(300_000, 7), '/icon.png': Buffer.from('png') });
  store = await fileStore();
  server = await startServer({ env: store.env });
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await store?.cleanup();
  await assets?.close();
  await docker?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('export of a package built from a real docker-registry', () => {
  it('dcos-registry export writes the bundle that build wrote, byte for byte (OCI and schema2 images, assets, icon)', async () => {
    const definitionFile = join(work, 'imgs.json');
    const resource = {
      assets: {
        uris: { jar: `${assets.url}/app.jar` },
        container: { docker: { oci: `${docker.host}/team/app:v1`, s2: `${docker.host}/team/app-s2:v1` } },
      },
      images: { 'icon-small': `${assets.url}/icon.png` },
    };
    await writeFile(definitionFile, JSON.stringify(packageMetadata('imgs', '1.0.0', { resource })));
    const built = join(work, 'built');
    mkdirSync(built);
    const { path } = await buildBundle({ definitionFile, outputDirectory: built });
    await addBundle(path, { url: server.url, token: TEST_TOKEN, pollIntervalMs: 20 });

    const out = join(work, 'exported');
    mkdirSync(out);
    const run = await runCli([
      'export',
      '--url',
      server.url,
      '--package-name',
      'imgs',
      '--package-version',
      '1.0.0',
      '--output-directory',
      out,
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const body = onlyJson(run.stdout);
    expect(body).toMatchObject({ name: join(out, 'imgs-1.0.0.dcos'), identical: true, notes: [] });
    expect((await readFile(join(out, 'imgs-1.0.0.dcos'))).equals(await readFile(path))).toBe(true);
  }, 180_000);
});
