/**
 * WWW-Authenticate parsing for registry challenges (RFC 7235 auth-params):
 *   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:x:pull"
 *   Basic realm="Registry Realm"
 */
export interface Challenge {
  /** Lower-cased scheme: "bearer", "basic". */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Parses one or more challenges from a header value (several may be comma-joined). */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  const challenges: Challenge[] = [];
  for (const value of values) {
    const re = /\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?:\s+|$)/y;
    let pos = 0;
    while (pos < value.length) {
      re.lastIndex = pos;
      const scheme = re.exec(value);
      if (!scheme) break;
      pos = re.lastIndex;
      const params: Record<string, string> = {};
      // auth-param: token = ( token / quoted-string ), separated by commas
      const param = /\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/y;
      for (;;) {
        param.lastIndex = pos;
        const m = param.exec(value);
        if (!m) break;
        params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
        pos = param.lastIndex;
      }
      challenges.push({ scheme: scheme[1]!.toLowerCase(), params });
      while (pos < value.length && /[\s,]/.test(value[pos]!)) pos++;
    }
  }
  return challenges;
}
