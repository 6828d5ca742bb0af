/**
 * The web catalog in a real browser: Debian's Chromium (playwright-core) against the production
 * server (its esbuild bundle under node, test/server/harness.ts) over the fixture packages of
 * test/fixtures/ui. One browser and one server for the file; every request the pages make is
 * recorded (route interception) and every console error collected, and both are checked last.
 */
import { readFile } from 'node:fs/promises';
import AxeBuilder from '@axe-core/playwright';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../lib/catalog/catalog';
import { addVersions } from '../../lib/catalog/ops';
import { keys } from '../../lib/keys';
import { LIST_ALL, PAGE_SIZE } from '../../lib/ui/pages';
import { type ServerProcess, startServer } from '../server/harness';
import { catalogEntry, sha256 } from '../support/fixtures';
import { TEST_TOKEN } from '../support/offline';
import { fileStore, type TestStore } from '../support/stores';
import { addBundle, api, auth, completeUpload, sendBlobs, testBundle } from '../support/upload';
import { launchChromium } from './browser';
import { type BuiltFixture, fixtureBundle, uiFixtures } from './fixtures';

// Functions passed to page.evaluate run in the browser; the project compiles without the DOM library.
declare const document: any;
declare const window: any;
declare const navigator: any;
type HTMLImageElement = { naturalWidth: number; complete: boolean };

const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

