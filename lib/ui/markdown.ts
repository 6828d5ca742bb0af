/**
 * A package's description and notes as HTML. markdown-it with `html: false`: raw HTML in a
 * package's text (a `<script>`, an `onerror`) is escaped and shown, never run. Links only to
 * http(s) or relative targets; images are not rendered (they would load from another origin,
 * which the page's CSP refuses anyway): their text stays.
 */
import MarkdownIt from 'markdown-it';

const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
md.disable(['image']);

/** http(s), or relative (no scheme at all). mailto, javascript, data, vbscript: refused. */
md.validateLink = (url: string): boolean => {
  const u = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(u);
  if (!scheme) return !u.startsWith('//');
  return /^https?$/i.test(scheme[1]!);
};

const defaultLinkOpen = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx]!.attrSet('rel', 'nofollow noopener noreferrer');
  return defaultLinkOpen(tokens, idx, options, env, self);
};

/** Longest text rendered (a package's description is metadata, not a book). */
const MAX_CHARS = 64 * 1024;

export function renderMarkdown(text: unknown): string {
  if (typeof text !== 'string' || !text.trim()) return '';
  return md.render(text.length > MAX_CHARS ? `${text.slice(0, MAX_CHARS)}…` : text);
}
