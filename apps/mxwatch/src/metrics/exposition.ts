import { Counter, Gauge, Registry } from 'prom-client';
import { FleetGauge, labelValueText } from './fleet-gauge.js';

interface ExportedValue {
  value: number;
  labels?: Record<string, string | number>;
  metricName?: string;
  sharedLabels?: Record<string, string | number>;
}

interface ExportedMetric {
  name: string;
  help: string;
  type: string;
  values?: ExportedValue[];
}

interface Collectable {
  get(): Promise<ExportedMetric> | ExportedMetric;
  getForPromString?(): Promise<ExportedMetric> | ExportedMetric;
}

const lastSize = new WeakMap<Registry, number>();

function escapeText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function valueText(v: number): string {
  if (Number.isNaN(v)) return 'Nan';
  if (!Number.isFinite(v)) return v < 0 ? '-Inf' : '+Inf';
  return `${v}`;
}

/**
 * UTF-8 output built in small text chunks: no string of the whole exposition and no long-lived
 * pieces of it ever exist on the JS heap, so a scrape leaves only short-lived garbage behind.
 */
class Output {
  private buf: Buffer;
  private len = 0;
  private pending = '';

  constructor(expectedBytes: number) {
    this.buf = Buffer.allocUnsafe(Math.max(1 << 16, expectedBytes));
  }

  add(text: string): void {
    this.pending += text;
    if (this.pending.length >= 1 << 16) this.flush();
  }

  bytes(): Buffer {
    this.flush();
    return this.buf.subarray(0, this.len);
  }

  private flush(): void {
    if (!this.pending) return;
    // A UTF-16 code unit never takes more than 3 bytes of UTF-8.
    const need = this.len + this.pending.length * 3;
    if (need > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    this.len += this.buf.write(this.pending, this.len, 'utf8');
    this.pending = '';
  }
}

function addLabels(out: Output, labels: Record<string, string | number>, exclude: Record<string, unknown> | undefined, first: boolean): boolean {
  for (const name in labels) {
    if (exclude && Object.prototype.hasOwnProperty.call(exclude, name)) continue;
    out.add(`${first ? '{' : ','}${name}="${labelValueText(labels[name])}"`);
    first = false;
  }
  return first;
}

interface DirectStore {
  name: string;
  help: string;
  type: string;
  hashMap: Record<string, ExportedValue>;
}

/**
 * A gauge or counter whose series can be read straight from prom-client's store (`hashMap`, what
 * its `get()` copies with Object.values): copying a dictionary of tens of thousands of series
 * into an array was a third of a scrape. Metrics with a collect callback, histograms and
 * anything unexpected go through `get()`; the spec holds the output to prom-client's own.
 */
function directStore(metric: unknown): DirectStore | null {
  if (!(metric instanceof Gauge || metric instanceof Counter)) return null;
  const m = metric as unknown as Partial<DirectStore> & { collect?: unknown };
  if (m.collect || typeof m.hashMap !== 'object' || m.hashMap === null) return null;
  return m as DirectStore;
}

function addSeries(out: Output, name: string, v: ExportedValue): void {
  out.add(`\n${v.metricName ?? name}`);
  let none = addLabels(out, v.labels ?? {}, v.sharedLabels, true);
  if (v.sharedLabels) none = addLabels(out, v.sharedLabels, undefined, none);
  // prom-client leaves the braces out when there is no label at all.
  out.add(`${none ? '' : '}'} ${valueText(v.value)}`);
}

async function render(out: Output, metric: Collectable): Promise<void> {
  if (metric instanceof FleetGauge) {
    const name = escapeText(metric.name);
    out.add(`# HELP ${name} ${escapeText(metric.help)}\n# TYPE ${name} gauge`);
    // Each series' label text was rendered when it was set.
    for (const s of metric.entries()) out.add(`\n${name}${s.text} ${valueText(s.value)}`);
    return;
  }
  const direct = directStore(metric);
  const data = direct ?? (await (metric.getForPromString ? metric.getForPromString() : metric.get()));
  const name = escapeText(data.name);
  out.add(`# HELP ${name} ${escapeText(data.help)}\n# TYPE ${name} ${data.type}`);
  if (direct) {
    const series = direct.hashMap;
    for (const key in series) addSeries(out, name, series[key]!);
  } else {
    for (const v of (data as ExportedMetric).values ?? []) addSeries(out, name, v);
  }
}

/**
 * The Prometheus text exposition of a registry without default labels: the same bytes as
 * `registry.metrics()`, as UTF-8. prom-client builds several arrays and strings per series and
 * then one string of the whole; with a fleet's ~100,000 per-domain series a scrape took most of
 * a second, much of it in garbage collection of those pieces. Any other content type is left to
 * prom-client.
 */
export async function renderPrometheusText(registry: Registry): Promise<Buffer> {
  if (registry.contentType !== Registry.PROMETHEUS_CONTENT_TYPE) return Buffer.from(await registry.metrics(), 'utf8');
  // Sized after the previous scrape of this registry, so a large one is not copied while it grows.
  const out = new Output(Math.ceil((lastSize.get(registry) ?? 0) * 1.1));
  const metrics = registry.getMetricsAsArray() as unknown as Collectable[];
  for (let i = 0; i < metrics.length; i++) {
    if (i > 0) out.add('\n\n');
    await render(out, metrics[i]!);
  }
  out.add('\n');
  const bytes = out.bytes();
  lastSize.set(registry, bytes.length);
  return bytes;
}
