import { format } from 'node:util';
import type { Registry } from 'prom-client';

export type LabelValues<T extends string> = Partial<Record<T, string | number>>;

/**
 * One series; `set` returns it, so a caller can keep it (and remove it) without a key of its own.
 * It holds only its label text and value: its labels are read back from the text when asked for
 * (`get()`, tests), and its key is the text itself whenever the labels came in their declared
 * order (always, from this code base). At 100,000 domains a labels object and a key per series
 * took 150 MB.
 */
export class Series {
  /** Free for the caller's bookkeeping (MetricsService marks the series a check keeps). */
  mark = 0;
  constructor(
    readonly gauge: FleetGauge,
    /** `{a="x",b="y"}` as prom-client writes it for the labels ('' without labels). */
    public text: string,
    public value: number,
  ) {}

  /** The labels as set (label values given as numbers read back as strings). */
  get labels(): Record<string, string | number> {
    return this.gauge.labelsOf(this);
  }

  /** The label text in declared order (the same string as `text`, but for labels given in another order). */
  get key(): string {
    return this.gauge.keyOf(this);
  }
}

/** A series of a gauge that keeps its rendering: it knows the page whose bytes it is in. */
class PagedSeries extends Series {
  page: Page | null = null;
}

/** Series per page of a gauge that keeps its rendering (`keepRendered`). */
export const PAGE_SERIES = 64;

/**
 * Consecutive series of a gauge (in exposition order) and their exposition lines as UTF-8, kept
 * until one of them changes, is removed, or a series is added to the page.
 */
export class Page {
  readonly series: Series[] = [];
  bytes: Buffer | null = null;
}