describe('web catalog in Chromium (production server, fixture packages)', () => {
  let store: TestStore;
  let emptyStore: TestStore;
  let bigStore: TestStore;
  let big: ServerProcess;
  /** More packages than the list holds at once: the server filters and pages. */
  const bigNames = Array.from({ length: LIST_ALL + 20 }, (_, i) => `big-${String(i).padStart(4, '0')}`);
  let server: ServerProcess;
  let empty: ServerProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let built: BuiltFixture[];
  const requests: Array<{ url: string; method: string; headers: Record<string, string> }> = [];
  const consoleErrors: string[] = [];

  /** Chromium logs every answer >= 400 as a console error: takes the one a test meant to cause (exactly one). */
  const expectedError = (pattern: RegExp) => {
    const at = consoleErrors.flatMap((e, i) => (pattern.test(e) ? [i] : []));
    expect(at.length, consoleErrors.join('\n')).toBe(1);
    consoleErrors.splice(at[0]!, 1);
  };
  const newest = (name: string) => built.filter((b) => b.name === name).at(-1)!;
  const visible = () => page.locator('.card:visible');

  async function analyze(label: string) {
    const result = await new AxeBuilder({ page }).withTags(WCAG).analyze();
    const found = result.violations.map((v) => `${label}: ${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    expect(found).toEqual([]);
  }

  beforeAll(async () => {
    [store, emptyStore, bigStore] = await Promise.all([fileStore(), fileStore(), fileStore()]);
    await addVersions(
      new Catalog(bigStore.storage),
      bigNames.map((n) => catalogEntry(n, '1.0.0')),
    );
    [server, empty, big, browser] = await Promise.all([
      startServer({ env: store.env }),
      startServer({ env: emptyStore.env }),
      startServer({ env: bigStore.env }),
      launchChromium(),
    ]);
    built = uiFixtures().map(fixtureBundle);
    for (const b of built) expect((await addBundle(server.url, b)).status).toBe(200);
    context = await browser.newContext();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await context.route('**/*', (route) => {
      const r = route.request();
      requests.push({ url: r.url(), method: r.method(), headers: r.headers() });
      return route.continue();
    });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${m.location().url}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([server?.stop(), empty?.stop(), big?.stop()]);
    await Promise.all([store?.cleanup(), emptyStore?.cleanup(), bigStore?.cleanup()]);
  });

  it('the list has one card per package of the catalog, each with the fields of its newest package.json', async () => {
    const listed = (await api(server.url, 'GET', '/package')).json.packages as Array<{ name: string }>;
    await page.goto(`${server.url}/ui/`);
    await expect(page.locator('.card').count()).resolves.toBe(listed.length);
    expect(await page.locator('#count').textContent()).toBe(`${listed.length} packages`);
    for (const { name } of listed) {
      const pkg = newest(name).fixture.package;
      const card = page.locator(`.card[data-name="${name}"]`);
      expect(await card.locator('h3 a').textContent()).toBe(name);
      expect(await card.locator('.version').textContent()).toBe(pkg.version);
      expect(await card.locator('.tags li').allTextContents()).toEqual(pkg.tags);
      expect(await card.locator('.badge').textContent()).toBe(pkg.selected === true ? 'Certified' : 'Community');
    }
    await analyze('list');
  });

  it('icons load from the registry (naturalWidth > 0)', async () => {
    await page.goto(`${server.url}/ui/`);
    const icons = page.locator('img.icon');
    expect(await icons.count()).toBe(new Set(built.filter((b) => b.fixture.icon).map((b) => b.name)).size);
    await page.waitForFunction(() => [...document.images].every((i) => i.complete));
    const widths = await icons.evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).naturalWidth));
    expect(widths.every((w) => w > 0)).toBe(true);
  });

  it('search and facets narrow the cards and clearing restores them; the filter survives a reload', async () => {
    await page.goto(`${server.url}/ui/`);
    const all = await page.locator('.card').count();
    await page.fill('#q', 'heartbeat');
    expect(await visible().evaluateAll((cs) => cs.map((c) => c.getAttribute('data-name')))).toEqual(['beacon']);
    await page.fill('#q', '');
    expect(await visible().count()).toBe(all);
    await page.selectOption('#tag', 'database');
    expect(await visible().evaluateAll((cs) => cs.map((c) => c.getAttribute('data-name')))).toEqual(['aurora', 'cobalt']);
    await page.selectOption('#maintainer', 'ops@example.org');
    expect(await visible().evaluateAll((cs) => cs.map((c) => c.getAttribute('data-name')))).toEqual(['cobalt']);
    expect(await page.locator('#count').textContent()).toBe(`1 of ${all} packages`);
    await page.reload();
    expect(await visible().evaluateAll((cs) => cs.map((c) => c.getAttribute('data-name')))).toEqual(['cobalt']);
    await page.fill('#q', 'no-such-thing');
    await expect(page.locator('#no-match').isVisible()).resolves.toBe(true);
    await page.click('#reset');
    expect(await visible().count()).toBe(all);
    expect(new URL(page.url()).search).toBe('');
  });

  it('the package page shows every field of package.json; the version picked stays in the URL across a reload', async () => {
    await page.goto(`${server.url}/ui/`);
    await page.click('.card[data-name="aurora"] h3 a');
    await page.waitForURL(/\/ui\/packages\/aurora$/);
    const v2 = newest('aurora').fixture.package;
    expect(await page.locator('#shown-version').textContent()).toBe(v2.version);
    await Promise.all([page.waitForURL(/version=1\.0\.0/), page.selectOption('#version', '1.0.0')]);
    await page.reload();
    expect(new URL(page.url()).searchParams.get('version')).toBe('1.0.0');
    expect(await page.locator('#version').inputValue()).toBe('1.0.0');
    const v1 = built.find((b) => b.name === 'aurora' && b.version === '1.0.0')!.fixture.package;
    expect(await page.locator('#shown-version').textContent()).toBe('1.0.0');
    expect(await page.locator('#maintainer').textContent()).toBe(v1.maintainer);
    expect(await page.locator('#website a').getAttribute('href')).toBe(new URL(v1.website).href);
    expect(await page.locator('#scm a').getAttribute('href')).toBe(v1.scm);
    expect(await page.locator('#licenses a').allTextContents()).toEqual(v1.licenses.map((l: any) => l.name));
    expect(await page.locator('#min-dcos').textContent()).toBe(v1.minDcosReleaseVersion);
    expect(await page.locator('#tags').textContent()).toBe(v1.tags.join(', '));
    expect(await page.locator('#description strong').textContent()).toBe('distributed');
    expect(await page.locator('#preInstallNotes').textContent()).toContain('Aurora needs 3 agents');
    const described = (await api(server.url, 'GET', '/package/aurora/1.0.0')).json;
    expect(await page.locator('#added-at time').getAttribute('datetime')).toBe(described.addedAt);
    await page.waitForFunction(() => [...document.images].every((i) => i.complete));
    expect(await page.locator('.shots img').evaluate((i) => (i as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
    await analyze('package page');
  });

  it('the config table shows the defaults of config.json, and the form downloads them as options.json', async () => {
    const f = built.find((b) => b.name === 'aurora' && b.version === '1.0.0')!.fixture;
    // Leaves of config.json, walked here independently of lib/ui/schema.ts.
    const leaves: Array<[string, unknown]> = [];
    const walk = (node: any, prefix: string[]) => {
      for (const [k, v] of Object.entries<any>(node.properties ?? {})) {
        if (v.properties) walk(v, [...prefix, k]);
        else leaves.push([[...prefix, k].join('.'), v.default]);
      }
    };
    walk(f.config, []);
    await page.goto(`${server.url}/ui/packages/aurora?version=1.0.0`);
    for (const [path, def] of leaves) {
      expect(await page.locator(`#config-table tr[data-row="${path}"] td.default`).textContent()).toBe(JSON.stringify(def));
    }
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#options-download')]);
    expect(download.suggestedFilename()).toBe('options.json');
    const options = JSON.parse(await readFile((await download.path())!, 'utf8'));
    const expected: any = {};
    for (const [path, def] of leaves) {
      const segs = path.split('.');
      let at = expected;
      for (const s of segs.slice(0, -1)) at = at[s] ??= {};
      at[segs.at(-1)!] = def;
    }
    expect(options).toEqual(expected);
  });

  it('the schema diff lists keys added and removed and changed types and defaults', async () => {
    await page.goto(`${server.url}/ui/packages/aurora?version=2.0.0`);
    await Promise.all([page.waitForURL(/compare=1\.0\.0/), page.click('#compare-button')]);
    expect(await page.locator('#diff-added code').allTextContents()).toEqual(['node.disk.type', '"ROOT"']);
    expect(await page.locator('#diff-removed code').allTextContents()).toEqual(['service.legacy_mode', 'false']);
    const changed = await page.locator('#diff-changed tbody tr td:first-child').allTextContents();
    expect(changed.sort()).toEqual(['node.count', 'node.disk.size', 'service.cpus']);
  });

  it('assets and images show the digests and sizes of the bundle, all present: installable offline', async () => {
    for (const b of built.filter((x) => x.fixture.image)) {
      await page.goto(`${server.url}/ui/packages/${b.name}?version=${b.version}`);
      const assets = await page
        .locator('#assets tbody tr')
        .evaluateAll((rows) =>
          rows.map((r) => [r.getAttribute('data-digest'), Number(r.querySelector('[data-size]')!.getAttribute('data-size'))]),
        );
      expect(assets.sort()).toEqual(b.manifest.assets.map((a) => [a.digest, a.size]).sort());
      const images = await page.locator('#images tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-digest')));
      expect(images).toEqual(b.manifest.images.map((i) => i.manifestDigest));
      // The image's size: its manifest, config and layer, as the bundle lists them.
      const imageSize = b.manifest.blobs
        .filter((x) => !b.manifest.assets.some((a) => a.digest === x.digest))
        .reduce((n, x) => n + x.size, 0);
      expect(Number(await page.locator('#images [data-size]').getAttribute('data-size'))).toBe(imageSize);
      expect(await page.locator('#assets .yes, #images .yes').count()).toBe(assets.length + images.length);
      expect(await page.locator('#offline').getAttribute('class')).toContain('yes');
    }
  });

  it('a blob missing from the store shows as missing, and the version is not marked installable offline', async () => {
    const bytes = Buffer.from(`gamma asset ${Date.now()}`);
    expect((await addBundle(server.url, testBundle('gamma', '1.0.0', { 'g.tgz': bytes }))).status).toBe(200);
    await store.storage.delete(keys.blob(sha256(bytes)));
    await page.goto(`${server.url}/ui/packages/gamma`);
    expect(await page.locator(`#assets tr[data-digest="${sha256(bytes)}"] .no`).textContent()).toBe('Missing');
    expect(await page.locator('#offline').getAttribute('class')).toContain('no');
  });

  it('copy buttons copy the exact commands', async () => {
    await page.goto(`${server.url}/ui/packages/aurora`);
    await page.click('button[data-copy="cmd-install"]');
    await expect(page.locator('#cmd-install-status')).toBeDefined();
    await page.waitForFunction(() => document.getElementById('cmd-install-status')!.textContent === 'Copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(
      'dcos package install aurora --package-version=2.0.0 --options=options.json',
    );
    await page.click('button[data-copy="cmd-repo"]');
    await page.waitForFunction(() => document.getElementById('cmd-repo-status')!.textContent === 'Copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(
      `dcos package repo add --index=0 dcos-registry ${server.url}/repo`,
    );
  });

  it('markup injected in a package text is shown as text and never runs', async () => {
    await page.goto(`${server.url}/ui/packages/aurora?version=2.0.0`);
    await page.hover('#preInstallNotes');
    expect(await page.evaluate(() => (window as any).__injected)).toBeUndefined();
    expect(await page.locator('#description').textContent()).toContain("<script>window.__injected = 'script';</script>");
    expect(await page.locator('#description script, #description img, [onerror], [onmouseover]').count()).toBe(0);
    expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
    await page.goto(`${server.url}/ui/?q=${encodeURIComponent('<script>window.__injected=1</script>')}`);
    expect(await page.evaluate(() => (window as any).__injected)).toBeUndefined();
    expect(await page.inputValue('#q')).toBe('<script>window.__injected=1</script>');
  });

  it('uploads in progress show their state; a writer sees why one failed', async () => {
    const pending = testBundle('aurora', '3.0.0', { 'a.tgz': Buffer.from('pending upload') });
    expect((await api(server.url, 'POST', '/uploads', { manifest: pending.manifest })).status).toBe(201);
    const bad = testBundle('aurora', '3.1.0', { 'b.tgz': Buffer.from('the real bytes') });
    const started = await api(server.url, 'POST', '/uploads', { manifest: bad.manifest });
    await sendBlobs(server.url, started.json, () => Buffer.from('other bytes!!!'));
    const done = await completeUpload(server.url, started.json.id);
    const described = (await api(server.url, 'GET', '/package/aurora/3.1.0', undefined, auth)).json;
    expect(described.status).toBe('Failed');
    await page.goto(`${server.url}/ui/packages/aurora`);
    expect(await page.locator('tr[data-upload-version="3.0.0"] .state').textContent()).toBe('Uploading');
    expect(await page.locator('tr[data-upload-version="3.1.0"] .state').textContent()).toBe('Failed');
    expect(await page.locator('tr[data-upload-version="3.1.0"] .reason').textContent()).toBe('Shown to writers');
    expect(done.status).toBeGreaterThanOrEqual(200);
    await page.fill('#token-input', TEST_TOKEN);
    await page.click('#token-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('tr[data-upload-version="3.1.0"] .reason')!.textContent !== 'Shown to writers');
    expect(await page.locator('tr[data-upload-version="3.1.0"] .reason').textContent()).toBe(
      `${described.error.type}: ${described.error.message}`,
    );
    await page.click('#token-forget');
    await page.waitForLoadState();
  });

  it('removing version N removes exactly N (after confirmation, with the token as a header only)', async () => {
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) expect((await addBundle(server.url, testBundle('epsilon', v))).status).toBe(200);
    await page.goto(`${server.url}/ui/packages/epsilon?version=1.1.0`);
    await page.click('#remove-open');
    await expect(page.locator('#remove-dialog').isVisible()).resolves.toBe(true);
    await analyze('remove dialog');
    await page.fill('#remove-token', 'wrong-token-000000000000');
    await page.click('#remove-confirm');
    await page.waitForFunction(() => /Not removed \(401\)/.test(document.getElementById('remove-status')!.textContent!));
    // Chromium logs every failed fetch: this one, and only it, was meant to fail.
    expectedError(/status of 401 \(Unauthorized\)$/);
    await page.fill('#remove-token', TEST_TOKEN);
    await Promise.all([page.waitForURL(/\/ui\/packages\/epsilon$/), page.click('#remove-confirm')]);
    const listed = (await api(server.url, 'GET', '/package')).json.packages.find((p: any) => p.name === 'epsilon');
    expect(listed.versions.map((v: any) => v.version)).toEqual(['1.0.0', '1.2.0']);
    const deletes = requests.filter((r) => r.method === 'DELETE');
    expect(deletes.map((r) => new URL(r.url).pathname)).toEqual(['/package/epsilon/1.1.0', '/package/epsilon/1.1.0']);
    expect(deletes.at(-1)!.headers.authorization).toBe(`Bearer ${TEST_TOKEN}`);
    expect(requests.filter((r) => r.url.includes(TEST_TOKEN))).toEqual([]);
    expect((await context.cookies()).length).toBe(0);
  });

  it('works from the keyboard alone: search, open a package, pick a version, open and cancel the dialog', async () => {
    await page.goto(`${server.url}/ui/`);
    const focusTo = async (selector: string) => {
      for (let i = 0; i < 60; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
      }
      throw new Error(`Tab never reached ${selector}`);
    };
    await focusTo('#q');
    await page.keyboard.type('cobalt');
    expect(await visible().count()).toBe(1);
    await focusTo('.card[data-name="cobalt"] h3 a');
    await Promise.all([page.waitForURL(/\/ui\/packages\/cobalt$/), page.keyboard.press('Enter')]);
    await page.goto(`${server.url}/ui/packages/aurora`);
    await focusTo('#version');
    await Promise.all([page.waitForURL(/version=1\.0\.0/), page.keyboard.press('ArrowDown')]);
    await focusTo('#remove-open');
    await page.keyboard.press('Enter');
    await expect(page.locator('#remove-dialog').isVisible()).resolves.toBe(true);
    await page.keyboard.press('Escape');
    await expect(page.locator('#remove-dialog').isVisible()).resolves.toBe(false);
  });

  it('the empty catalog and the error page pass axe too', async () => {
    await page.goto(`${empty.url}/ui/`);
    expect(await page.locator('#empty h2').textContent()).toBe('No packages yet');
    await analyze('empty state');
    const res = await page.goto(`${empty.url}/ui/packages/nothing-here`);
    expect(res!.status()).toBe(404);
    expectedError(/\/ui\/packages\/nothing-here: Failed to load resource: the server responded with a status of 404 \(Not Found\)$/);
    expect(await page.locator('#error h1').textContent()).toBe('Package not found');
    await analyze('error state');
  });

  it(`past ${LIST_ALL} packages the list pages, and search asks the server as the user types (no navigation)`, async () => {
    await page.goto(`${big.url}/ui/`);
    expect(await page.locator('#filters').getAttribute('data-complete')).toBe('false');
    expect(await page.locator('.card').count()).toBe(PAGE_SIZE);
    expect(await page.locator('.pager').textContent()).toContain(`Page 1 of ${Math.ceil(bigNames.length / PAGE_SIZE)}`);
    // A page load would drop this: the filtered cards must arrive without one.
    await page.evaluate(() => {
      window.__samePage = true;
    });
    await page.fill('#q', 'big-051');
    await page.waitForFunction(() => document.getElementById('count').textContent.includes(' of '));
    const expected = bigNames.filter((n) => n.includes('big-051'));
    expect(await page.locator('.card').evaluateAll((cs) => cs.map((c) => c.getAttribute('data-name')))).toEqual(expected);
    expect(await page.locator('#count').textContent()).toBe(`${expected.length} of ${bigNames.length} packages`);
    expect(await page.locator('.pager').count()).toBe(0);
    expect(new URL(page.url()).searchParams.get('q')).toBe('big-051');
    await page.fill('#q', '');
    await page.waitForFunction(() => !document.getElementById('count').textContent.includes(' of '));
    expect(await page.locator('.card').count()).toBe(PAGE_SIZE);
    expect(await page.locator('.pager').count()).toBe(1);
    expect(await page.evaluate(() => window.__samePage)).toBe(true);
    await page.click('.pager a[rel=next]');
    await page.waitForURL(/page=2/);
    expect(await page.locator('.card').first().getAttribute('data-name')).toBe(bigNames[PAGE_SIZE]);
  });

  it('no page logged a console error, and every request went to the registry', () => {
    expect(consoleErrors).toEqual([]);
    const origins = new Set(requests.map((r) => new URL(r.url).origin));
    expect([...origins].sort()).toEqual([empty.url, server.url, big.url].map((u) => new URL(u).origin).sort());
    expect(requests.length).toBeGreaterThan(20);
  });
});
