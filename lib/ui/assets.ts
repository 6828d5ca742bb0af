/**
 * The catalog's stylesheet and client script, served from /ui/assets/ by the registry itself
 * (no CDN, no remote font). They are strings in this module rather than files built by a
 * separate esbuild step: every runtime (the Lambda bundle, the production server's bundle,
 * serverless offline, tsx) then serves the same bytes with no build step or file lookup of its
 * own. The script is plain ES2020 for current browsers, progressive enhancement only: every
 * page works (reads, links, forms) without it.
 *
 * What the script adds: live search and facet filtering of the list (URL kept in step), copy
 * buttons, the options.json download built from the config form, the version picker submitting
 * on change, the remove dialog, and the writer token (held in sessionStorage, sent only as an
 * Authorization header to the registry's JSON routes, never in a URL).
 */
import { createHash } from 'node:crypto';

const CSS = `:root{--fg:#1b1f24;--muted:#4a5560;--bg:#fff;--panel:#f4f6f8;--line:#c9d1d9;--accent:#0b5cad;--ok:#1a6b2f;--bad:#a1131d;--warn:#7a4a00}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible,summary:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.skip{position:absolute;left:-9999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px;z-index:10}
.top{background:#14212b;padding:10px 20px}.top .brand{color:#fff;font-weight:600;text-decoration:none}
main{max-width:1200px;margin:0 auto;padding:16px 20px}
.foot{max-width:1200px;margin:24px auto;padding:0 20px;color:var(--muted);font-size:14px}
h1{font-size:28px;margin:8px 0}h2{font-size:20px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
.filters{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-end;background:var(--panel);padding:12px;border-radius:6px}
.filters label{display:flex;flex-direction:column;font-size:14px;color:var(--muted)}
input,select,textarea,button{font:inherit}
input[type=search],input[type=text],input[type=password],input[type=number],select,textarea{padding:6px 8px;border:1px solid #6e7781;border-radius:4px;background:#fff;color:var(--fg)}
button,.button{padding:6px 12px;border:1px solid var(--accent);border-radius:4px;background:var(--accent);color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
button.secondary{background:#fff;color:var(--accent)}button.danger{background:var(--bad);border-color:var(--bad)}
.count{margin:12px 0;color:var(--muted)}
.cards{list-style:none;padding:0;margin:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:14px}
.card{border:1px solid var(--line);border-radius:6px;padding:12px;display:flex;gap:12px}
.card[hidden]{display:none}
.card h3{margin:0;font-size:18px}.card p{margin:4px 0;font-size:14px}
.icon{width:48px;height:48px;flex:none;border-radius:6px;object-fit:contain}
.icon.none{background:#dde3e9;display:flex;align-items:center;justify-content:center;font-weight:700;color:#14212b}
.badge{display:inline-block;font-size:12px;padding:1px 6px;border-radius:10px;border:1px solid currentColor;margin-left:6px;vertical-align:middle}
.badge.certified{color:var(--ok)}.badge.community{color:var(--muted)}
.tags{display:flex;flex-wrap:wrap;gap:4px;list-style:none;padding:0;margin:6px 0 0}.tags li{font-size:12px;background:var(--panel);border-radius:4px;padding:0 6px}
.muted{color:var(--muted)}
.empty,.error{background:var(--panel);border-left:4px solid var(--accent);padding:16px;margin:16px 0}
.error{border-left-color:var(--bad)}
table{border-collapse:collapse;width:100%;font-size:14px;margin:8px 0}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:var(--panel)}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
pre{background:var(--panel);padding:8px;overflow:auto;white-space:pre-wrap;word-break:break-all}
.digest{word-break:break-all}
.cmd{display:flex;gap:8px;align-items:flex-start}.cmd pre{flex:1;margin:4px 0}
.yes{color:var(--ok);font-weight:600}.no{color:var(--bad);font-weight:600}.unknown{color:var(--warn);font-weight:600}
.offline{padding:8px 12px;border-radius:6px;display:inline-block;margin:8px 0}
.offline.yes{background:#e6f4ea}.offline.no{background:#fdecea}.offline.unknown{background:#fff4e0}
.head{display:flex;gap:16px;align-items:center}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px}dl.meta dt{font-weight:600}dl.meta dd{margin:0}
.shots{display:flex;flex-wrap:wrap;gap:8px}.shots img{max-width:320px;border:1px solid var(--line)}
dialog{border:1px solid var(--line);border-radius:8px;max-width:480px}dialog::backdrop{background:rgba(0,0,0,.4)}
.row{display:flex;gap:8px;flex-wrap:wrap;align-items:center;margin:8px 0}
.status{min-height:1.5em}
.pager{display:flex;gap:12px;margin:16px 0}
.markdown{overflow-wrap:anywhere}
`;