const NEEDS_ESCAPE = /[\\\n"]/;

/** `{a="x",b="y"}` from `a="x",b="y",` in parts ('' for none), as one flat string. */
function braced(parts: string[]): string {
  if (parts.length === 0) return '';
  parts[0] = `{${parts[0]}`;
  parts[parts.length - 1] = '"}';
  return parts.join('');
}

/** A label value as prom-client writes it (backslash, newline and double quote escaped). */
export function labelValueText(v: unknown): string {
  if (typeof v !== 'string') return `${v}`;
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/**
 * A labelled gauge with prom-client's Gauge API (`set`, `remove`, `reset`, `get`), its output
 * and its series order (insertion order; a series set again keeps its place, one removed and set
 * again goes last), for the fleet's per-domain and per-host series. prom-client keeps series in
 * an object keyed by a label hash: with ~100,000 of them the object is a dictionary whose keys
 * every scrape had to enumerate (and V8 sorts them), and each series' label text was built anew
 * per scrape. Here they sit in a Map, and each keeps its rendered label text, built when it is
 * set and reused by every scrape (metrics/exposition.ts) until it changes. That text is also the
 * series' key whenever the labels come in their declared order (always, from this code base), so
 * it costs no memory beyond the hash string prom-client kept.
 */
export class FleetGauge<T extends string = string> {
  readonly type = 'gauge';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly T[];
  private readonly declared: ReadonlySet<string>;
  private series = new Map<string, Series>();
  /** The few series whose labels came in another order than declared: their key and labels as given. */
  private unordered = new Map<Series, { key: string; labels: Record<string, string | number> }>();
  /**
   * With `keepRendered`: the series in exposition order, a page at a time, each page with its
   * rendered bytes. Pages emptied by removals stay until the next `pagesToRender`.
   */
  private pages: Page[] | null = null;
  private emptyPages = 0;
  /** Pages rendered anew (their bytes were not kept): for tests and benchmarks. */
  pagesRendered = 0;

  constructor(config: { name: string; help: string; labelNames: readonly T[]; registers?: Registry[] }) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(config.name)) throw new Error('Invalid metric name');
    for (const l of config.labelNames) if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(l) || l.startsWith('__')) throw new Error('Invalid label name');
    this.name = config.name;
    this.help = config.help;
    this.labelNames = [...config.labelNames];
    this.declared = new Set(config.labelNames);
    for (const r of config.registers ?? []) r.registerMetric(this as never);
  }

  /**
   * Keeps each page of series' rendered bytes from one scrape to the next (metrics/exposition.ts):
   * only pages with a series set to another value, added or removed are rendered again. For a
   * process whose job is answering scrapes of a large fleet (an api replica): at rest a scrape
   * writes kept bytes, and between two scrapes of a busy fleet most pages are unchanged. The
   * bytes cost memory about the size of the exposition. Only on an empty gauge.
   */
  keepRendered(): void {
    if (this.series.size > 0) throw new Error(`bug: ${this.name} has series already`);
    this.pages ??= [];
  }

  set(labels: LabelValues<T>, value: number): Series {
    if (typeof value !== 'number') throw new TypeError(`Value is not a valid number: ${format(value)}`);
    const { key, text } = this.keyAndText(labels as Record<string, string | number>);
    let s = this.series.get(key);
    if (s) {
      if (this.pages && (s.value !== value || s.text !== text)) (s as PagedSeries).page!.bytes = null;
      s.value = value;
      // Labels equal to the stored ones in the same order keep the stored text (and so share its
      // string); only another order of the same labels changes what is written.
      if (s.text === text) return s;
      s.text = text;
    } else {
      s = this.pages ? this.paged(text, value) : new Series(this as FleetGauge, text, value);
      this.series.set(key, s);
    }
    if (key === text) this.unordered.delete(s);
    else this.unordered.set(s, { key, labels: { ...(labels as Record<string, string | number>) } });
    return s;
  }

  remove(labels: LabelValues<T>): void {
    const key = this.keyAndText(labels as Record<string, string | number>).key;
    const s = this.series.get(key);
    if (s) this.drop(key, s);
  }

  /** Removes this series, if it is still the one its labels name (not removed and set anew since). */
  removeSeries(s: Series): void {
    const key = this.keyOf(s);
    if (this.series.get(key) === s) this.drop(key, s);
  }

  private drop(key: string, s: Series): void {
    this.series.delete(key);
    this.unordered.delete(s);
    if (this.pages) {
      const page = (s as PagedSeries).page!;
      (s as PagedSeries).page = null;
      page.series.splice(page.series.indexOf(s), 1);
      page.bytes = null;
      if (page.series.length === 0) this.emptyPages++;
    }
  }

  /** A new series, last in the last page (a new one when that is full). */
  private paged(text: string, value: number): Series {
    const s = new PagedSeries(this as FleetGauge, text, value);
    const pages = this.pages!;
    let last = pages[pages.length - 1];
    if (!last || last.series.length >= PAGE_SERIES) pages.push((last = new Page()));
    last.series.push(s);
    last.bytes = null;
    s.page = last;
    return s;
  }

  /**
   * The pages in exposition order (emptied ones dropped), when this gauge keeps its rendering
   * (`keepRendered`); null otherwise. A page's `bytes` are null when it has to be rendered again.
   */
  pagesToRender(): readonly Page[] | null {
    if (!this.pages) return null;
    // New arrays: a scrape still writing the old one is not disturbed.
    if (this.pages.length > 2 * Math.ceil(this.series.size / PAGE_SERIES) + 16) this.repage();
    else if (this.emptyPages > 0) {
      this.pages = this.pages.filter((p) => p.series.length > 0);
      this.emptyPages = 0;
    }
    return this.pages;
  }

  /**
   * Full pages again, in the Map's order (the exposition order), all to be rendered once: series
   * removed here and there over a long run leave pages that are mostly empty, each one object,
   * array and buffer more than needed.
   */
  private repage(): void {
    const pages: Page[] = [];
    let page: Page | undefined;
    for (const s of this.series.values()) {
      if (!page || page.series.length >= PAGE_SERIES) pages.push((page = new Page()));
      page.series.push(s);
      (s as PagedSeries).page = page;
    }
    this.pages = pages;
    this.emptyPages = 0;
  }

  /**
   * Whether `s` is still this gauge's series and `labels`, as given, would write its text: what
   * `set(labels, ...)` would find, checked without building the text (no allocation). False
   * whenever in doubt (a value that needs escaping, labels not in declared order): the caller
   * then sets the series the ordinary way.
   */
  shows(s: Series, labels: LabelValues<T>): boolean {
    if (this.unordered.has(s) || this.series.get(s.text) !== s) return false;
    const text = s.text;
    let at = 0;
    let first = true;
    for (const name in labels) {
      const v = (labels as Record<string, unknown>)[name];
      if (typeof v !== 'string' || NEEDS_ESCAPE.test(v)) return false;
      if (first) {
        if (text.charCodeAt(0) !== 123 /* { */) return false;
        at = 1;
        first = false;
      } else {
        if (text.charCodeAt(at) !== 44 /* , */) return false;
        at += 1;
      }
      if (!text.startsWith(name, at)) return false;
      at += name.length;
      if (text.charCodeAt(at) !== 61 /* = */ || text.charCodeAt(at + 1) !== 34 /* " */) return false;
      at += 2;
      if (!text.startsWith(v, at)) return false;
      at += v.length;
      if (text.charCodeAt(at) !== 34 /* " */) return false;
      at += 1;
    }
    if (first) return text === '';
    return at === text.length - 1 && text.charCodeAt(at) === 125 /* } */;
  }

  /** The series' key: its label text in declared order. */
  keyOf(s: Series): string {
    return this.unordered.get(s)?.key ?? s.text;
  }

  /** The series' labels, read back from its text (as given, for labels set in another order). */
  labelsOf(s: Series): Record<string, string | number> {
    const given = this.unordered.get(s);
    if (given) return given.labels;
    const labels: Record<string, string> = {};
    // `{a="x",b="y"}`: values are escaped (labelValueText), so a quote ends one only when unescaped.
    for (const m of s.text.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    return labels;
  }

  reset(): void {
    this.series = new Map();
    this.unordered = new Map();
    if (this.pages) {
      this.pages = [];
      this.emptyPages = 0;
    }
  }

  get size(): number {
    return this.series.size;
  }

  /** The series in exposition order, each with its rendered label text (for metrics/exposition.ts). */
  entries(): IterableIterator<Series> {
    return this.series.values();
  }

  /** What prom-client's metrics return, for the registry's own serialisers and for tests. */
  get(): { name: string; help: string; type: 'gauge'; aggregator: 'sum'; values: Array<{ value: number; labels: Record<string, string | number> }> } {
    const values: Array<{ value: number; labels: Record<string, string | number> }> = [];
    for (const s of this.series.values()) values.push({ value: s.value, labels: this.labelsOf(s) });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /**
   * The key ignores the order of the labels (as prom-client's hash does): it is the label text in
   * declared order, without labels whose value is undefined. `text` follows the object's own
   * order and keeps undefined values, exactly as prom-client formats them.
   */
  private keyAndText(labels: Record<string, string | number>): { key: string; text: string } {
    // Joined, not concatenated: `+=` leaves a tree of cons strings behind every stored series.
    const parts: string[] = [];
    let declaredOrder = true;
    let next = 0;
    for (const name in labels) {
      if (!this.declared.has(name)) throw new Error(`Added label "${name}" is not included in initial labelset: ${format(this.labelNames)}`);
      const v = labels[name];
      if (v === undefined) declaredOrder = false;
      else if (declaredOrder) {
        while (next < this.labelNames.length && this.labelNames[next] !== name) next++;
        if (next === this.labelNames.length) declaredOrder = false;
        else next++;
      }
      parts.push(name, '="', labelValueText(v), '",');
    }
    const text = braced(parts);
    if (declaredOrder) return { key: text, text };
    parts.length = 0;
    for (const name of this.labelNames) {
      const v = labels[name];
      if (v !== undefined) parts.push(name, '="', labelValueText(v), '",');
    }
    return { key: braced(parts), text };
  }
}
