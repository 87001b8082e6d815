/**
 * The pages' one stylesheet and one script, served by the app itself (/assets/...): no CDN, no
 * build step, so the pages work offline and behind a firewall. They live in a TypeScript module
 * because `tsc` copies nothing but compiled TypeScript into dist/.
 */
import { createHash } from 'node:crypto';

export const PAGES_CSS = `
:root { --fg:#1b1b1f; --muted:#4a4f57; --bg:#ffffff; --panel:#f4f5f7; --line:#c9ccd1; --link:#0b57d0;
  --critical:#a4161a; --fail:#a4161a; --warning:#7a4a00; --warn:#7a4a00; --warn-bg:#ffe08a; --info:#1f5fa8;
  --ok:#1b6e3a; --pass:#1b6e3a; --untestable:#5f6368; --focus:#ff9f1c; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin:0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
a { color:var(--link); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible, [tabindex]:focus-visible { outline:3px solid var(--focus); outline-offset:2px; }
.skip { position:absolute; left:-999px; top:0; background:var(--fg); color:#fff; padding:.5rem 1rem; z-index:2; }
.skip:focus { left:0; }
header.site { background:#16213e; color:#fff; }
header.site nav { max-width:72rem; margin:0 auto; padding:.6rem 1rem; display:flex; gap:1rem; align-items:center; flex-wrap:wrap; }
header.site a { color:#fff; text-decoration:none; font-weight:600; }
header.site form { margin-left:auto; }
main { max-width:72rem; margin:0 auto; padding:1rem; }
footer.site { max-width:72rem; margin:2rem auto; padding:0 1rem; color:var(--muted); font-size:.875rem; }
h1 { font-size:1.5rem; margin:.5rem 0 1rem; overflow-wrap:anywhere; }
h2 { font-size:1.2rem; margin:2rem 0 .6rem; border-bottom:1px solid var(--line); padding-bottom:.25rem; }
h3 { font-size:1.05rem; margin:1.2rem 0 .4rem; overflow-wrap:anywhere; }
.muted { color:var(--muted); }
.table-wrap { overflow-x:auto; border:1px solid var(--line); border-radius:6px; }
table { border-collapse:collapse; width:100%; font-size:.95rem; }
th, td { text-align:left; padding:.45rem .6rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:var(--panel); font-weight:600; }
tbody th { background:none; }
caption { caption-side:bottom; text-align:left; padding:.4rem .6rem; color:var(--muted); }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
tbody tr:last-child td { border-bottom:0; }
.badge { display:inline-block; padding:.05rem .5rem; border-radius:999px; font-size:.8rem; font-weight:700; letter-spacing:.02em; color:#fff; white-space:nowrap; }
.badge.critical, .badge.fail { background:var(--critical); }
.badge.warning, .badge.warn { background:var(--warn-bg); color:#3b2a00; }
.badge.info { background:var(--info); }
.badge.ok, .badge.pass { background:var(--ok); }
.badge.untestable, .badge.none { background:var(--untestable); }
.summary { display:flex; flex-wrap:wrap; gap:.5rem; padding:0; margin:0 0 1rem; list-style:none; }
.summary a { display:inline-block; padding:.35rem .75rem; border:1px solid var(--line); border-radius:6px; text-decoration:none; color:var(--fg); background:var(--panel); }
.summary a[aria-current="true"] { border-color:var(--fg); box-shadow: inset 0 0 0 1px var(--fg); }
form.filters { display:flex; flex-wrap:wrap; gap:.75rem; align-items:flex-end; margin:0 0 1rem; }
form.filters label { display:flex; flex-direction:column; font-size:.85rem; color:var(--muted); }
input, select, button { font:inherit; }
input, select { padding:.35rem .5rem; border:1px solid #767b83; border-radius:4px; min-height:2.4rem; background:#fff; color:var(--fg); }
button { padding:.4rem .9rem; border-radius:4px; border:1px solid #16213e; background:#16213e; color:#fff; cursor:pointer; min-height:2.4rem; }
button.secondary { background:#fff; color:#16213e; }
button[disabled] { opacity:.6; cursor:progress; }
.pager { display:flex; gap:1rem; align-items:center; margin:1rem 0; flex-wrap:wrap; }
.recent { list-style:none; padding:0; margin:0; display:grid; gap:.35rem; }
.recent li { padding:.35rem .6rem; border-left:4px solid var(--line); background:var(--panel); overflow-wrap:anywhere; }
.recent li.opened { border-left-color:var(--critical); }
.recent li.resolved { border-left-color:var(--ok); }
.findings { list-style:none; padding:0; margin:0; display:grid; gap:.6rem; }
.findings li { border:1px solid var(--line); border-left-width:6px; border-radius:6px; padding:.6rem .8rem; overflow-wrap:anywhere; }
.findings li.critical { border-left-color:var(--critical); }
.findings li.warning { border-left-color:#c98a00; }
.findings li.info { border-left-color:var(--info); }
.findings .remediation { margin:.3rem 0 0; }
.monitor { border:2px solid #c98a00; border-radius:6px; padding:.4rem .9rem .9rem; margin:0 0 1.2rem; background:var(--panel); }
.monitor > h2 { margin-top:.4rem; }
.monitor-note { border-left:4px solid #c98a00; padding:.35rem .6rem; background:var(--panel); }
.facts { display:grid; grid-template-columns: max-content 1fr; gap:.2rem 1rem; margin:0; }
.facts dt { color:var(--muted); }
.facts dd { margin:0; overflow-wrap:anywhere; }
.card { border:1px solid var(--line); border-radius:6px; padding:.6rem .8rem; margin:.6rem 0; }
.card > h3 { margin-top:0; }
details.card > summary { cursor:pointer; }
details.card > summary > h3 { display:inline; margin:0; font-size:1.05rem; }
pre { white-space:pre-wrap; overflow-wrap:anywhere; background:var(--panel); padding:.5rem; border-radius:4px; font-size:.85rem; margin:.3rem 0; }
.timeline { display:grid; grid-template-columns: minmax(6rem, max-content) 1fr; gap:.3rem 1rem; align-items:center; }
.timeline > div:nth-child(odd) { font-family: ui-monospace, monospace; font-size:.9rem; }
.timeline svg { width:100%; max-width:36rem; height:1.5rem; display:block; }
.legend { display:flex; flex-wrap:wrap; gap:1rem; font-size:.85rem; color:var(--muted); margin:.5rem 0; padding:0; list-style:none; }
.legend svg { width:.9rem; height:.9rem; vertical-align:-2px; margin-right:.25rem; }
.check-now { display:flex; flex-wrap:wrap; gap:.75rem; align-items:flex-end; margin:1rem 0; }
.check-now label { display:flex; flex-direction:column; font-size:.85rem; color:var(--muted); }
[role="status"] { min-height:1.5rem; }
.error { color:var(--critical); font-weight:600; }
.login { max-width:24rem; }
.login label { display:flex; flex-direction:column; gap:.25rem; margin-bottom:1rem; }
@media (max-width: 40rem) {
  body { font-size:15px; }
  main { padding:.75rem; }
  th, td { padding:.35rem .4rem; }
  .hide-narrow { display:none; }
  td.last-check time { display:none; }
  .timeline { grid-template-columns: 1fr; gap:.1rem; }
  .timeline > div:nth-child(even) { margin-bottom:.4rem; }
}
`;

