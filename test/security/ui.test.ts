/**
 * The web catalog's defences that need no browser: package text is rendered with raw HTML
 * escaped and links limited to http(s)/relative; values from package metadata are escaped in
 * attributes; GET / redirects only clients that prefer HTML; a hostile Accept is not scanned past
 * its cap. (The browser suite, test/ui/catalog.test.ts, proves none of it runs in Chromium.)
 */
import { describe, expect, it } from 'vitest';
import type { CatalogVersion } from '../../lib/catalog/model';
import { CSP, esc, pageHeaders } from '../../lib/ui/html';
import { renderMarkdown } from '../../lib/ui/markdown';
import { prefersHtml } from '../../lib/ui/negotiate';
import { listPage, packagePage } from '../../lib/ui/pages';
import { summarize } from '../../lib/ui/view';
import { catalogEntry } from '../support/fixtures';

const PAYLOADS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<svg onload=alert(1)>',
  '<a href="javascript:alert(1)">x</a>',
  '[x](javascript:alert(1))',
  '[x](JaVaScRiPt:alert(1))',
  '[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '[x](vbscript:msgbox(1))',
  '![x](https://evil.example.com/track.png)',
  '<iframe src="https://evil.example.com"></iframe>',
  '[x](//evil.example.com/path)',
];

describe('web catalog: package text and metadata cannot inject markup', () => {
  it('markdown escapes raw HTML, drops non-http(s) links and never renders images', () => {
    for (const p of PAYLOADS) {
      const html = renderMarkdown(`before ${p} after`);
      expect(html, p).not.toMatch(/<(script|img|svg|iframe)\b/i);
      expect(html, p).not.toMatch(/href="(?!https?:)/i);
      expect(html, p).not.toMatch(/<[^>]*\son[a-z]+\s*=/i);
    }
    expect(renderMarkdown('[docs](https://docs.example.com)')).toContain(
      '<a href="https://docs.example.com" rel="nofollow noopener noreferrer">docs</a>',
    );
    expect(renderMarkdown('[rel](../guide.md)')).toContain('href="../guide.md"');
  });

  it('metadata in the list and the package page is escaped in text and attributes', () => {
    const v = catalogEntry('hostile', '1.0.0') as CatalogVersion;
    v.seq = 1;
    v.package = {
      ...v.package,
      maintainer: '"><script>alert(1)</script>',
      tags: ['"onmouseover="alert(1)', '<b>'],
      description: '<img src=x onerror=alert(1)>',
      website: 'javascript:alert(1)',
      licenses: [{ name: '<i>x</i>', url: 'javascript:alert(1)' }],
    };
    const state = { seq: 1, versions: [v] };
    const [summary] = summarize(state);
    const list = listPage([summary!], { q: '"><script>', tag: '', maintainer: '', page: 1 });
    const page = packagePage({
      summary: summary!,
      version: v,
      presence: { of: () => true },
      uploads: [],
      origin: 'http://registry.example.com',
    });
    for (const html of [list, page]) {
      expect(html).not.toContain('<script>alert');
      expect(html).not.toMatch(/<img src=x/);
      expect(html).not.toMatch(/<[^>]*\sonmouseover=/i);
      expect(html).not.toContain('href="javascript:');
      // The only scripts are the page's own file.
      expect(html.match(/<script\b[^>]*>/g)).toEqual([
        expect.stringMatching(/^<script src="\/ui\/assets\/app\.js\?v=[0-9a-f]{16}" defer>$/),
      ]);
    }
    expect(esc('<"&\'>')).toBe('&lt;&quot;&amp;&#39;&gt;');
  });

  it('every page answer carries the strict CSP', () => {
    expect(pageHeaders('text/html')['content-security-policy']).toBe(CSP);
    expect(CSP).toContain("default-src 'none'");
    expect(CSP).not.toMatch(/unsafe|\*/);
  });

  it('GET / redirects only clients that prefer HTML', () => {
    expect(prefersHtml('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8')).toBe(true);
    expect(prefersHtml(undefined)).toBe(false);
    expect(prefersHtml('*/*')).toBe(false);
    expect(prefersHtml('application/json')).toBe(false);
    expect(prefersHtml('application/json, text/html;q=0.5')).toBe(false);
    expect(prefersHtml('text/html;q=0')).toBe(false);
    expect(prefersHtml(`text/html,${'a'.repeat(5000)}`)).toBe(false);
  });
});