const JS = `(function () {
  'use strict';
  var TOKEN_KEY = 'dcos-registry-write-token';
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function token() { try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; } }
  function setToken(t) { try { if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY); } catch (e) {} }

  // The list: live search and facets over the cards already on the page.
  var filters = $('#filters');
  if (filters && filters.getAttribute('data-complete') === 'true') {
    var cards = $$('.card');
    var count = $('#count');
    var none = $('#no-match');
    var total = cards.length;
    var apply = function () {
      var q = $('#q').value.trim().toLowerCase();
      var tag = $('#tag').value;
      var maint = $('#maintainer').value;
      var shown = 0;
      cards.forEach(function (c) {
        var ok = (!q || c.getAttribute('data-search').indexOf(q) >= 0) &&
          (!tag || c.getAttribute('data-tags').indexOf('|' + tag + '|') >= 0) &&
          (!maint || c.getAttribute('data-maintainer') === maint);
        c.hidden = !ok;
        if (ok) shown++;
      });
      count.textContent = shown === total ? total + ' package' + (total === 1 ? '' : 's') : shown + ' of ' + total + ' packages';
      if (none) none.hidden = shown !== 0;
      var params = new URLSearchParams();
      if (q) params.set('q', $('#q').value.trim());
      if (tag) params.set('tag', tag);
      if (maint) params.set('maintainer', maint);
      var s = params.toString();
      history.replaceState(null, '', location.pathname + (s ? '?' + s : ''));
    };
    filters.addEventListener('input', apply);
    filters.addEventListener('change', apply);
    filters.addEventListener('submit', function (e) { e.preventDefault(); apply(); });
    var reset = $('#reset');
    if (reset) reset.addEventListener('click', function (e) {
      e.preventDefault();
      $('#q').value = ''; $('#tag').value = ''; $('#maintainer').value = '';
      apply();
      $('#q').focus();
    });
  } else if (filters) {
    // A big catalog: the server filters and pages. Ask it for the filtered page as the user types
    // and swap the cards, count and pager in (no navigation); the URL keeps the filters.
    var seq = 0;
    var timer = 0;
    var load = function () {
      var params = new URLSearchParams();
      ['q', 'tag', 'maintainer'].forEach(function (k) {
        var v = $('#' + k).value.trim();
        if (v) params.set(k, v);
      });
      var s = params.toString();
      var url = location.pathname + (s ? '?' + s : '');
      var mine = ++seq;
      fetch(url, { headers: { accept: 'text/html' } }).then(function (r) { return r.text(); }).then(function (text) {
        if (mine !== seq) return;
        var doc = new DOMParser().parseFromString(text, 'text/html');
        ['.cards', '#count', '#no-match'].forEach(function (sel) {
          var now = $(sel), next = $(sel, doc);
          if (now && next) now.replaceWith(document.importNode(next, true));
        });
        var pager = $('.pager');
        if (pager) pager.remove();
        var nextPager = $('.pager', doc);
        if (nextPager) $('.cards').after(document.importNode(nextPager, true));
        history.replaceState(null, '', url);
      }, function () {});
    };
    var soon = function () { clearTimeout(timer); timer = setTimeout(load, 120); };
    filters.addEventListener('input', soon);
    filters.addEventListener('change', soon);
    filters.addEventListener('submit', function (e) { e.preventDefault(); clearTimeout(timer); load(); });
  }

  // Copy buttons: the text of the element they name, exactly.
  $$('button[data-copy]').forEach(function (b) {
    b.hidden = false;
    b.addEventListener('click', function () {
      var src = document.getElementById(b.getAttribute('data-copy'));
      var status = document.getElementById(b.getAttribute('data-copy') + '-status');
      navigator.clipboard.writeText(src.textContent).then(function () {
        if (status) status.textContent = 'Copied';
      }, function () {
        if (status) status.textContent = 'Copy failed: select the text and copy it';
      });
    });
  });

  // Version pickers submit on change.
  $$('form.autosubmit select').forEach(function (s) {
    s.addEventListener('change', function () { s.form.submit(); });
  });

  // options.json from the config form.
  var options = $('#options-form');
  if (options) {
    var dl = $('#options-download');
    dl.hidden = false;
    options.addEventListener('submit', function (e) {
      e.preventDefault();
      var out = {};
      var error = '';
      $$('[data-path]', options).forEach(function (el) {
        var path = JSON.parse(el.getAttribute('data-path'));
        var type = el.getAttribute('data-type');
        var value;
        if (el.type === 'checkbox') value = el.checked;
        else if (el.value === '') return;
        else if (type === 'number' || type === 'integer') value = Number(el.value);
        else if (type === 'string') value = el.value;
        else {
          try { value = JSON.parse(el.value); } catch (x) { error = path.join('.') + ' is not valid JSON'; return; }
        }
        var at = out;
        for (var i = 0; i < path.length - 1; i++) {
          if (typeof at[path[i]] !== 'object' || at[path[i]] === null) at[path[i]] = {};
          at = at[path[i]];
        }
        at[path[path.length - 1]] = value;
      });
      var status = $('#options-status');
      if (error) { status.textContent = error; return; }
      var text = JSON.stringify(out, null, 2) + '\\n';
      var a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
      a.download = 'options.json';
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
      status.textContent = 'options.json downloaded';
    });
  }

  // Writer token: kept in this tab's sessionStorage, sent only as a header.
  var tokenForm = $('#token-form');
  var refreshWriter = function () {
    var t = token();
    var state = $('#token-state');
    if (state) state.textContent = t ? 'A write token is held in this tab.' : 'No write token held.';
    var forget = $('#token-forget');
    if (forget) forget.hidden = !t;
    if (!t) return;
    $$('[data-upload-version]').forEach(function (row) {
      var cell = $('.reason', row);
      if (!cell || cell.getAttribute('data-loaded')) return;
      cell.setAttribute('data-loaded', '1');
      fetch('/package/' + encodeURIComponent(row.getAttribute('data-upload-name')) + '/' + encodeURIComponent(row.getAttribute('data-upload-version')), {
        headers: { authorization: 'Bearer ' + t, accept: 'application/json' }
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
        if (d && d.error) cell.textContent = d.error.type + ': ' + d.error.message;
      }, function () {});
    });
  };
  if (tokenForm) {
    tokenForm.hidden = false;
    tokenForm.addEventListener('submit', function (e) {
      e.preventDefault();
      var input = $('#token-input');
      setToken(input.value.trim());
      input.value = '';
      refreshWriter();
    });
    $('#token-forget').addEventListener('click', function () { setToken(''); location.reload(); });
    refreshWriter();
  }

  // Remove a version, after confirmation, with the writer's token.
  var openRemove = $('#remove-open');
  var dialog = $('#remove-dialog');
  if (openRemove && dialog) {
    openRemove.hidden = false;
    var input = $('#remove-token');
    var status = $('#remove-status');
    openRemove.addEventListener('click', function () {
      input.value = token();
      status.textContent = '';
      dialog.showModal();
      (input.value ? $('#remove-confirm') : input).focus();
    });
    $('#remove-cancel').addEventListener('click', function () { dialog.close(); openRemove.focus(); });
    $('#remove-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var t = input.value.trim();
      if (!t) { status.textContent = 'A write token is needed to remove a version.'; input.focus(); return; }
      var name = dialog.getAttribute('data-name');
      var version = dialog.getAttribute('data-version');
      status.textContent = 'Removing…';
      fetch('/package/' + encodeURIComponent(name) + '/' + encodeURIComponent(version), {
        method: 'DELETE', headers: { authorization: 'Bearer ' + t, accept: 'application/json' }
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (r.ok) { setToken(t); location.assign(dialog.getAttribute('data-after')); return; }
          status.textContent = 'Not removed (' + r.status + '): ' + (body && body.message ? body.message : r.statusText);
        });
      }, function () { status.textContent = 'Not removed: the registry could not be reached.'; });
    });
  }
})();
`;

const hash = (s: string) => createHash('sha256').update(s).digest('hex');

/** Changes whenever either asset changes: pages reference `?v=` so a cache never mixes versions. */
export const ASSET_VERSION = hash(CSS + JS).slice(0, 16);

export const ASSETS: Record<string, { type: string; body: string; etag: string }> = {
  'app.css': { type: 'text/css; charset=utf-8', body: CSS, etag: `"${hash(CSS).slice(0, 32)}"` },
  'app.js': { type: 'text/javascript; charset=utf-8', body: JS, etag: `"${hash(JS).slice(0, 32)}"` },
};