/**
 * Progressive enhancement only: every page reads fine without it. It wires the "check now"
 * button (POST /api/v1/domains/{name}/check with the API token the person types, then reload).
 */
export const PAGES_JS = `
(function () {
  'use strict';
  var form = document.querySelector('form[data-check-domain]');
  if (!form) return;
  var statusEl = document.getElementById('check-status');
  var button = form.querySelector('button');
  var tokenInput = form.querySelector('input[name="token"]');
  var KEY = 'mxwatch.apiToken';
  try { if (tokenInput && !tokenInput.value) tokenInput.value = sessionStorage.getItem(KEY) || ''; } catch (e) {}
  function say(text, isError) {
    statusEl.textContent = text;
    statusEl.className = isError ? 'error' : '';
  }
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var name = form.getAttribute('data-check-domain');
    var headers = { 'accept': 'application/json' };
    if (tokenInput) {
      var token = tokenInput.value.trim();
      if (!token) { say('Enter the API token first.', true); tokenInput.focus(); return; }
      headers['authorization'] = 'Bearer ' + token;
    }
    button.disabled = true;
    form.setAttribute('aria-busy', 'true');
    say('Checking ' + name + ' now\\u2026');
    fetch('/api/v1/domains/' + encodeURIComponent(name) + '/check', { method: 'POST', headers: headers, credentials: 'same-origin' })
      .then(function (r) {
        return r.text().then(function (text) {
          var body = null;
          try { body = JSON.parse(text); } catch (e) {}
          if (r.ok) {
            try { if (tokenInput) sessionStorage.setItem(KEY, tokenInput.value.trim()); } catch (e) {}
            say('Check finished: ' + (body && body.status ? body.status : 'done') + '. Reloading\\u2026');
            window.location.reload();
            return;
          }
          var msg = body && body.message ? [].concat(body.message).join('; ') : r.statusText;
          if (r.status === 401) msg = 'The API token was refused.';
          say('Check failed (' + r.status + '): ' + msg, true);
          button.disabled = false;
          form.removeAttribute('aria-busy');
        });
      })
      .catch(function (e) {
        say('Check failed: ' + e.message, true);
        button.disabled = false;
        form.removeAttribute('aria-busy');
      });
  });
})();
`;

/** Content hash for cache busting: the asset URLs change when the files do, so they can be cached long. */
export const ASSET_VERSION = createHash('sha256').update(PAGES_CSS).update(PAGES_JS).digest('hex').slice(0, 12);
