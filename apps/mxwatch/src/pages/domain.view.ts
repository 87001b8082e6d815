import type { TimelineCell } from '../storage/pages.repository.js';
import { buildHostMatrix, daysLeft, type AddressView, type HostView, type ListingView, type PortView, type StoredResult } from './host-matrix.js';
import { domainPath, html, safeUrl, type Html } from './html.template.js';
import { badge, layout, monitorBanner, when, type MonitorFindingView } from './page-layout.view.js';
import { timelineLegend, timelineStrip } from './timeline.view.js';

export interface ProbeInfo {
  name: string;
  title: string;
  scope: string;
}

export interface OpenFindingView {
  code: string;
  severity: string;
  probe: string;
  target: string;
  message: string;
  remediation: string;
  openedAt: Date | null;
}

export interface ChangeView {
  at: Date;
  probe: string;
  /** Bounded vocabulary, e.g. `dmarc.policy_lowered`. */
  kind: string;
  /** Lowers protection (a policy lowered, an MX removed, `all` loosened). */
  weakening: boolean;
  text: string;
}

export interface DomainView {
  now: Date;
  signedIn: boolean;
  /** An API token is configured: the check-now form asks for it. */
  tokenRequired: boolean;
  domain: { name: string; labels: Record<string, string>; enabled: boolean; intervalSeconds: number; lastCheckAt: Date | null };
  lastRun: { status: string; trigger: string; startedAt: Date; durationMs: number } | null;
  results: StoredResult[];
  findings: OpenFindingView[];
  /** Every registered probe, then any other probe name found in the stored results. */
  probes: ProbeInfo[];
  timeline: { since: Date; bucketMs: number; buckets: number; cells: TimelineCell[] };
  /** null: this build has no change history. */
  changes: ChangeView[] | null;
  /** Open findings about mxwatch itself: one line pointing at the overview (they belong to no domain). */
  monitor?: MonitorFindingView[];
}

const ORDER = ['pass', 'untestable', 'warn', 'fail'];

function worst(statuses: string[]): string | null {
  if (statuses.length === 0) return null;
  return statuses.reduce((w, s) => (ORDER.indexOf(s) > ORDER.indexOf(w) ? s : w), 'pass');
}

const yesNo = (v: boolean | null, yes = 'yes', no = 'no') => (v === null ? html`<span class="muted">unknown</span>` : v ? yes : html`<strong>${no}</strong>`);

/** Stored details hide these: observations become findings, transcripts are long. */
const HIDDEN_DETAILS = new Set(['observations']);

/** A stored result's details, generically: scalars as text, short lists joined, the rest as JSON. */
export function detailsList(details: Record<string, unknown>): Html {
  const entries = Object.entries(details).filter(([k, v]) => !HIDDEN_DETAILS.has(k) && v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0));
  if (entries.length === 0) return html``;
  return html`<dl class="facts">${entries.map(([k, v]) => {
    let value: Html;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') value = html`${String(v)}`;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number') && v.join(', ').length <= 200) value = html`${v.join(', ')}`;
    else {
      const text = JSON.stringify(v, null, 2);
      value = html`<details><summary>${Array.isArray(v) ? `${v.length} items` : 'show'}</summary><pre>${text.length > 8000 ? `${text.slice(0, 8000)}\n…` : text}</pre></details>`;
    }
    return html`<dt>${k}</dt><dd>${value}</dd>`;
  })}</dl>`;
}

