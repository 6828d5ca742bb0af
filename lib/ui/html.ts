/**
 * HTML building blocks of the web catalog: escaping (every value from a package goes through
 * `esc`), the page frame and the headers every page carries (a strict Content-Security-Policy:
 * no inline script or style, nothing from another origin).
 */
import { ASSET_VERSION } from './assets';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or attribute value, escaped. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Headers of every page and asset of the catalog. */
export function pageHeaders(contentType: string): Record<string, string> {
  return {
    'content-type': contentType,
    'content-security-policy': CSP,
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
  };
}

/** A whole page: `main` is already-escaped HTML. */
export function layout(title: string, main: string, opts: { description?: string } = {}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
${opts.description ? `<meta name="description" content="${esc(opts.description)}">` : ''}
<link rel="stylesheet" href="/ui/assets/app.css?v=${ASSET_VERSION}">
<script src="/ui/assets/app.js?v=${ASSET_VERSION}" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><a class="brand" href="/ui/">DC/OS package registry</a></header>
<main id="main" tabindex="-1">
${main}
</main>
<footer class="foot"><a href="/repo">Universe repository index (/repo)</a> · <a href="/health">Health</a></footer>
</body>
</html>
`;
}

/** "1.5 MiB" */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
