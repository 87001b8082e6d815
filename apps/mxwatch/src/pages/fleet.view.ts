import { WORST_SEVERITIES, type FleetPage, type RecentEvent, type WorstSeverity } from '../storage/pages.repository.js';
import { domainPath, html, queryString, type Html } from './html.template.js';
import { badge, layout, monitorBanner, when, type MonitorFindingView } from './page-layout.view.js';

export interface FleetFilters {
  text: string;
  /** As typed: `key=value` or `key`. */
  label: string;
  severity: WorstSeverity | '';
}

export interface FleetView {
  now: Date;
  filters: FleetFilters;
  /** 1-based. */
  page: number;
  pageSize: number;
  result: FleetPage;
  /** `domain` null: a finding about mxwatch itself. */
  recent: Array<Omit<RecentEvent, 'domain'> & { domain: string | null }>;
  /** Open findings about mxwatch itself: the banner above everything else. */
  monitor: MonitorFindingView[];
  recentHours: number;
  signedIn: boolean;
  /** Problems with the query string, shown instead of being silently ignored. */
  problems: string[];
}

const SEVERITY_TEXT: Record<WorstSeverity, string> = { critical: 'Critical', warning: 'Warning', info: 'Info', ok: 'OK' };

function link(filters: FleetFilters, page?: number): string {
  return `/${queryString({ q: filters.text, label: filters.label, severity: filters.severity, page: page && page > 1 ? page : undefined })}`;
}

function labelsText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

export function renderFleet(v: FleetView): Html {
  const { result, filters } = v;
  const anyFilter = filters.text !== '' || filters.label !== '';
  const allCount = WORST_SEVERITIES.reduce((n, s) => n + result.bySeverity[s], 0);
  const summary = html`<ul class="summary" aria-label="Domains by worst open finding">
<li><a href="${link({ ...filters, severity: '' })}" aria-current="${filters.severity === '' ? 'true' : 'false'}">All <strong>${allCount}</strong></a></li>
${WORST_SEVERITIES.map(
  (s) => html`<li><a href="${link({ ...filters, severity: s })}" aria-current="${filters.severity === s ? 'true' : 'false'}" data-severity="${s}">${badge(s)} <strong>${result.bySeverity[s]}</strong></a></li>`,
)}
</ul>`;

  const form = html`<form class="filters" method="get" action="/" role="search" aria-label="Filter domains">
<label>Domain contains<input type="search" name="q" value="${filters.text}" autocomplete="off" spellcheck="false"></label>
<label>Label (key or key=value)<input type="text" name="label" value="${filters.label}" autocomplete="off" spellcheck="false"></label>
<label>Worst severity<select name="severity">
<option value="">any</option>
${WORST_SEVERITIES.map((s) => html`<option value="${s}"${filters.severity === s ? html` selected` : null}>${SEVERITY_TEXT[s]}</option>`)}
</select></label>
<button type="submit">Filter</button>
${anyFilter || filters.severity ? html`<a href="/">Clear</a>` : null}
</form>`;

  const first = result.total === 0 ? 0 : (v.page - 1) * v.pageSize + 1;
  const last = Math.min(result.total, (v.page - 1) * v.pageSize + result.rows.length);
  const pages = Math.max(1, Math.ceil(result.total / v.pageSize));
  const rows = result.rows.map(
    (r) => html`<tr data-domain="${r.name}" data-worst="${r.worst}">
<th scope="row"><a href="${domainPath(r.name)}">${r.name}</a>${r.enabled ? null : html` <span class="muted">(disabled)</span>`}</th>
<td>${badge(r.worst)}</td>
<td class="num hide-narrow">${r.critical}</td>
<td class="num hide-narrow">${r.warning}</td>
<td class="num hide-narrow">${r.info}</td>
<td>${r.lastStatus ? badge(r.lastStatus) : html`<span class="muted">not checked</span>`}</td>
<td class="last-check">${when(r.lastCheckAt, v.now)}</td>
<td class="hide-narrow">${labelsText(r.labels)}</td>
</tr>`,
  );
  const table =
    result.rows.length === 0
      ? html`<p>${result.total === 0 && !anyFilter && !filters.severity ? html`No domains yet. Add one with <code>POST /api/v1/domains</code> or the <code>domains:</code> section of the YAML file.` : 'No domain matches these filters.'}</p>`
      : html`<div class="table-wrap" role="region" aria-labelledby="domains-caption" tabindex="0">
<table>
<caption id="domains-caption">Domains ${first}–${last} of ${result.total}, worst first</caption>
<thead><tr><th scope="col">Domain</th><th scope="col">Worst open</th><th scope="col" class="num hide-narrow">Critical</th><th scope="col" class="num hide-narrow">Warning</th><th scope="col" class="num hide-narrow">Info</th><th scope="col">Last result</th><th scope="col">Last check</th><th scope="col" class="hide-narrow">Labels</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</div>`;
  const pager =
    pages > 1
      ? html`<nav class="pager" aria-label="Pages">
${v.page > 1 ? html`<a href="${link(filters, v.page - 1)}" rel="prev">← Previous</a>` : null}
<span>Page ${v.page} of ${pages}</span>
${v.page < pages ? html`<a href="${link(filters, v.page + 1)}" rel="next">Next →</a>` : null}
</nav>`
      : null;

  const recent = html`<section aria-labelledby="recent-h">
<h2 id="recent-h">Opened and resolved in the last ${v.recentHours} hours</h2>
${
  v.recent.length === 0
    ? html`<p class="muted">Nothing opened or resolved.</p>`
    : html`<ol class="recent">${v.recent.map(
        (e) =>
          e.domain === null
            ? html`<li class="${e.event}" data-event="${e.event}" data-scope="monitor" data-code="${e.code}"><strong>${e.event === 'opened' ? 'Opened' : 'Resolved'}</strong> ${badge(e.severity)} <code>${e.code}</code> on <a href="#monitor-h">mxwatch itself</a> — ${when(e.at, v.now)}</li>`
            : html`<li class="${e.event}" data-event="${e.event}" data-domain="${e.domain}" data-code="${e.code}"><strong>${e.event === 'opened' ? 'Opened' : 'Resolved'}</strong> ${badge(e.severity)} <code>${e.code}</code> on <a href="${domainPath(e.domain)}">${e.domain}</a> <span class="muted">${e.target}</span> — ${when(e.at, v.now)}</li>`,
      )}</ol>`
}
</section>`;

  const body = html`<h1>Fleet</h1>
${v.problems.length ? html`<p class="error" role="alert">${v.problems.join(' ')}</p>` : null}
${monitorBanner(v.monitor, v.now, true)}
${summary}
${form}
<section aria-labelledby="domains-h">
<h2 id="domains-h">Domains</h2>
${table}
${pager}
</section>
${recent}`;
  return layout({ title: 'Fleet', signedIn: v.signedIn }, body);
}