function certCell(p: PortView, now: Date): Html {
  const c = p.tls?.cert;
  if (!c) return html`<span class="muted">—</span>`;
  const left = c.notAfter ? daysLeft(c.notAfter, now) : null;
  return html`<div class="cert" data-cert-subject="${c.subject ?? ''}">
<div><span class="muted">Subject</span> ${c.subject ?? '?'}</div>
${c.sans.length ? html`<div><span class="muted">Names</span> ${c.sans.join(', ')}</div>` : null}
<div><span class="muted">Issuer</span> ${c.issuer ?? '?'}</div>
<div><span class="muted">Expires</span> ${c.notAfter ? c.notAfter.toISOString().slice(0, 10) : '?'} ${left === null ? null : html`<strong class="days-left" data-days-left="${left}">${left < 0 ? `expired ${-left} days ago` : `${left} days left`}</strong>`}</div>
<div><span class="muted">Trusted</span> ${yesNo(c.trusted)} · <span class="muted">name matches</span> ${yesNo(c.nameMatch)}${c.authorizationError ? html` · <code>${c.authorizationError}</code>` : null}</div>
</div>`;
}

function portRow(p: PortView, now: Date): Html {
  const s = p.smtp;
  const t = p.tls;
  const reach = s
    ? html`${badge(s.status)} ${s.open === null ? '' : s.open ? 'open' : 'closed'}${s.reason ? html` <code>${s.reason}</code>` : null}${s.connectMs !== null ? html` <span class="muted">${Math.round(s.connectMs)} ms</span>` : null}${s.banner ? html`<details><summary>banner</summary><pre>${s.banner}</pre></details>` : null}${s.error ? html`<div class="muted">${s.error}</div>` : null}`
    : html`<span class="muted">not probed</span>`;
  const starttls = t
    ? html`${badge(t.status)} ${t.implicitTls ? 'implicit TLS' : t.offered === null ? '' : t.offered ? 'offered' : html`<strong>not offered</strong>`}${t.reason ? html` <code>${t.reason}</code>` : null}${t.error ? html`<div class="muted">${t.error}</div>` : null}`
    : html`<span class="muted">—</span>`;
  return html`<tr data-port="${p.port}">
<th scope="row">${p.port}${p.role ? html` <span class="muted">${p.role}</span>` : null}</th>
<td>${reach}</td>
<td>${starttls}</td>
<td>${t?.version ?? html`<span class="muted">—</span>`}${t?.cipher ? html`<div class="muted">${t.cipher}</div>` : null}</td>
<td>${certCell(p, now)}</td>
</tr>`;
}

function listingsTable(listings: ListingView[], caption: string): Html {
  if (listings.length === 0) return html``;
  return html`<div class="table-wrap" role="region" aria-label="${caption}" tabindex="0"><table>
<caption>${caption}</caption>
<thead><tr><th scope="col">List</th><th scope="col">Subject</th><th scope="col">State</th><th scope="col">Details</th></tr></thead>
<tbody>${listings.map(
    (l) => html`<tr data-zone="${l.zone}" data-subject="${l.subject}" data-state="${l.state ?? ''}"><th scope="row">${l.zone}</th><td>${l.subject}</td><td>${badge(l.status)} ${l.state ?? ''}</td><td>${l.codes.length ? html`<code>${l.codes.join(', ')}</code> ` : null}${l.txt ?? ''}${l.error ? html`<span class="muted">${l.error}</span>` : null}</td></tr>`,
  )}</tbody></table></div>`;
}

function addressBlock(host: string, a: AddressView, now: Date): Html {
  return html`<div class="card" data-address="${a.ip}">
<h4>${a.ip}</h4>
${
  a.ports.length
    ? html`<div class="table-wrap" role="region" aria-label="Ports of ${host} at ${a.ip}" tabindex="0"><table>
<caption>Ports of ${host} at ${a.ip}</caption>
<thead><tr><th scope="col">Port</th><th scope="col">Reachable</th><th scope="col">STARTTLS</th><th scope="col">TLS</th><th scope="col">Certificate</th></tr></thead>
<tbody>${a.ports.map((p) => portRow(p, now))}</tbody></table></div>`
    : html`<p class="muted">No port of this address was probed (refused by the address policy, or nothing to probe).</p>`
}
${listingsTable(a.listings, `Block lists for ${a.ip}`)}
</div>`;
}

