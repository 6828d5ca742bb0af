/**
 * The list's bounds for a big catalog, in-process: past LIST_ALL packages the server filters and
 * pages (PAGE_SIZE cards per page, the script leaves filtering to the server), and the summaries
 * take each package's newest version and its own selected flag.
 */
import { describe, expect, it } from 'vitest';
import type { CatalogVersion } from '../../lib/catalog/model';
import { LIST_ALL, listPage, PAGE_SIZE } from '../../lib/ui/pages';
import { summarize } from '../../lib/ui/view';
import { catalogEntry } from '../support/fixtures';

const state = (names: string[], versions = ['1.0.0']) => ({
  seq: names.length * versions.length,
  versions: names.flatMap((n, i) =>
    versions.map((v, j) => ({ ...catalogEntry(n, v), seq: i * versions.length + j + 1 }) as CatalogVersion),
  ),
});

const cards = (html: string) =>
  [...html.matchAll(/<li class="card" data-name="([^"]+)"([^>]*)>/g)].map((m) => ({ name: m[1], hidden: m[2].includes('hidden') }));

describe('web catalog list pages', () => {
  it(`holds every card up to ${LIST_ALL} packages, hiding those the query does not match`, () => {
    const s = summarize(state(['alpha', 'beta', 'gamma']));
    const html = listPage(s, { q: 'beta', tag: '', maintainer: '', page: 1 });
    expect(html).toContain('data-complete="true"');
    expect(cards(html)).toEqual([
      { name: 'alpha', hidden: true },
      { name: 'beta', hidden: false },
      { name: 'gamma', hidden: true },
    ]);
    expect(html).toContain('>1 of 3 packages<');
  });

  it(`past ${LIST_ALL} packages the server filters and pages ${PAGE_SIZE} at a time`, () => {
    const names = Array.from({ length: LIST_ALL + 150 }, (_, i) => `pkg-${String(i).padStart(4, '0')}`);
    const s = summarize(state(names));
    const first = listPage(s, { q: '', tag: '', maintainer: '', page: 1 });
    expect(first).toContain('data-complete="false"');
    expect(cards(first).map((c) => c.name)).toEqual(names.slice(0, PAGE_SIZE));
    expect(first).toContain(`Page 1 of ${Math.ceil(names.length / PAGE_SIZE)}`);
    expect(first).toContain('href="/ui/?page=2" rel="next"');
    const last = listPage(s, { q: '', tag: '', maintainer: '', page: 99 });
    expect(cards(last).map((c) => c.name)).toEqual(names.slice(6 * PAGE_SIZE));
    const found = listPage(s, { q: 'pkg-012', tag: '', maintainer: '', page: 1 });
    expect(cards(found).map((c) => c.name)).toEqual(names.filter((n) => n.includes('pkg-012')));
    expect(found).toContain(`>10 of ${names.length} packages<`);
  });

  it('a summary is the newest version (version-aware order) with its own selected flag', () => {
    const s = state(['solo'], ['1.9.0', '1.10.0', '1.2.0']);
    s.versions[1]!.package = { ...s.versions[1]!.package, selected: true };
    const [summary] = summarize(s);
    expect(summary!.newest.version).toBe('1.10.0');
    expect(summary!.versions.map((v) => v.version)).toEqual(['1.10.0', '1.9.0', '1.2.0']);
    expect(summary!.certified).toBe(true);
  });
});
