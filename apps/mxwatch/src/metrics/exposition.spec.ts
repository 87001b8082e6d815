import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { renderPrometheusText, writePrometheusText } from './exposition.js';
import { FleetGauge, PAGE_SERIES } from './fleet-gauge.js';

function fleetRegistry(domains: number): Registry {
  const registry = new Registry();
  const r = [registry];
  const success = new Gauge({ name: 'x_probe_success', help: 'Help with a \\ backslash\nand a newline', labelNames: ['domain', 'probe'] as const, registers: r });
  const info = new Gauge({ name: 'x_domain_mx_info', help: 'info', labelNames: ['domain', 'mx', 'preference'] as const, registers: r });
  const runs = new Counter({ name: 'x_runs_total', help: 'runs', labelNames: ['status'] as const, registers: r });
  const duration = new Histogram({ name: 'x_duration_seconds', help: 'duration', labelNames: ['probe'] as const, buckets: [0.1, 1, 10], registers: r });
  const plain = new Histogram({ name: 'x_check_seconds', help: 'no labels', buckets: [1, 5], registers: r });
  new Gauge({ name: 'x_empty', help: 'never set', labelNames: ['a'] as const, registers: r });
  const special = new Gauge({ name: 'x_special', help: 'special values', labelNames: ['k'] as const, registers: r });
  new Gauge({
    name: 'x_collected',
    help: 'set by a collect callback',
    registers: r,
    collect() {
      this.set(42);
    },
  });
  new Gauge({ name: 'x_lonely', help: 'no labels', registers: r }).set(3);
  new Counter({ name: 'x_plain_total', help: 'counter without labels', registers: r }).inc();
  for (let i = 0; i < domains; i++) {
    const domain = `d${i}.example`;
    for (const probe of ['mx', 'smtp']) success.set({ domain, probe }, i % 2);
    info.set({ domain, mx: `mx${i % 3}.example`, preference: String(10 * (i % 3)) }, 1);
  }
  success.set({ domain: 'odd "quoted" \\ name\nwith newline', probe: 'mx' }, 0.5);
  success.set({ domain: 'bücher.example ✉', probe: 'mx' }, 1);
  runs.inc({ status: 'pass' }, 3);
  duration.observe({ probe: 'mx' }, 0.05);
  duration.observe({ probe: 'smtp' }, 4);
  plain.observe(2);
  special.set({ k: 'nan' }, NaN);
  special.set({ k: 'inf' }, Infinity);
  special.set({ k: '-inf' }, -Infinity);
  special.set({ k: 'small' }, 1e-7);
  return registry;
}

/** A FleetGauge that keeps its rendering in `ours`, and prom-client's Gauge of the same name in `theirs`. */
function keptBeside(ours: Registry, theirs: Registry, name: string) {
  const labelNames = ['domain', 'probe'] as const;
  const fleet = new FleetGauge({ name, help: name, labelNames, registers: [ours] });
  fleet.keepRendered();
  return { fleet, gauge: new Gauge({ name, help: name, labelNames, registers: [theirs] }) };
}

