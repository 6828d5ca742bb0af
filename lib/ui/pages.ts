/**
 * The catalog's pages as HTML strings. Every value that comes from a package goes through
 * `esc` or the markdown renderer (lib/ui/markdown.ts, raw HTML escaped); links from package
 * metadata are kept only when they are http(s).
 */
import type { CatalogVersion } from '../catalog/model';
import type { DescribeUpload } from '../packages';
import { esc, formatSize, layout } from './html';
import { renderMarkdown } from './markdown';
import { diffSchemas, type SchemaRow, schemaRows } from './schema';
import { facet, iconOf, type ListQuery, localImage, matches, type PackageSummary, servedResource } from './view';

/** Up to this many packages the list holds every card and the script filters them in place. */
export const LIST_ALL = 500;
/** Beyond that, the server filters and pages. */
export const PAGE_SIZE = 100;
/** Options shown per facet. */
const FACET_MAX = 100;

type Json = Record<string, unknown>;
const str = (v: unknown) => (typeof v === 'string' ? v : '');

function safeHref(url: unknown): string | undefined {
  if (typeof url !== 'string') return undefined;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}

const link = (url: unknown, text?: string) => {
  const href = safeHref(url);
  return href ? `<a href="${esc(href)}" rel="nofollow noopener noreferrer">${esc(text ?? href)}</a>` : esc(text ?? url);
};

const packageUrl = (name: string, params: Record<string, string | undefined> = {}) => {
  const q = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => !!e[1])).toString();
  return `/ui/packages/${encodeURIComponent(name)}${q ? `?${q}` : ''}`;
};

function iconHtml(url: string | undefined, name: string): string {
  return url
    ? `<img class="icon" src="${esc(url)}" alt="" width="48" height="48">`
    : `<span class="icon none" aria-hidden="true">${esc(name.slice(0, 1).toUpperCase())}</span>`;
}

const badge = (certified: boolean) =>
  certified ? '<span class="badge certified">Certified</span>' : '<span class="badge community">Community</span>';

