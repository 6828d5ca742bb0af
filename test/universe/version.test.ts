import { describe, expect, it } from 'vitest';
import { compareVersions, newestVersion } from '../../lib/universe/version';

const sign = (a: string, b: string) => Math.sign(compareVersions(a, b)) || 0; // || 0: no -0

describe('compareVersions', () => {
  it.each([
    ['1.10', '1.9'],
    ['1.2.10', '1.2.9'],
    ['10.0', '9.99.99'],
    ['2.4.0-1.1.0', '2.4.0-1.0.9'],
    ['2.4.0-1.1.0', '2.3.9-9.9.9'],
    ['3.2.0-0.57.3', '3.2.0-0.57.2'],
    ['3.2.0-7.9.3', '3.1.2-7.6.0'],
    ['1.0', '1.0-beta'],
    ['1.0.0', '1.0.0-rc1'],
    ['0.2.0', '0.2.0-beta'],
    ['1.0', '1.0a'],
    ['1.0', '1.0-SNAPSHOT'],
    ['1.0-rc', '1.0-beta'],
    ['1.0-beta2', '1.0-beta'],
    ['1.0-beta.2', '1.0-beta.1'],
    ['1.0-beta10', '1.0-beta9'],
    ['1.0.1', '1.0'],
    ['1.0.1', '1.0-beta'],
    ['1.0-1', '1.0'],
    ['1.0-1', '1.0-beta'],
    ['1.1-beta', '1.0'],
    ['v2', 'v1'],
    ['v10', 'v9'],
    ['2.0.0-1.12.0-beta', '1.9.9'],
    ['18446744073709551617', '18446744073709551616'],
    ['1.100000000000000000000', '1.99999999999999999999'],
  ])('%s > %s', (newer, older) => {
    expect(sign(newer, older)).toBe(1);
    expect(sign(older, newer)).toBe(-1);
  });

  it('is 0 only for identical strings', () => {
    expect(compareVersions('1.0', '1.0')).toBe(0);
    // Same precedence, different strings: ordered, never equal, antisymmetric.
    for (const [a, b] of [
      ['1.01', '1.1'],
      ['1.0.', '1.0'],
      ['1.0-beta', '1.0.beta'],
      ['1.0-BETA', '1.0-beta'],
      ['1.0.1', '1.0-1'],
    ] as const) {
      expect(compareVersions(a, b)).not.toBe(0);
      expect(sign(a, b)).toBe(-sign(b, a) || 0);
    }
  });

  it('ranks letters below numbers where one version has a letter and the other a digit', () => {
    expect(sign('v1', '1')).toBe(-1);
    expect(sign('1.a', '1.0')).toBe(-1);
  });

  it('returns -1, 0 or 1', () => {
    expect(compareVersions('1.0', '9.0')).toBe(-1);
    expect(compareVersions('9.0', '1.0')).toBe(1);
  });

  it('sorts real Universe versions oldest first', () => {
    const versions = ['3.2.0-7.9.3', '0.2.0-0.1', '1.0.0', '2.0.0-1.12.0-beta', '3.2.0-0.57.3', '16.2-beta', '2.0.0-1.12.0', '1.0.0-rc1'];
    expect([...versions].sort(compareVersions)).toEqual([
      '0.2.0-0.1',
      '1.0.0-rc1',
      '1.0.0',
      '2.0.0-1.12.0-beta',
      '2.0.0-1.12.0',
      '3.2.0-0.57.3',
      '3.2.0-7.9.3',
      '16.2-beta',
    ]);
  });

  // A sort comparator that is not a total order gives input-order-dependent results; the
  // catalog's releaseVersion assignment must not depend on commit order.
  it('is a total order over a varied sample: antisymmetric, transitive, deterministic', () => {
    const sample = [
      '1',
      '1.0',
      '1.0.0',
      '1.00',
      '01',
      '1.0-beta',
      '1.0.beta',
      '1.0-beta1',
      '1.0-beta.1',
      '1.0-rc',
      '1.0a',
      '1.0-1',
      '1.0.1',
      '1.1',
      '1.10',
      '1.9',
      'v1',
      'v1.0',
      'a',
      'b',
      '-',
      '.',
      '..',
      '1.',
      '1-',
      '1.0-',
      '2.4.0-1.1.0',
      '2.4.0-1.1.0-beta',
      '2.4.0',
      '0.2.0-beta',
      'SNAPSHOT',
      '1.0-SNAPSHOT',
      '1.0-snapshot',
      '1--1',
      '1.-1',
    ];
    // Each pair compared once (35² calls, not 2·35³): the transitivity loop reads the table.
    const order = new Map(sample.map((a) => [a, new Map(sample.map((b) => [b, sign(a, b)]))]));
    const less = (a: string, b: string) => order.get(a)!.get(b)! < 0;
    const intransitive: string[] = [];
    for (const a of sample) {
      expect(compareVersions(a, a)).toBe(0);
      for (const b of sample) {
        if (a !== b) expect(compareVersions(a, b)).not.toBe(0);
        expect(sign(a, b)).toBe(-sign(b, a) || 0);
        if (!less(a, b)) continue;
        for (const c of sample) if (less(b, c) && !less(a, c)) intransitive.push(`${a} < ${b} < ${c}, but not ${a} < ${c}`);
      }
    }
    expect(intransitive).toEqual([]);
    const sorted = [...sample].sort(compareVersions);
    expect([...sample].reverse().sort(compareVersions)).toEqual(sorted);
    expect([...sorted].reverse().sort(compareVersions)).toEqual(sorted);
  });
});

describe('newestVersion', () => {
  it('picks the newest, a release over its pre-release', () => {
    expect(newestVersion(['1.0-beta', '0.9', '1.0', '1.0-rc1'])).toBe('1.0');
    expect(newestVersion(['1.9', '1.10'])).toBe('1.10');
    expect(newestVersion([])).toBeUndefined();
  });
});
