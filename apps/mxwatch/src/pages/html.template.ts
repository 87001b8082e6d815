/**
 * The one way the status pages write HTML: a tagged template whose every interpolated value is
 * escaped unless it is already `Html` made by this module. Banners, TXT records, certificate
 * subjects and labels come from the internet or from operators; any of them may hold markup.
 *
 * Values are only ever interpolated into element content or into double-quoted attribute values;
 * never into `<script>`, `<style>`, an event handler or an unquoted attribute (no escaping makes
 * those safe), which is why the pages carry no inline script or style at all.
 */

const BRAND = Symbol('mxwatch.html');

/** Markup this module produced or vouched for. */
export class Html {
  readonly [BRAND] = true;
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
  '=': '&#61;',
};

/**
 * Escapes text for element content and quoted attributes. Backtick and `=` are escaped as well:
 * old browsers took a backtick as an attribute quote, and neither is needed literally in text.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`=]/g, (c) => ENTITIES[c]!);
}

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map((v) => render(v)).join('');
  // Control characters other than tab/newline have no business in a page and can confuse parsers.
  return escapeHtml(String(value).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '\ufffd'));
}

/** `html\`<p>${text}</p>\`` — every `${}` is escaped (arrays are joined, `null`/`undefined`/`false` are empty). */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/** Joins fragments with a separator (both escaped unless `Html`). */
export function join(items: readonly HtmlValue[], separator: HtmlValue = ''): Html {
  return new Html(items.map((i) => render(i)).join(render(separator)));
}

/**
 * A URL safe for `href`/`action`: a same-origin path (starting with one `/`) or an http(s) URL.
 * Anything else (`javascript:`, `data:`, `//evil`) becomes `#`.
 */
export function safeUrl(url: string): string {
  if (/^\/(?![/\\])/.test(url)) return url;
  try {
    const u = new URL(url);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.toString();
  } catch {
    // not a URL
  }
  return '#';
}

/** `/domains/<name>` with the name encoded as one path segment. */
export function domainPath(name: string): string {
  return `/domains/${encodeURIComponent(name)}`;
}

/** A query string from the entries that have a value (`?a=1&b=x%20y`, or empty). */
export function queryString(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
