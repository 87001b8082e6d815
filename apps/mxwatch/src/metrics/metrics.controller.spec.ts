import { Writable } from 'node:stream';
import type { Response } from 'express';
import { describe, expect, it } from 'vitest';
import { MetricsController } from './metrics.controller.js';
import type { ExpositionSink } from './exposition.js';
import type { MetricsService } from './metrics.service.js';

/** A response whose reader takes `accept` chunks, then stops reading (a scraper that stalled). */
function response(accept: number): Response & { chunks: Buffer[]; ended: boolean } {
  const chunks: Buffer[] = [];
  const res = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      if (chunks.length < accept) cb();
    },
  }) as unknown as Response & { chunks: Buffer[]; ended: boolean; headers: Record<string, string> };
  res.chunks = chunks;
  res.headers = {};
  res.setHeader = ((k: string, v: string) => {
    res.headers[k] = v;
    return res;
  }) as never;
  Object.defineProperty(res, 'headersSent', { get: () => chunks.length > 0 });
  return res;
}

/** A service whose exposition is `n` chunks, waiting for the sink as the real renderer does. */
function service(n: number, seen: { written: number }): MetricsService {
  return {
    async scrapeTo(start: (t: string) => void, sink: ExpositionSink) {
      start('text/plain; version=0.0.4; charset=utf-8');
      for (let i = 0; i < n; i++) {
        seen.written++;
        if (!sink.write(Buffer.from(`chunk ${i}\n`))) await sink.drained();
      }
    },
  } as unknown as MetricsService;
}

describe(MetricsController.name, () => {
  it('should stream the exposition and end the response', async () => {
    const seen = { written: 0 };
    const res = response(Infinity);
    await new MetricsController(service(50, seen)).scrape(res);
    expect(res.writableEnded).toBe(true);
    expect(Buffer.concat(res.chunks).toString()).toContain('chunk 49\n');
  });

  it('should stop rendering and drop the connection when the scraper goes away mid-scrape, without failing', async () => {
    const seen = { written: 0 };
    const res = response(3);
    const scraping = new MetricsController(service(1000, seen)).scrape(res);
    await new Promise((r) => setTimeout(r, 20));
    res.destroy();
    await expect(scraping).resolves.toBeUndefined();
    expect(res.destroyed).toBe(true);
    // It waited for the stalled reader instead of rendering the rest into memory.
    expect(seen.written).toBeLessThan(10);
  });
});
