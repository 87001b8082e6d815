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

/** A coloured label that also says what it means in text (never colour alone). */
export function badge(kind: string | null | undefined): Html {
  const k = kind ?? 'none';
  const text = kind === null || kind === undefined ? 'no data' : kind === 'ok' ? 'ok' : kind;
  return html`<span class="badge ${k}">${text}</span>`;
}
