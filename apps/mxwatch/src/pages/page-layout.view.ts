import { ASSET_VERSION } from './pages.assets.js';
import { html, type Html, type HtmlValue } from './html.template.js';

export interface LayoutOptions {
  title: string;
  /** Show the sign-out button (pages behind MXWATCH_UI_AUTH=token). */
  signedIn?: boolean;
  /** Renders instead of the domain count in the footer. */
  footer?: HtmlValue;
}

/** The frame of every page: landmarks, skip link, one stylesheet and one deferred script. */
export function layout(options: LayoutOptions, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<link rel="icon" href="data:,">
<title>${options.title} · mxwatch</title>
<link rel="stylesheet" href="/assets/mxwatch.css?v=${ASSET_VERSION}">
<script src="/assets/mxwatch.js?v=${ASSET_VERSION}" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="site">
<nav aria-label="Site">
<a href="/">mxwatch</a>
<a href="/">Fleet</a>
<a href="/api/docs">API</a>
${options.signedIn ? html`<form method="post" action="/logout"><button class="secondary" type="submit">Sign out</button></form>` : null}
</nav>
</header>
<main id="main" tabindex="-1">
${body}
</main>
<footer class="site">${options.footer ?? html`mxwatch — email deliverability and DNS health monitor`}</footer>
</body>
</html>
`;
}

/** `2026-06-01 12:00 UTC`, in a <time> element, with how long ago. */
export function when(date: Date | null | undefined, now: Date): Html {
  if (!date) return html`<span class="muted">never</span>`;
  const text = `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return html`<time datetime="${date.toISOString()}">${text}</time> <span class="muted">(${ago(date, now)})</span>`;
}

export function ago(date: Date, now: Date): string {
  const s = Math.round((now.getTime() - date.getTime()) / 1000);
  if (s < 0) return 'in the future';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** An open finding about mxwatch itself, as the pages show it. */
export interface MonitorFindingView {
  code: string;
  severity: string;
  message: string;
  remediation: string;
  openedAt: Date | null;
}

/**
 * The banner for findings about mxwatch itself (its resolver does not validate DNSSEC, its DNSBL
 * queries go through a public resolver): they are about no domain, and they make some results of
 * every domain untestable, so they head the overview rather than sitting under one domain.
 * `detailed` false (a domain's page): one line pointing at the overview.
 */
export function monitorBanner(findings: readonly MonitorFindingView[], now: Date, detailed: boolean): Html | null {
  if (findings.length === 0) return null;
  const n = findings.length;
  if (!detailed) {
    return html`<p class="monitor-note" role="note" data-monitor-findings="${n}">mxwatch itself has ${n} open finding${n === 1 ? '' : 's'} (${findings.map((f) => f.code).join(', ')}): some results below may be untestable because of ${n === 1 ? 'it' : 'them'}. <a href="/#monitor-h">See the overview</a>.</p>`;
  }
  return html`<section class="monitor" aria-labelledby="monitor-h">
<h2 id="monitor-h">mxwatch itself needs attention (${n})</h2>
<p>${n === 1 ? 'This finding is' : 'These findings are'} about this monitor, not about any domain: until ${n === 1 ? 'it is' : 'they are'} fixed, the checks ${n === 1 ? 'it names' : 'they name'} are untestable for every domain.</p>
<ul class="findings">${findings.map(
    (f) => html`<li class="${f.severity}" data-code="${f.code}" data-severity="${f.severity}" data-scope="monitor">
<div>${badge(f.severity)} <code>${f.code}</code></div>
<p class="message"><strong>${f.message}</strong></p>
<p class="remediation"><span class="muted">What to do:</span> ${f.remediation}</p>
${f.openedAt ? html`<div class="muted">open since ${when(f.openedAt, now)}</div>` : null}
</li>`,
  )}</ul>
</section>`;
}

/** A coloured label that also says what it means in text (never colour alone). */
export function badge(kind: string | null | undefined): Html {
  const k = kind ?? 'none';
  const text = kind === null || kind === undefined ? 'no data' : kind === 'ok' ? 'ok' : kind;
  return html`<span class="badge ${k}">${text}</span>`;
}