function card(s: PackageSummary, hidden: boolean): string {
  // The first line, as plain text (the package page renders the markdown).
  const first = (s.description.split('\n').find((l) => l.trim()) ?? '').replace(/[*_`#]/g, '').trim();
  const desc = first.length > 200 ? `${first.slice(0, 200)}…` : first;
  return `<li class="card" data-name="${esc(s.name)}" data-search="${esc(s.search)}" data-tags="|${esc(s.tags.join('|'))}|" data-maintainer="${esc(s.maintainer)}"${hidden ? ' hidden' : ''}>
${iconHtml(s.icon, s.name)}
<div><h3><a href="${esc(packageUrl(s.name))}">${esc(s.name)}</a>${badge(s.certified)}</h3>
<p class="muted">Version <span class="version">${esc(s.newest.version)}</span> · ${s.versions.length} version${s.versions.length === 1 ? '' : 's'}</p>
<p class="desc">${esc(desc)}</p>
${s.tags.length ? `<ul class="tags" aria-label="Tags">${s.tags.map((t) => `<li>${esc(t)}</li>`).join('')}</ul>` : ''}
</div></li>`;
}

function options(values: Array<[string, number]>, selected: string, all: string): string {
  const shown = values.slice(0, FACET_MAX);
  if (selected && !shown.some(([v]) => v === selected)) shown.push([selected, 0]);
  return `<option value="">${esc(all)}</option>${shown
    .map(([v, n]) => `<option value="${esc(v)}"${v === selected ? ' selected' : ''}>${esc(v)} (${n})</option>`)
    .join('')}`;
}

export function listPage(summaries: PackageSummary[], query: ListQuery): string {
  const total = summaries.length;
  if (total === 0) {
    return layout(
      'Packages · DC/OS package registry',
      `<h1>Packages</h1>
<div class="empty" id="empty"><h2>No packages yet</h2>
<p>The catalog is empty. Add a package bundle with the CLI (<code>dcos-registry add &lt;bundle&gt;</code>) and it appears here.</p></div>`,
    );
  }
  const complete = total <= LIST_ALL;
  const matching = summaries.filter((s) => matches(s, query));
  const pages = Math.max(1, Math.ceil(matching.length / PAGE_SIZE));
  const page = Math.min(Math.max(1, query.page), pages);
  const shown = complete ? summaries : matching.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
  const visible = new Set(complete ? matching.map((s) => s.name) : shown.map((s) => s.name));
  const versions = summaries.reduce((n, s) => n + s.versions.length, 0);
  const countText = matching.length === total ? `${total} package${total === 1 ? '' : 's'}` : `${matching.length} of ${total} packages`;
  const pageLink = (p: number) =>
    `/ui/?${new URLSearchParams({ ...(query.q ? { q: query.q } : {}), ...(query.tag ? { tag: query.tag } : {}), ...(query.maintainer ? { maintainer: query.maintainer } : {}), page: String(p) })}`;
  const pager =
    !complete && pages > 1
      ? `<nav class="pager" aria-label="Pages">${page > 1 ? `<a href="${esc(pageLink(page - 1))}" rel="prev">Previous page</a>` : ''}<span>Page ${page} of ${pages}</span>${page < pages ? `<a href="${esc(pageLink(page + 1))}" rel="next">Next page</a>` : ''}</nav>`
      : '';
  return layout(
    'Packages · DC/OS package registry',
    `<h1>Packages</h1>
<p class="muted">${total} package${total === 1 ? '' : 's'}, ${versions} version${versions === 1 ? '' : 's'} in this registry.</p>
<form id="filters" class="filters" method="get" action="/ui/" role="search" data-complete="${complete}">
<label for="q">Search<input type="search" id="q" name="q" value="${esc(query.q)}" maxlength="200" autocomplete="off"></label>
<label for="tag">Tag<select id="tag" name="tag">${options(
      facet(summaries, (s) => s.tags),
      query.tag,
      'All tags',
    )}</select></label>
<label for="maintainer">Maintainer<select id="maintainer" name="maintainer">${options(
      facet(summaries, (s) => [s.maintainer]),
      query.maintainer,
      'All maintainers',
    )}</select></label>
<button type="submit">Search</button> <a id="reset" href="/ui/">Clear filters</a>
</form>
<p id="count" class="count" role="status" aria-live="polite">${countText}</p>
<p id="no-match" class="empty"${matching.length ? ' hidden' : ''}>No package matches these filters.</p>
<ul class="cards" aria-label="Packages">
${shown.map((s) => card(s, !visible.has(s.name))).join('\n')}
</ul>
${pager}`,
  );
}

export function errorPage(title: string, message: string): string {
  return layout(
    `${title} · DC/OS package registry`,
    `<div class="error" id="error"><h1>${esc(title)}</h1><p>${esc(message)}</p><p><a href="/ui/">Back to the catalog</a></p></div>`,
  );
}

/** Whether each blob is in the store: true, false, or undefined when not checked (the cap). */
export interface Presence {
  of(digest: string): boolean | undefined;
}

export interface PackagePageInput {
  summary: PackageSummary;
  /** The version shown (undefined: the package has uploads only). */
  version?: CatalogVersion;
  releaseVersion?: number;
  compare?: CatalogVersion;
  presence: Presence;
  uploads: DescribeUpload[];
  /** scheme://host of the registry, for the commands. */
  origin: string;
}

const yesNo = (p: boolean | undefined) =>
  p === true
    ? '<span class="yes">Present</span>'
    : p === false
      ? '<span class="no">Missing</span>'
      : '<span class="unknown">Not checked</span>';

function command(id: string, text: string, label: string): string {
  return `<div class="cmd"><pre id="${id}">${esc(text)}</pre><button type="button" class="secondary" data-copy="${id}" aria-label="Copy: ${esc(label)}" hidden>Copy</button></div>
<p id="${id}-status" class="status muted" role="status" aria-live="polite"></p>`;
}

function schemaTable(rows: SchemaRow[]): string {
  const input = (r: SchemaRow, i: number) => {
    if (r.group) return '';
    const id = `opt-${i}`;
    const attrs = `id="${id}" data-path="${esc(JSON.stringify(r.path))}" data-type="${esc(r.type)}" aria-label="${esc(r.path.join('.'))}"`;
    const def = r.default === undefined ? undefined : JSON.parse(r.default);
    if (r.type === 'boolean') return `<input type="checkbox" ${attrs}${def === true ? ' checked' : ''}>`;
    if (r.type === 'number' || r.type === 'integer')
      return `<input type="number" step="any" ${attrs} value="${def === undefined ? '' : esc(def)}">`;
    if (r.type === 'string') return `<input type="text" ${attrs} value="${def === undefined ? '' : esc(def)}">`;
    return `<textarea rows="2" ${attrs}>${def === undefined ? '' : esc(JSON.stringify(def))}</textarea>`;
  };
  return `<table id="config-table"><caption class="muted">Every property of the config schema; edit the values and download them as options.json.</caption>
<thead><tr><th scope="col">Path</th><th scope="col">Type</th><th scope="col">Default</th><th scope="col">Description</th><th scope="col">Value</th></tr></thead>
<tbody>${rows
    .map(
      (r, i) =>
        `<tr data-row="${esc(r.path.join('.'))}"><td><code>${esc(r.path.join('.'))}</code>${r.required ? ' <span class="muted">(required)</span>' : ''}</td><td>${esc(r.type)}</td><td class="default">${r.default === undefined ? '' : `<code>${esc(r.default)}</code>`}</td><td>${esc(r.description)}</td><td>${input(r, i)}</td></tr>`,
    )
    .join('\n')}</tbody></table>`;
}

function diffSection(p: PackagePageInput): string {
  const v = p.version!;
  const others = p.summary.versions.filter((o) => o !== v);
  if (!others.length) return '';
  const picker = `<form method="get" action="${esc(packageUrl(p.summary.name))}" class="row">
<input type="hidden" name="version" value="${esc(v.version)}">
<label for="compare">Compare the config schema of ${esc(v.version)} with</label>
<select id="compare" name="compare">${others.map((o) => `<option value="${esc(o.version)}"${o === p.compare ? ' selected' : ''}>${esc(o.version)}</option>`).join('')}</select>
<button type="submit" id="compare-button">Compare</button></form>`;
  if (!p.compare) return `<h2 id="diff">Config changes between versions</h2>${picker}`;
  const d = diffSchemas(p.compare.package.config, v.package.config);
  const rowList = (rows: SchemaRow[], id: string) =>
    rows.length
      ? `<ul id="${id}">${rows.map((r) => `<li><code>${esc(r.path.join('.'))}</code> (${esc(r.type)}${r.default !== undefined ? `, default <code>${esc(r.default)}</code>` : ''})</li>`).join('')}</ul>`
      : `<p id="${id}" class="muted">None.</p>`;
  const changed = d.changed.length
    ? `<table id="diff-changed"><thead><tr><th scope="col">Path</th><th scope="col">In ${esc(p.compare.version)}</th><th scope="col">In ${esc(v.version)}</th></tr></thead><tbody>${d.changed
        .map(
          (c) =>
            `<tr><td><code>${esc(c.path.join('.'))}</code></td><td>${esc(c.from.type)} <code>${esc(c.from.default ?? '')}</code></td><td>${esc(c.to.type)} <code>${esc(c.to.default ?? '')}</code></td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p id="diff-changed" class="muted">None.</p>';
  return `<h2 id="diff">Config changes from ${esc(p.compare.version)} to ${esc(v.version)}</h2>${picker}
<h3>Keys added</h3>${rowList(d.added, 'diff-added')}
<h3>Keys removed</h3>${rowList(d.removed, 'diff-removed')}
<h3>Types or defaults changed</h3>${changed}`;
}

function airgapSection(v: CatalogVersion, presence: Presence): string {
  const sizes = new Map(v.blobs.map((b) => [b.digest, b.size]));
  let missing = 0;
  let unchecked = 0;
  const count = (p: boolean | undefined) => {
    if (p === false) missing++;
    else if (p === undefined) unchecked++;
  };
  const assets = v.assets.map((a) => {
    const p = presence.of(a.digest);
    count(p);
    return `<tr data-digest="${esc(a.digest)}"><td>${esc(a.name)}</td><td class="digest">${esc(a.uri)}</td><td class="digest"><code>${esc(a.digest)}</code></td><td data-size="${a.size}">${formatSize(a.size)}</td><td>${yesNo(p)}</td></tr>`;
  });
  const images = v.images.map((i) => {
    const parts = [i.manifestDigest, ...(i.blobs ?? [])];
    const states = parts.map((d) => presence.of(d));
    const p = states.includes(false) ? false : states.includes(undefined) ? undefined : true;
    count(p);
    const size = parts.reduce((n, d) => n + (sizes.get(d) ?? 0), 0);
    return `<tr data-digest="${esc(i.manifestDigest)}"><td class="digest">${esc(i.reference)}</td><td class="digest"><code>${esc(i.manifestDigest)}</code></td><td data-size="${size}">${formatSize(size)}</td><td>${yesNo(p)}</td></tr>`;
  });
  const offline =
    missing > 0
      ? `<p id="offline" class="offline no">Not installable offline: ${missing} file${missing === 1 ? ' is' : 's are'} missing from the store.</p>`
      : unchecked > 0
        ? `<p id="offline" class="offline unknown">Not confirmed installable offline: ${unchecked} more not checked on this page view.</p>`
        : `<p id="offline" class="offline yes">Installable offline: every asset and image of this version is in the store.</p>`;
  return `<h2 id="airgap">Files for an air-gapped install</h2>
${offline}
<h3>Assets</h3>
${
  assets.length
    ? `<table id="assets"><thead><tr><th scope="col">Name</th><th scope="col">Original URL</th><th scope="col">Digest</th><th scope="col">Size</th><th scope="col">In the store</th></tr></thead><tbody>${assets.join('')}</tbody></table>`
    : '<p class="muted">This version references no asset.</p>'
}
<h3>Docker images</h3>
${
  images.length
    ? `<table id="images"><thead><tr><th scope="col">Reference</th><th scope="col">Manifest digest</th><th scope="col">Size</th><th scope="col">In the store</th></tr></thead><tbody>${images.join('')}</tbody></table>`
    : '<p class="muted">This version references no Docker image.</p>'
}`;
}

function uploadsSection(p: PackagePageInput): string {
  if (!p.uploads.length) return '';
  return `<h2 id="uploads">Uploads in progress</h2>
<table id="uploads-table"><thead><tr><th scope="col">Version</th><th scope="col">State</th><th scope="col">Started</th><th scope="col">Verified</th><th scope="col">Reason (writers)</th></tr></thead><tbody>${p.uploads
    .map(
      (u) =>
        `<tr data-upload-name="${esc(u.name)}" data-upload-version="${esc(u.version)}"><td>${esc(u.version)}</td><td class="state">${esc(u.status)}</td><td>${esc(u.createdAt)}</td><td>${u.progress.verified} of ${u.progress.blobs} files (${formatSize(u.progress.verifiedBytes)} of ${formatSize(u.progress.bytes)})</td><td class="reason">${u.status === 'Failed' ? 'Shown to writers' : ''}</td></tr>`,
    )
    .join('')}</tbody></table>`;
}

function writerSection(p: PackagePageInput): string {
  const v = p.version;
  const remaining = p.summary.versions.filter((o) => o !== v);
  const after = remaining.length ? packageUrl(p.summary.name) : '/ui/';
  return `<h2 id="writers">For writers</h2>
<p class="muted">A write token entered here stays in this browser tab (session storage) and is sent only as an Authorization header to the registry. These controls need JavaScript.</p>
<form id="token-form" class="row" hidden>
<label for="token-input">Write token</label><input type="password" id="token-input" autocomplete="off">
<button type="submit" class="secondary">Use token</button><button type="button" class="secondary" id="token-forget" hidden>Forget token</button>
<span id="token-state" class="muted" role="status"></span>
</form>
${
  v
    ? `<button type="button" class="danger" id="remove-open" hidden>Remove version ${esc(v.version)}…</button>
<dialog id="remove-dialog" aria-labelledby="remove-title" data-name="${esc(v.name)}" data-version="${esc(v.version)}" data-after="${esc(after)}">
<form id="remove-form">
<h2 id="remove-title">Remove ${esc(v.name)} ${esc(v.version)}?</h2>
<p>Exactly this version leaves the catalog; other versions stay. Clusters that installed it keep running, but cannot install it again from this registry.</p>
<p><label for="remove-token">Write token</label> <input type="password" id="remove-token" autocomplete="off"></p>
<p id="remove-status" class="status" role="alert"></p>
<div class="row"><button type="submit" class="danger" id="remove-confirm">Remove ${esc(v.version)}</button><button type="button" class="secondary" id="remove-cancel">Cancel</button></div>
</form></dialog>`
    : ''
}`;
}

export function packagePage(p: PackagePageInput): string {
  const { summary: s, version: v } = p;
  if (!v) {
    return layout(
      `${s.name} · DC/OS package registry`,
      `<p><a href="/ui/">All packages</a></p><h1>${esc(s.name)}</h1><p class="muted">No version of this package is in the catalog yet.</p>${uploadsSection(p)}${writerSection(p)}`,
    );
  }
  const pkg = v.package;
  const resource = servedResource(v);
  const images = (resource.images ?? {}) as Json;
  const shots = (Array.isArray(images.screenshots) ? images.screenshots : []).slice(0, 20);
  const licenses = (Array.isArray(pkg.licenses) ? pkg.licenses : []) as Json[];
  const tags = Array.isArray(pkg.tags) ? pkg.tags.map(String) : [];
  const rows = schemaRows(pkg.config);
  const notes = (['preInstallNotes', 'postInstallNotes', 'postUninstallNotes'] as const)
    .filter((k) => str(pkg[k]).trim())
    .map((k) => {
      const title = {
        preInstallNotes: 'Before installing',
        postInstallNotes: 'After installing',
        postUninstallNotes: 'After uninstalling',
      }[k];
      return `<h2>${title}</h2><div class="markdown" id="${k}">${renderMarkdown(pkg[k])}</div>`;
    })
    .join('\n');
  const repoCmd = `dcos package repo add --index=0 dcos-registry ${p.origin}/repo`;
  const installCmd = `dcos package install ${v.name} --package-version=${v.version}${rows.length ? ' --options=options.json' : ''}`;
  const versionsPicker = `<form method="get" action="${esc(packageUrl(s.name))}" class="row autosubmit" id="version-form">
<label for="version">Version</label>
<select id="version" name="version">${s.versions
    .map(
      (o) =>
        `<option value="${esc(o.version)}"${o === v ? ' selected' : ''}>${esc(o.version)} (added ${esc(o.addedAt.slice(0, 10))})</option>`,
    )
    .join('')}</select>
<button type="submit" class="secondary">Show</button></form>`;
  const body = `<p><a href="/ui/">All packages</a></p>
<div class="head">${iconHtml(iconOf(v, ['icon-large', 'icon-medium', 'icon-small']), v.name)}
<div><h1>${esc(v.name)} <span class="muted" id="shown-version">${esc(v.version)}</span>${badge(pkg.selected === true)}</h1>
<p class="muted" id="summary">${esc(
    str(pkg.description)
      .split('\n')[0]!
      .replace(/[*_`#]/g, '')
      .slice(0, 300),
  )}</p></div></div>
${versionsPicker}
<h2>Description</h2>
<div class="markdown" id="description">${renderMarkdown(pkg.description)}</div>
${notes}
<h2>Details</h2>
<dl class="meta" id="details">
<dt>Maintainer</dt><dd id="maintainer">${esc(str(pkg.maintainer))}</dd>
<dt>Version</dt><dd>${esc(v.version)} (release ${p.releaseVersion ?? ''})</dd>
<dt>Added</dt><dd id="added-at"><time datetime="${esc(v.addedAt)}">${esc(v.addedAt)}</time></dd>
<dt>Packaging version</dt><dd>${esc(str(pkg.packagingVersion))}</dd>
<dt>Minimum DC/OS</dt><dd id="min-dcos">${pkg.minDcosReleaseVersion ? esc(str(pkg.minDcosReleaseVersion)) : 'any'}</dd>
${pkg.website ? `<dt>Website</dt><dd id="website">${link(pkg.website)}</dd>` : ''}
${pkg.scm ? `<dt>Source</dt><dd id="scm">${link(pkg.scm)}</dd>` : ''}
${licenses.length ? `<dt>Licenses</dt><dd id="licenses">${licenses.map((l) => link(l.url, str(l.name) || str(l.url))).join(', ')}</dd>` : ''}
${tags.length ? `<dt>Tags</dt><dd id="tags">${tags.map(esc).join(', ')}</dd>` : ''}
</dl>
${
  shots.length
    ? `<h2>Screenshots</h2><div class="shots">${shots
        .map((u, i) => {
          const local = localImage(u);
          return local
            ? `<img src="${esc(local)}" alt="Screenshot ${i + 1} of ${esc(v.name)}">`
            : `<p>Screenshot ${i + 1}: ${link(u)} (not stored in this registry)</p>`;
        })
        .join('')}</div>`
    : ''
}
<h2>Install</h2>
<p>Add this registry to the cluster's package repositories (first, so its packages take precedence):</p>
${command('cmd-repo', repoCmd, 'repo add command')}
<p>Install this version${rows.length ? ' with the options below' : ''}:</p>
${command('cmd-install', installCmd, 'install command')}
<h2 id="config">Configuration</h2>
${
  rows.length
    ? `<form id="options-form">${schemaTable(rows)}<div class="row"><button type="submit" id="options-download" hidden>Download options.json</button><span id="options-status" class="muted" role="status" aria-live="polite"></span></div></form>`
    : '<p class="muted">This version has no configuration schema.</p>'
}
${diffSection(p)}
${airgapSection(v, p.presence)}
${uploadsSection(p)}
${writerSection(p)}`;
  return layout(`${v.name} ${v.version} · DC/OS package registry`, body, { description: str(pkg.description).slice(0, 200) });
}