function hostBlock(h: HostView, now: Date): Html {
  return html`<section class="host" data-host="${h.host}" aria-labelledby="host-${h.host}">
<h3 id="host-${h.host}">${h.host}${h.preference !== null ? html` <span class="muted">preference ${h.preference}</span>` : null}</h3>
${h.cname ? html`<p class="muted">alias of ${h.cname}</p>` : null}
${h.resolveError ? html`<p class="error">Addresses: ${h.resolveError}</p>` : null}
${h.addresses.length ? h.addresses.map((a) => addressBlock(h.host, a, now)) : html`<p class="muted">No address.</p>`}
</section>`;
}

function findingsSection(v: DomainView): Html {
  return html`<section aria-labelledby="findings-h">
<h2 id="findings-h">Open findings (${v.findings.length})</h2>
${
  v.findings.length === 0
    ? html`<p>No open findings.</p>`
    : html`<ul class="findings">${v.findings.map(
        (f) => html`<li class="${f.severity}" data-code="${f.code}" data-target="${f.target}" data-severity="${f.severity}">
<div>${badge(f.severity)} <code>${f.code}</code> <span class="muted">${f.probe} · ${f.target}</span></div>
<p class="message"><strong>${f.message}</strong></p>
<p class="remediation"><span class="muted">What to do:</span> ${f.remediation}</p>
${f.openedAt ? html`<div class="muted">open since ${when(f.openedAt, v.now)}</div>` : null}
</li>`,
      )}</ul>`
}
</section>`;
}

function probesOverview(v: DomainView): Html {
  return html`<div class="table-wrap" role="region" aria-labelledby="probes-h" tabindex="0"><table>
<thead><tr><th scope="col">Probe</th><th scope="col">Latest</th><th scope="col">Results</th><th scope="col" class="hide-narrow">Runs on</th></tr></thead>
<tbody>${v.probes.map((p) => {
    const rs = v.results.filter((r) => r.probe === p.name);
    const counts = ['pass', 'warn', 'fail', 'untestable'].map((s) => [s, rs.filter((r) => r.status === s).length] as const).filter(([, n]) => n > 0);
    return html`<tr data-probe="${p.name}"><th scope="row">${p.title} <span class="muted">(${p.name})</span></th><td>${badge(worst(rs.map((r) => r.status)))}</td><td>${counts.map(([s, n]) => `${n} ${s}`).join(', ') || '—'}</td><td class="hide-narrow">${p.scope}</td></tr>`;
  })}</tbody></table></div>`;
}

/** Probes whose results the host matrix already shows. */
const MATRIX_PROBES = new Set(['mx', 'smtp', 'starttls', 'dnsbl']);

function policySections(v: DomainView): Html {
  const others = v.probes.filter((p) => !MATRIX_PROBES.has(p.name));
  if (others.length === 0) return html``;
  return html`<section aria-labelledby="policies-h">
<h2 id="policies-h">Policies</h2>
${others.map((p) => {
  const rs = v.results.filter((r) => r.probe === p.name);
  const status = worst(rs.map((r) => r.status));
  // Passing policies start folded, so what needs attention is what the eye meets.
  return html`<details class="card" data-probe="${p.name}"${status === 'pass' ? null : html` open`}>
<summary><h3 id="policy-${p.name}">${p.title} ${badge(status)}</h3></summary>
${
  rs.length === 0
    ? html`<p class="muted">No result in the latest check.</p>`
    : rs.map((r) => html`<div class="result"><p><strong>${r.target}</strong> ${badge(r.status)}${r.reason ? html` <code>${r.reason}</code>` : null}</p>${detailsList(r.details)}</div>`)
}
</details>`;
})}
</section>`;
}

function timelineSection(v: DomainView): Html {
  const t = v.timeline;
  const days = Math.round((t.buckets * t.bucketMs) / 86_400_000);
  return html`<section aria-labelledby="timeline-h">
<h2 id="timeline-h">Last ${days} days</h2>
<p class="muted">One cell per day, oldest on the left; a day shows its worst result.</p>
${timelineLegend()}
<div class="timeline">${v.probes.map((p) => html`<div title="${p.title}">${p.name}</div><div>${timelineStrip({ probe: p.name, cells: t.cells, since: t.since, bucketMs: t.bucketMs, buckets: t.buckets })}</div>`)}</div>
</section>`;
}

