/**
 * GET / answers browsers with a redirect to the web catalog and everyone else with the seed's
 * health JSON. Kept apart from the pages so the health function's bundle stays small.
 */

/** Longest Accept read (a longer one is treated as not asking for HTML). */
const MAX_ACCEPT = 2048;

/**
 * The client prefers text/html: it names text/html (or application/xhtml+xml) with a q above 0
 * and at least the q of application/json. `*` wildcards alone never count (curl, Cosmos, scripts).
 * Split and scanned, never fed to a backtracking pattern.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept || accept.length > MAX_ACCEPT) return false;
  let html = 0;
  let json = 0;
  for (const item of accept.split(',')) {
    const [type = '', ...params] = item.split(';');
    const t = type.trim().toLowerCase();
    let q = 1;
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq >= 0 && p.slice(0, eq).trim().toLowerCase() === 'q') {
        const n = Number(p.slice(eq + 1).trim());
        q = Number.isFinite(n) && n >= 0 && n <= 1 ? n : 0;
      }
    }
    if (t === 'text/html' || t === 'application/xhtml+xml') html = Math.max(html, q);
    else if (t === 'application/json') json = Math.max(json, q);
  }
  return html > 0 && html >= json;
}

/** The redirect of GET / for a browser: an absolute URL, as every Location the registry sends. */
export function uiRedirect(origin: string) {
  return { statusCode: 302, headers: { location: `${origin}/ui/`, 'cache-control': 'no-cache', vary: 'Accept' }, body: '' };
}
