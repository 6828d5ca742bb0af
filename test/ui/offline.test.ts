/**
 * The web catalog through serverless offline (the Lambda adapter and the `ui` function's bundle):
 * GET / sends a browser to /ui/, the list, a package page, the stylesheet and the script answer
 * with their markers and the Content-Security-Policy, and a bad name is the 404 page. The
 * browser suite (catalog.test.ts) runs against the production server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSP } from '../../lib/ui/html';
import { type Offline, startOffline } from '../support/offline';
import { fileStore, type TestStore } from '../support/stores';
import { addBundle } from '../support/upload';
import { fixtureBundle, uiFixtures } from './fixtures';

describe('web catalog through serverless offline', () => {
  let store: TestStore;
  let offline: Offline;

  beforeAll(async () => {
    store = await fileStore();
    offline = await startOffline(store.env);
    const cobalt = uiFixtures().find((f) => f.package.name === 'cobalt')!;
    expect((await addBundle(offline.url, fixtureBundle(cobalt))).status).toBe(200);
  }, 180_000);
  afterAll(async () => {
    await offline?.stop();
    await store?.cleanup();
  });

  it('GET / redirects a browser to /ui/ and answers the health JSON to anyone else', async () => {
    const browser = await fetch(`${offline.url}/`, { headers: { accept: 'text/html,*/*;q=0.8' }, redirect: 'manual' });
    expect(browser.status).toBe(302);
    expect(browser.headers.get('location')).toBe(`${offline.url}/ui/`);
    const plain = await fetch(`${offline.url}/`, { headers: { accept: '*/*' } });
    expect(await plain.text()).toBe('{"checks":{"/repo":{"Healthy":{"message":"Able to find 1 package(s)."}}}}');
  });

  it('the list, a package page, the stylesheet and the script answer with their markers and the CSP', async () => {
    for (const [path, type, marker] of [
      ['/ui/', 'text/html', 'href="/ui/packages/cobalt"'],
      ['/ui', 'text/html', '<h1>Packages</h1>'],
      ['/ui/packages/cobalt', 'text/html', 'dcos package install cobalt --package-version=1.4.2-0.9 --options=options.json'],
      ['/ui/assets/app.css', 'text/css', '.card'],
      ['/ui/assets/app.js', 'text/javascript', 'dcos-registry-write-token'],
    ]) {
      const res = await fetch(`${offline.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toMatch(new RegExp(`^${type}`));
      expect(res.headers.get('content-security-policy'), path).toBe(CSP);
      expect(await res.text(), path).toContain(marker);
    }
    const missing = await fetch(`${offline.url}/ui/packages/no-such-package`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('Package not found');
  });
});
