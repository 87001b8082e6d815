import { format } from 'node:util';
import type { Registry } from 'prom-client';

export type LabelValues<T extends string> = Partial<Record<T, string | number>>;

/** One series; `set` returns it, so a caller can keep it (and remove it) without a key of its own. */
export interface Series {
  readonly gauge: FleetGauge;
  labels: Record<string, string | number>;
  value: number;
  /** `{a="x",b="y"}` as prom-client writes it for `labels` ('' without labels). */
  text: string;
  /** The label text in declared order (the same string as `text`, but for labels given in another order). */
  readonly key: string;
  /** Free for the caller's bookkeeping (MetricsService marks the series a check keeps). */
  mark: number;
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

  constructor(config: { name: string; help: string; labelNames: readonly T[]; registers?: Registry[] }) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(config.name)) throw new Error('Invalid metric name');
    for (const l of config.labelNames) if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(l) || l.startsWith('__')) throw new Error('Invalid label name');
    this.name = config.name;
    this.help = config.help;
    this.labelNames = [...config.labelNames];
    this.declared = new Set(config.labelNames);
    for (const r of config.registers ?? []) r.registerMetric(this as never);
  }

  set(labels: LabelValues<T>, value: number): Series {
    if (typeof value !== 'number') throw new TypeError(`Value is not a valid number: ${format(value)}`);
    const { key, text } = this.keyOf(labels as Record<string, string | number>);
    const s = this.series.get(key);
    if (!s) {
      const added: Series = { gauge: this as FleetGauge, labels: labels as Record<string, string | number>, value, text, key, mark: 0 };
      this.series.set(key, added);
      return added;
    }
    s.value = value;
    // Labels equal to the stored ones in the same order keep the stored object and text (and so
    // share their strings); only another order of the same labels changes what is written.
    if (s.text !== text) {
      s.text = text;
      s.labels = labels as Record<string, string | number>;
    }
    return s;
  }

  remove(labels: LabelValues<T>): void {
    this.series.delete(this.keyOf(labels as Record<string, string | number>).key);
  }

  /** Removes this series, if it is still the one its labels name (not removed and set anew since). */
  removeSeries(s: Series): void {
    if (this.series.get(s.key) === s) this.series.delete(s.key);
  }

  reset(): void {
    this.series = new Map();
  }

  get size(): number {
    return this.series.size;
  }

  /** The series in exposition order, each with its rendered label text (for metrics/exposition.ts). */
  entries(): IterableIterator<Readonly<Series>> {
    return this.series.values();
  }

  /** What prom-client's metrics return, for the registry's own serialisers and for tests. */
  get(): { name: string; help: string; type: 'gauge'; aggregator: 'sum'; values: Array<{ value: number; labels: Record<string, string | number> }> } {
    const values: Array<{ value: number; labels: Record<string, string | number> }> = [];
    for (const s of this.series.values()) values.push({ value: s.value, labels: s.labels });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /**
   * The key ignores the order of the labels (as prom-client's hash does): it is the label text in
   * declared order, without labels whose value is undefined. `text` follows the object's own
   * order and keeps undefined values, exactly as prom-client formats them.
   */
  private keyOf(labels: Record<string, string | number>): { key: string; text: string } {
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