describe(renderPrometheusText.name, () => {
  it('should write exactly what prom-client writes', async () => {
    const registry = fleetRegistry(50);
    expect((await renderPrometheusText(registry)).toString('utf8')).toBe(await registry.metrics());
  });

  it('should write series beyond its first output buffer', async () => {
    const registry = fleetRegistry(20_000);
    const bytes = await renderPrometheusText(registry);
    expect(bytes.length).toBeGreaterThan(2 << 20);
    expect(bytes.toString('utf8')).toBe(await registry.metrics());
  });

  it('should stream in bounded chunks, waiting each time the reader is behind, with the same bytes', async () => {
    const registry = fleetRegistry(20_000);
    const chunks: Buffer[] = [];
    let waits = 0;
    let waiting = false;
    await writePrometheusText(registry, {
      write(chunk) {
        // Nothing may be written while the renderer was told to wait.
        expect(waiting).toBe(false);
        chunks.push(chunk);
        return chunks.length % 2 === 0;
      },
      async drained() {
        waits++;
        waiting = true;
        await new Promise((r) => setTimeout(r, 1));
        waiting = false;
      },
    });
    expect(chunks.length).toBeGreaterThan(20);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThan(256 * 1024);
    expect(waits).toBeGreaterThanOrEqual(Math.floor(chunks.length / 2) - 1);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(await registry.metrics());
  });

  it('should reuse the buffer of a chunk only once the sink says it was sent', async () => {
    const registry = fleetRegistry(20_000);
    const expected = await registry.metrics();
    // Sent at once: the same few buffers carry every chunk.
    const copies: Buffer[] = [];
    const buffers = new Set<ArrayBufferLike>();
    await writePrometheusText(registry, {
      write(chunk, written) {
        buffers.add(chunk.buffer);
        copies.push(Buffer.from(chunk));
        written?.();
        return true;
      },
      drained: async () => {},
    });
    expect(Buffer.concat(copies).toString('utf8')).toBe(expected);
    expect(copies.length).toBeGreaterThan(20);
    expect(buffers.size).toBeLessThan(copies.length / 4);
    // Sent only at the end: no chunk's bytes may be overwritten before then.
    const views: Buffer[] = [];
    const later: Array<() => void> = [];
    await writePrometheusText(registry, {
      write(chunk, written) {
        views.push(chunk);
        if (written) later.push(written);
        return true;
      },
      drained: async () => {},
    });
    expect(Buffer.concat(views).toString('utf8')).toBe(expected);
    for (const w of later) w();
  });

  it('should write a FleetGauge exactly as prom-client writes a Gauge after the same operations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const labelNames = ['domain', 'probe', 'extra'] as const;
    const a = new FleetGauge({ name: 'x_fleet', help: 'fleet \\ help\nsecond line', labelNames, registers: [ours] });
    const b = new Gauge({ name: 'x_fleet', help: 'fleet \\ help\nsecond line', labelNames, registers: [theirs] });
    const both = (f: (g: { set(l: object, v: number): void; remove(l: object): void }) => void) => {
      f(a as never);
      f(b as never);
    };
    both((g) => {
      for (let i = 0; i < 300; i++) g.set({ domain: `d${i}.example`, probe: 'mx' }, i % 3);
      // Set again (keeps its place), removed and set again (goes last), labels in another order.
      g.set({ domain: 'd5.example', probe: 'mx' }, 42);
      g.remove({ domain: 'd7.example', probe: 'mx' });
      g.set({ domain: 'd7.example', probe: 'mx' }, 7);
      g.set({ probe: 'mx', domain: 'd9.example' }, 9);
      g.remove({ probe: 'mx', domain: 'd11.example' });
      // A label left out, escaping, numbers as label values, special values.
      g.set({ domain: 'partial.example' }, 1);
      g.set({ domain: 'odd "quoted" \\ name\nline', probe: 'mx', extra: 3 }, 0.5);
      g.set({ domain: 'bücher.example ✉', probe: 'smtp' }, NaN);
      g.set({ domain: 'inf.example', probe: 'smtp' }, Infinity);
      g.set({ domain: 'ninf.example', probe: 'smtp' }, -Infinity);
      g.set({ domain: 'small.example', probe: 'smtp' }, 1e-7);
    });
    new FleetGauge({ name: 'x_fleet_empty', help: 'never set', labelNames: ['a'], registers: [ours] });
    new Gauge({ name: 'x_fleet_empty', help: 'never set', labelNames: ['a'], registers: [theirs] });
    const expected = await theirs.metrics();
    expect((await renderPrometheusText(ours)).toString('utf8')).toBe(expected);
    // prom-client's own serialiser reads a FleetGauge through get() to the same text.
    expect(await ours.metrics()).toBe(expected);
    // get() reads the labels back from the series' text; values given as numbers come back as strings.
    const asStrings = (values: Array<{ value: number; labels: object }>) =>
      values.map((v) => ({ value: v.value, labels: Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, x === undefined ? x : String(x)])) }));
    expect(asStrings(a.get().values)).toEqual(asStrings((await b.get()).values));

    a.reset();
    b.reset();
    a.set({ domain: 'after.reset', probe: 'mx' }, 1);
    b.set({ domain: 'after.reset', probe: 'mx' }, 1);
    expect((await renderPrometheusText(ours)).toString('utf8')).toBe(await theirs.metrics());
  });

  it('should write the kept pages of a FleetGauge that keeps its rendering, rendering again only pages that changed', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const { fleet: a, gauge: b } = keptBeside(ours, theirs, 'x_kept');
    const both = (f: (g: { set(l: object, v: number): void; remove(l: object): void; reset(): void }) => void) => {
      f(a as never);
      f(b as never);
    };
    const same = async () => expect((await renderPrometheusText(ours)).toString('utf8')).toBe(await theirs.metrics());
    both((g) => {
      for (let i = 0; i < 300; i++) g.set({ domain: `d${i}.example`, probe: 'mx' }, i % 3);
    });
    await same();
    const pages = Math.ceil(300 / PAGE_SERIES);
    expect(a.pagesRendered).toBe(pages);
    // Nothing changed, or a series set again to the value it has: every page's bytes are kept.
    await same();
    both((g) => g.set({ domain: 'd5.example', probe: 'mx' }, 5 % 3));
    await same();
    expect(a.pagesRendered).toBe(pages);
    // Another value: its page alone is rendered again.
    both((g) => g.set({ domain: 'd5.example', probe: 'mx' }, 42));
    await same();
    expect(a.pagesRendered).toBe(pages + 1);
    // Removed, removed and set again (goes last), labels in another order, escaping, special values.
    both((g) => {
      g.remove({ domain: 'd70.example', probe: 'mx' });
      g.remove({ domain: 'd7.example', probe: 'mx' });
      g.set({ domain: 'd7.example', probe: 'mx' }, 7);
      g.set({ probe: 'mx', domain: 'd9.example' }, 9);
      g.set({ domain: 'odd "quoted" \\ name\nline', probe: 'mx' }, NaN);
      g.set({ domain: 'bücher.example ✉', probe: 'smtp' }, -Infinity);
    });
    await same();
    // A whole page emptied, then new series after it.
    both((g) => {
      for (let i = 128; i < 128 + PAGE_SERIES; i++) g.remove({ domain: `d${i}.example`, probe: 'mx' });
      for (let i = 0; i < 100; i++) g.set({ domain: `new${i}.example`, probe: 'smtp' }, i);
    });
    await same();
    both((g) => g.reset());
    await same();
    both((g) => g.set({ domain: 'after.reset', probe: 'mx' }, 1));
    await same();
    expect(() => a.keepRendered()).toThrow(/has series already/);
  });

  it('should put the series of mostly empty pages back into full pages, in the same order', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const { fleet: a, gauge: b } = keptBeside(ours, theirs, 'x_sparse');
    const pages = 40;
    for (let i = 0; i < pages * PAGE_SERIES; i++) for (const g of [a, b]) g.set({ domain: `d${i}.example`, probe: 'mx' }, i);
    await renderPrometheusText(ours);
    // One series left per page, and one page emptied: more pages than the series need.
    for (let i = 0; i < pages * PAGE_SERIES; i++) if (i % PAGE_SERIES !== 7 || i < PAGE_SERIES) for (const g of [a, b]) g.remove({ domain: `d${i}.example`, probe: 'mx' });
    for (const g of [a, b]) g.set({ domain: 'late.example', probe: 'mx' }, 1);
    expect((await renderPrometheusText(ours)).toString('utf8')).toBe(await theirs.metrics());
    expect(a.pagesToRender()).toHaveLength(1);
    for (const g of [a, b]) g.set({ domain: 'd71.example', probe: 'mx' }, 0.5);
    expect((await renderPrometheusText(ours)).toString('utf8')).toBe(await theirs.metrics());
  });

  it('should stream kept pages and text in bounded chunks, waiting for the reader, with the same bytes', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const { fleet: kept, gauge: k } = keptBeside(ours, theirs, 'x_kept');
    const plain = new FleetGauge({ name: 'x_plain', help: 'plain', labelNames: ['domain', 'probe'], registers: [ours] });
    const p = new Gauge({ name: 'x_plain', help: 'plain', labelNames: ['domain', 'probe'], registers: [theirs] });
    for (let i = 0; i < 20_000; i++) {
      const labels = { domain: `${'long-name-'.repeat(i % 7)}d${i}.example`, probe: 'mx' };
      kept.set(labels, i);
      k.set(labels, i);
      plain.set(labels, i);
      p.set(labels, i);
    }
    const expected = await theirs.metrics();
    for (let pass = 0; pass < 2; pass++) {
      const chunks: Buffer[] = [];
      let waiting = false;
      await writePrometheusText(ours, {
        write(chunk, written) {
          expect(waiting).toBe(false);
          chunks.push(Buffer.from(chunk));
          written?.();
          return chunks.length % 3 !== 0;
        },
        async drained() {
          waiting = true;
          await new Promise((r) => setTimeout(r, 1));
          waiting = false;
        },
      });
      expect(Math.max(...chunks.map((c) => c.length))).toBeLessThan(256 * 1024);
      expect(Buffer.concat(chunks).toString('utf8')).toBe(expected);
      // The second pass wrote the first pass's bytes.
      expect(kept.pagesRendered).toBe(Math.ceil(20_000 / PAGE_SERIES));
    }
  });

  it('should hand out one key per series, whatever order its labels come in, and remove by it', async () => {
    const registry = new Registry();
    const g = new FleetGauge({ name: 'x_handles', help: 'h', labelNames: ['a', 'b'], registers: [registry] });
    const first = g.set({ a: 'x', b: 'y' }, 1);
    expect(first).toBe('{a="x",b="y"}');
    expect(g.set({ a: 'x', b: 'y' }, 2)).toBe(first);
    // Another order names the same series and writes the labels as given, as prom-client does.
    expect(g.set({ b: 'y', a: 'x' }, 3)).toBe(first);
    expect(g.valueOf(first)).toBe(3);
    expect(g.get().values).toEqual([{ value: 3, labels: { b: 'y', a: 'x' } }]);
    expect((await renderPrometheusText(registry)).toString('utf8')).toContain('x_handles{b="y",a="x"} 3\n');
    g.removeSeries(first);
    expect(g.size).toBe(0);
    expect(g.valueOf(first)).toBeUndefined();
    g.removeSeries(first); // gone already: nothing happens
    expect(g.set({ a: 'x', b: 'z' }, 4)).toBe('{a="x",b="z"}');
    expect((await renderPrometheusText(registry)).toString('utf8')).toContain('x_handles{a="x",b="z"} 4\n');
  });

  it('should refuse what prom-client refuses on a gauge', () => {
    const g = new FleetGauge({ name: 'x_strict', help: 'h', labelNames: ['a'] });
    expect(() => g.set({ b: 'x' } as never, 1)).toThrow(/Added label "b" is not included/);
    expect(() => g.set({ a: 'x' }, '1' as never)).toThrow(TypeError);
  });

  it('should write an empty registry as prom-client does', async () => {
    const registry = new Registry();
    expect((await renderPrometheusText(registry)).toString('utf8')).toBe(await registry.metrics());
  });

  it('should leave OpenMetrics to prom-client', async () => {
    const registry = fleetRegistry(3);
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
    expect((await renderPrometheusText(registry)).toString('utf8')).toBe(await registry.metrics());
  });
});
