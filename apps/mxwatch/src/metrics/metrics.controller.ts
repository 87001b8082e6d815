import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { MetricsService } from './metrics.service.js';

/** Served by every role; its OpenAPI description is in api/openapi.ts (a worker loads no OpenAPI code). */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  async scrape(@Res() res: Response): Promise<void> {
    // Streamed in chunks as it is rendered: a fleet's exposition is ~10 MB per 10,000 domains,
    // and a buffer of it per scrape stayed in the process's memory (metrics/exposition.ts).
    try {
      await this.metrics.scrapeTo(
        (contentType) => res.setHeader('Content-Type', contentType),
        {
          // The callback hands the chunk's buffer back for the next one (metrics/exposition.ts).
          write: (chunk, written) => res.write(chunk, written),
          drained: () => drained(res),
        },
      );
      res.end();
    } catch (e) {
      // Before the headers Nest answers 500 as for any route; after them only the connection can say it.
      if (!res.headersSent) throw e;
      res.destroy(e as Error);
    }
  }
}

/** Resolves when the response can take more; rejects when the scraper went away. */
function drained(res: Response): Promise<void> {
  if (res.destroyed || res.writableEnded) return Promise.reject(new Error('the scraper closed the connection'));
  return new Promise((resolve, reject) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', gone);
      resolve();
    };
    const gone = (): void => {
      res.off('drain', done);
      res.off('close', gone);
      reject(new Error('the scraper closed the connection'));
    };
    res.on('drain', done);
    res.on('close', gone);
  });
}
