/**
 * Writes docs/screenshots/list.png and docs/screenshots/package.png: the production server over
 * a temporary store with the web catalog's fixture packages (test/fixtures/ui), photographed by
 * Debian's Chromium. Run by hand after a visible change (`npx tsx scripts/screenshots.ts`); the
 * tests never write tracked files.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { startServer } from '../test/server/harness';
import { fileStore } from '../test/support/stores';
import { addBundle } from '../test/support/upload';
import { launchChromium } from '../test/ui/browser';
import { fixtureBundle, uiFixtures } from '../test/ui/fixtures';

async function main() {
  const out = path.join(__dirname, '..', 'docs', 'screenshots');
  await mkdir(out, { recursive: true });
  const store = await fileStore();
  const server = await startServer({ env: store.env });
  const browser = await launchChromium();
  try {
    for (const b of uiFixtures().map(fixtureBundle)) {
      const added = await addBundle(server.url, b);
      if (added.status !== 200) throw new Error(`add ${b.name} ${b.version}: ${added.status} ${JSON.stringify(added.json)}`);
    }
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    await page.goto(`${server.url}/ui/`);
    await page.screenshot({ path: path.join(out, 'list.png') });
    await page.setViewportSize({ width: 1200, height: 1800 });
    await page.goto(`${server.url}/ui/packages/aurora?version=1.0.0`);
    await page.waitForFunction(() => [...(globalThis as any).document.images].every((i: { complete: boolean }) => i.complete));
    await page.screenshot({ path: path.join(out, 'package.png') });
    console.log(`wrote ${path.join('docs', 'screenshots', 'list.png')} and ${path.join('docs', 'screenshots', 'package.png')}`);
  } finally {
    await browser.close();
    await server.stop();
    await store.cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
