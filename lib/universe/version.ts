/**
 * Version-aware ordering of Universe package versions ("1.2.3", "2.4.0-1.1.0", "0.2.0-beta",
 * "v1", ...). Universe versions follow no single scheme, so the order is a pragmatic one:
 *
 *   - a version is split into alternating runs of digits and non-digits;
 *   - runs compare pairwise: digit runs by number ("1.10" > "1.9"), non-digit runs by kind and
 *     then by their letters;
 *   - runs that contain letters mark a pre-release ("1.0-beta", "1.0rc1"), and rank below the
 *     end of the version, so a release beats its own pre-releases ("1.0" > "1.0-beta");
 *   - a pure separator ("." or "-") followed by more ranks above the end: "1.0.1" and
 *     "1.0-1" are later than "1.0".
 *
 * Each version maps to a key sequence compared lexicographically, which makes the order a total
 * preorder; ties (such as "1.01" and "1.1") are broken by plain string comparison, so the result
 * is a total order in which distinct strings never compare equal. releaseVersion assignment
 * depends on this: the highest version must be unambiguous.
 *
 * Symbol ranks, low to high: letters < end of version < separator < number.
 */

const LETTERS = 0;
const END = 1;
const SEPARATOR = 2;
const NUMBER = 3;

interface Token {
  rank: number;
  /** Numbers: digits without leading zeros. Letters: lowercased, separators removed. */
  text: string;
}

function tokenize(version: string): Token[] {
  const tokens: Token[] = [];
  for (const run of version.match(/\d+|\D+/g) ?? []) {
    if (/^\d/.test(run)) {
      tokens.push({ rank: NUMBER, text: run.replace(/^0+(?=\d)/, '') });
    } else {
      const letters = run.replace(/[^\p{L}]/gu, '').toLowerCase();
      // Anything that is neither a digit nor a letter (".", "-", "_", "+", "~") only separates.
      tokens.push(letters ? { rank: LETTERS, text: letters } : { rank: SEPARATOR, text: '' });
    }
  }
  // A trailing separator ("1.0.") adds nothing; dropping it keeps "1.0." level with "1.0".
  while (tokens.length > 0 && tokens[tokens.length - 1]!.rank === SEPARATOR) tokens.pop();
  tokens.push({ rank: END, text: '' });
  return tokens;
}

function compareTokens(a: Token, b: Token): number {
  if (a.rank !== b.rank) return a.rank - b.rank;
  if (a.rank === NUMBER && a.text.length !== b.text.length) return a.text.length - b.text.length;
  return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
}

/**
 * Negative if a is older than b, positive if newer, 0 only if a === b.
 * Usable directly as a sort comparator (ascending: oldest first).
 */
export function compareVersions(a: string, b: string): number {
  if (a === b) return 0;
  const ta = tokenize(a);
  const tb = tokenize(b);
  // Both end with END, and END only appears last, so the loop returns before running off either.
  for (let i = 0; i < ta.length && i < tb.length; i++) {
    const c = compareTokens(ta[i]!, tb[i]!);
    if (c !== 0) return Math.sign(c);
  }
  return a < b ? -1 : 1;
}

/** The newest of the given versions by compareVersions, or undefined for none. */
export function newestVersion(versions: Iterable<string>): string | undefined {
  let newest: string | undefined;
  for (const v of versions) if (newest === undefined || compareVersions(v, newest) > 0) newest = v;
  return newest;
}
