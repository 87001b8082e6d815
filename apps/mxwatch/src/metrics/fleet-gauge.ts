import { format } from 'node:util';
import type { Registry } from 'prom-client';

export type LabelValues<T extends string> = Partial<Record<T, string | number>>;

/**
 * A series' handle, as `set` returns it: its key, the label text in declared order, which is also
 * what the exposition writes (`{a="x",b="y"}`, '' without labels) whenever the labels came in
 * their declared order (always, from this code base). A gauge holds its series as key -> value
 * and nothing more (a gauge that keeps its rendering, key -> `PagedEntry`): at 10,000 domains an
 * object per series (its text, value, gauge and a mark) took 7.6 MB of the heap, and every full
 * GC marked the 135,000 of them.
 */
export type SeriesKey = string;

/** Series per page of a gauge that keeps its rendering (`keepRendered`). */
export const PAGE_SERIES = 64;

/**
 * A series of a gauge that keeps its rendering (`keepRendered`): its value and the page whose
 * bytes it is in, so that rendering a page reads its series without a lookup in the gauge's Map
 * (at 100,000 domains a page's lines rendered anew through lookups took 85-96 ms a scrape with 2 %
 * of the domains checked since the last one, against 57-59 ms).
 */
export class PagedEntry {
  constructor(
    readonly key: SeriesKey,
    public value: number,
    public page: Page | null = null,
  ) {}
}

/** A series' value as its gauge holds it (a bare number, or in its `PagedEntry`). */
function valueIn(v: number | PagedEntry): number {
  return typeof v === 'object' ? v.value : v;
}

/**
 * Consecutive series of a gauge (in exposition order) and their exposition lines as UTF-8, kept
 * until one of them changes, is removed, or a series is added to the page.
 */
export class Page {
  readonly series: PagedEntry[] = [];
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
 * per scrape. Here they sit in a Map from their key, the rendered label text, built when the
 * series is first set and reused by every scrape (metrics/exposition.ts), to their value.
 */
export class FleetGauge<T extends string = string> {
  readonly type = 'gauge';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly T[];
  private readonly declared: ReadonlySet<string>;
  /** Key -> value (a `PagedEntry` with `keepRendered`), in exposition order. */
  private series = new Map<SeriesKey, number | PagedEntry>();
  /**
   * The few series whose labels came in another order than declared: the text they write (as
   * prom-client would, in the order given) and their labels as given.
   */
  private unordered = new Map<SeriesKey, { text: string; labels: Record<string, string | number> }>();
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

  /** Sets the series these labels name; returns its key (the handle `removeSeries`, `valueOf` and `shows` take). */
  set(labels: LabelValues<T>, value: number): SeriesKey {
    if (typeof value !== 'number') throw new TypeError(`Value is not a valid number: ${format(value)}`);
    const { key, text } = this.keyAndText(labels as Record<string, string | number>);
    const had = this.series.get(key);
    if (had === undefined) {
      if (this.pages) this.paged(key, value);
      else this.series.set(key, value);
    } else if (typeof had === 'object') {
      // The same value (the common case: a provider's MX, asked about by every domain on it)
      // and the same text leave the kept bytes alone.
      const textChanged = key === text ? this.unordered.size > 0 && this.unordered.has(key) : this.unordered.get(key)?.text !== text;
      if (textChanged || !Object.is(had.value, value)) {
        had.value = value;
        had.page!.bytes = null;
      }
    } else if (!Object.is(had, value)) this.series.set(key, value);
    // Nearly always empty: no lookup for the series set in declared order (every one, from this code base).
    if (key === text) {
      if (this.unordered.size > 0) this.unordered.delete(key);
    } else this.unordered.set(key, { text, labels: { ...(labels as Record<string, string | number>) } });
    return key;
  }

  remove(labels: LabelValues<T>): void {
    this.removeSeries(this.keyAndText(labels as Record<string, string | number>).key);
  }

  /** Removes the series with this key, if there is one. */
  removeSeries(key: SeriesKey): void {
    const had = this.series.get(key);
    if (had === undefined) return;
    this.series.delete(key);
    this.unordered.delete(key);
    if (typeof had === 'object') {
      const page = had.page!;
      had.page = null;
      page.series.splice(page.series.indexOf(had), 1);
      page.bytes = null;
      if (page.series.length === 0) this.emptyPages++;
    }
  }

  /** The value of the series with this key (undefined when there is none). */
  valueOf(key: SeriesKey): number | undefined {
    const v = this.series.get(key);
    return v === undefined ? v : valueIn(v);
  }

  /** A new series, last in the last page (a new one when that is full). */
  private paged(key: SeriesKey, value: number): void {
    const pages = this.pages!;
    let last = pages[pages.length - 1];
    if (!last || last.series.length >= PAGE_SERIES) pages.push((last = new Page()));
    const entry = new PagedEntry(key, value, last);
    this.series.set(key, entry);
    last.series.push(entry);
    last.bytes = null;
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
    for (const entry of this.series.values() as IterableIterator<PagedEntry>) {
      if (!page || page.series.length >= PAGE_SERIES) pages.push((page = new Page()));
      page.series.push(entry);
      entry.page = page;
    }
    this.pages = pages;
    this.emptyPages = 0;
  }

  /**
   * Whether the series with this key is still in the gauge and `labels`, as given, would write
   * its text: what `set(labels, ...)` would find, checked without building the text (no
   * allocation). False whenever in doubt (a value that needs escaping, labels not in declared
   * order): the caller then sets the series the ordinary way.
   */
  shows(key: SeriesKey, labels: LabelValues<T>): boolean {
    if (this.unordered.has(key) || !this.series.has(key)) return false;
    const text = key;
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

  /** The text the series with this key writes: its key, but for labels set in another order. */
  textOf(key: SeriesKey): string {
    return this.unordered.size === 0 ? key : this.unordered.get(key)?.text ?? key;
  }

  /** The series' labels, read back from its key (as given, for labels set in another order). */
  labelsOf(key: SeriesKey): Record<string, string | number> {
    const given = this.unordered.get(key);
    if (given) return given.labels;
    const labels: Record<string, string> = {};
    // `{a="x",b="y"}`: values are escaped (labelValueText), so a quote ends one only when unescaped.
    for (const m of key.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
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

  /** The series in exposition order, as [text, value] (for metrics/exposition.ts). */
  entries(): Iterable<[string, number]> {
    if (!this.pages && this.unordered.size === 0) return this.series.entries() as IterableIterator<[string, number]>;
    return [...this.series].map(([key, v]): [string, number] => [this.textOf(key), valueIn(v)]);
  }

  /** What prom-client's metrics return, for the registry's own serialisers and for tests. */
  get(): { name: string; help: string; type: 'gauge'; aggregator: 'sum'; values: Array<{ value: number; labels: Record<string, string | number> }> } {
    const values: Array<{ value: number; labels: Record<string, string | number> }> = [];
    for (const [key, v] of this.series) values.push({ value: valueIn(v), labels: this.labelsOf(key) });
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