function changesSection(v: DomainView): Html {
  if (v.changes === null) return html``;
  return html`<section aria-labelledby="changes-h">
<h2 id="changes-h">Policy changes</h2>
${
  v.changes.length === 0
    ? html`<p class="muted">No policy change recorded.</p>`
    : html`<ol class="recent changes">${v.changes.map(
        (c) => html`<li class="${c.weakening ? 'opened' : 'resolved'}" data-kind="${c.kind}">${c.weakening ? html`${badge('warning')} ` : null}<strong>${c.probe}</strong> ${c.text} — ${when(c.at, v.now)}</li>`,
      )}</ol>`
}
</section>`;
}

function checkNow(v: DomainView): Html {
  return html`<form class="check-now" data-check-domain="${v.domain.name}" method="post" action="${safeUrl(`/api/v1${domainPath(v.domain.name)}/check`)}">
${v.tokenRequired ? html`<label>API token<input type="password" name="token" autocomplete="current-password" required></label>` : null}
<button type="submit">Check now</button>
<span id="check-status" role="status" aria-live="polite"></span>
</form>`;
}

export function renderDomain(v: DomainView): Html {
  const d = v.domain;
  const matrix = buildHostMatrix(v.results);
  const mx = matrix.mx;
  const labels = Object.entries(d.labels);
  const body = html`<p><a href="/">← Fleet</a></p>
<h1>${d.name}</h1>
<dl class="facts" aria-label="Summary">
<dt>Last check</dt><dd>${v.lastRun ? html`${badge(v.lastRun.status)} ${when(v.lastRun.startedAt, v.now)} <span class="muted">${v.lastRun.trigger}, ${v.lastRun.durationMs} ms</span>` : html`<span class="muted">not checked yet</span>`}</dd>
<dt>Interval</dt><dd>every ${d.intervalSeconds} s${d.enabled ? null : html` <strong>(disabled)</strong>`}</dd>
${labels.length ? html`<dt>Labels</dt><dd>${labels.map(([k, val]) => `${k}=${val}`).join(', ')}</dd>` : null}
</dl>
${monitorBanner(v.monitor ?? [], v.now, false)}
${checkNow(v)}
${findingsSection(v)}
<section aria-labelledby="probes-h">
<h2 id="probes-h">Probes</h2>
${probesOverview(v)}
</section>
<section aria-labelledby="hosts-h">
<h2 id="hosts-h">Mail hosts</h2>
${mx ? html`<p>MX lookup ${badge(mx.status)}${mx.reason ? html` <code>${mx.reason}</code>` : null}${mx.nullMx ? ' — null MX: this domain accepts no mail' : null}${mx.implicit ? ' — no MX record: senders use the domain’s own address' : null}${mx.error ? html` — ${mx.error}` : null}</p>` : html`<p class="muted">No MX result yet.</p>`}
${matrix.mxHosts.map((h) => hostBlock(h, v.now))}
${matrix.submissionHosts.length ? html`<h3>Submission hosts</h3>${matrix.submissionHosts.map((h) => hostBlock(h, v.now))}` : null}
${listingsTable(matrix.otherListings, 'Block lists for the domain and its sending addresses')}
</section>
${policySections(v)}
${timelineSection(v)}
${changesSection(v)}`;
  return layout({ title: d.name, signedIn: v.signedIn }, body);
}

export function renderNotFound(name: string, signedIn: boolean): Html {
  return layout({ title: 'Not found', signedIn }, html`<h1>Not found</h1><p>mxwatch does not monitor <strong>${name}</strong>.</p><p><a href="/">Back to the fleet</a></p>`);
}
