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

function escapeText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function valueText(v: number): string {
  if (Number.isNaN(v)) return 'Nan';
  if (!Number.isFinite(v)) return v < 0 ? '-Inf' : '+Inf';
  return `${v}`;
}

/**
 * Where a rendering goes: `write` returns false when the reader is behind, `drained` waits for it.
 * A sink that calls `written` once it no longer needs the chunk's bytes (an HTTP response's write
 * callback) lets the renderer reuse the chunk's memory; one that never calls it keeps the chunk.
 */
export interface ExpositionSink {
  write(chunk: Buffer, written?: () => void): boolean;
  drained(): Promise<void>;
}

/** Text is turned into UTF-8 chunks of about this many characters. */
const CHUNK_CHARS = 1 << 16;
/** A chunk is handed to the sink once it holds this many bytes. */
const CHUNK_BYTES = 1 << 16;
/** Pooled chunk buffers: room for CHUNK_CHARS and the line that filled it, at 3 bytes a character. */
const POOLED_BYTES = 1 << 18;
/** Buffers kept between scrapes (a scrape uses a few: the sink hands each back once it was sent). */
const POOL_MAX = 8;
const pool: Buffer[] = [];

/**
 * UTF-8 output in chunks of ~64 KB handed to the sink as they fill: no string or buffer of the
 * whole exposition ever exists. A 10 MB buffer per scrape (a fleet of 10,000 domains) left
 * 40-70 MB of RSS behind in malloc's arenas and V8's heap after a few scrapes. The chunks' buffers
 * come from a small pool and go back to it once sent: a new Buffer per chunk counted as external
 * memory, 94 MB per scrape at 100,000 domains, and external memory growing that fast makes V8
 * collect the whole heap. Text is gathered into a string and encoded into the chunk; bytes kept
 * from an earlier scrape (`addBytes`) are copied into it.
 */
class Output {
  private pending = '';
  private chunk: Buffer | null = null;
  private used = 0;
  /** The sink asked to wait; the renderer awaits `drain()` at its next series. */
  blocked = false;

  constructor(private readonly sink: ExpositionSink) {}

  add(text: string): void {
    this.pending += text;
    if (this.pending.length >= CHUNK_CHARS) this.encode();
  }

  addBytes(bytes: Buffer): void {
    if (this.pending) this.encode();
    if (bytes.length > CHUNK_BYTES) {
      this.emit();
      this.send(bytes);
      return;
    }
    if (this.used + bytes.length > POOLED_BYTES) this.emit();
    bytes.copy(this.room(), this.used);
    this.used += bytes.length;
    if (this.used >= CHUNK_BYTES) this.emit();
  }

  async drain(): Promise<void> {
    this.blocked = false;
    await this.sink.drained();
  }

  flush(): void {
    if (this.pending) this.encode();
    this.emit();
  }

  private room(): Buffer {
    return (this.chunk ??= pool.pop() ?? Buffer.allocUnsafeSlow(POOLED_BYTES));
  }

  private encode(): void {
    const text = this.pending;
    this.pending = '';
    if (this.used + text.length * 3 > POOLED_BYTES) {
      this.emit();
      if (text.length * 3 > POOLED_BYTES) {
        this.send(Buffer.from(text, 'utf8'));
        return;
      }
    }
    this.used += this.room().write(text, this.used, 'utf8');
    if (this.used >= CHUNK_BYTES) this.emit();
  }

  /** The chunk so far to the sink; its buffer goes back to the pool once the sink sent it. */
  private emit(): void {
    const buffer = this.chunk;
    if (!buffer || this.used === 0) return;
    const bytes = this.used;
    this.chunk = null;
    this.used = 0;
    let back = false;
    this.send(buffer.subarray(0, bytes), () => {
      if (back) return;
      back = true;
      if (pool.length < POOL_MAX) pool.push(buffer);
    });
  }

  private send(bytes: Buffer, written?: () => void): void {
    if (!this.sink.write(bytes, written)) this.blocked = true;
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
    const pages = metric.pagesToRender();
    if (pages) {
      // Kept bytes for the pages nothing changed in since the last scrape.
      for (let i = 0; i < pages.length; i++) {
        const page = pages[i]!;
        if (!page.bytes) {
          if (page.series.length === 0) continue;
          let text = '';
          for (const e of page.series) text += `\n${name}${metric.textOf(e.key)} ${valueText(e.value)}`;
          const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8'));
          bytes.write(text, 0, 'utf8');
          page.bytes = bytes;
          metric.pagesRendered++;
        }
        out.addBytes(page.bytes);
        if (out.blocked) await out.drain();
      }
      return;
    }
    // Each series' label text was rendered when it was set.
    for (const [text, value] of metric.entries()) {
      out.add(`\n${name}${text} ${valueText(value)}`);
      if (out.blocked) await out.drain();
    }
    return;
  }
  const direct = directStore(metric);
  const data = direct ?? (await (metric.getForPromString ? metric.getForPromString() : metric.get()));
  const name = escapeText(data.name);
  out.add(`# HELP ${name} ${escapeText(data.help)}\n# TYPE ${name} ${data.type}`);
  if (direct) {
    const series = direct.hashMap;
    for (const key in series) {
      addSeries(out, name, series[key]!);
      if (out.blocked) await out.drain();
    }
  } else {
    for (const v of (data as ExportedMetric).values ?? []) {
      addSeries(out, name, v);
      if (out.blocked) await out.drain();
    }
  }
}

/**
 * Writes the Prometheus text exposition of a registry without default labels to `sink`: the same
 * bytes as `registry.metrics()`, as UTF-8, in chunks, waiting for the sink when it is behind.
 * prom-client builds several arrays and strings per series and then one string of the whole; with
 * a fleet's ~100,000 per-domain series a scrape took most of a second, much of it in garbage
 * collection of those pieces. Any other content type is left to prom-client. Series set or
 * removed while the rendering waits for the sink show as they are when their turn comes.
 */
export async function writePrometheusText(registry: Registry, sink: ExpositionSink): Promise<void> {
  if (registry.contentType !== Registry.PROMETHEUS_CONTENT_TYPE) {
    sink.write(Buffer.from(await registry.metrics(), 'utf8'));
    return;
  }
  const out = new Output(sink);
  const metrics = registry.getMetricsAsArray() as unknown as Collectable[];
  for (let i = 0; i < metrics.length; i++) {
    if (i > 0) out.add('\n\n');
    await render(out, metrics[i]!);
  }
  out.add('\n');
  out.flush();
}

/** The whole exposition as one buffer (tests, benchmarks); the service streams it (writePrometheusText). */
export async function renderPrometheusText(registry: Registry): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await writePrometheusText(registry, {
    write: (c, written) => {
      chunks.push(Buffer.from(c));
      written?.();
      return true;
    },
    drained: async () => {},
  });
  return Buffer.concat(chunks);
}
