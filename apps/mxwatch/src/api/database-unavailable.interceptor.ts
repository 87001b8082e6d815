import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor, ServiceUnavailableException } from '@nestjs/common';
import type { Response } from 'express';
import { catchError, type Observable, throwError } from 'rxjs';
import { DatabaseOutage } from '../runtime/run-buffer.js';

/** Seconds a client is asked to wait: about how long the outage watch takes to notice the database is back. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * A request that failed because the database is unavailable answers 503 with Retry-After (a
 * client, a load balancer or a monitoring probe should come back, not report a bug), without
 * the driver's message, and is logged once per outage instead of once per request. An
 * interceptor rather than a catch-all filter: it maps only these errors and leaves every other
 * exception to the filters that already handle it.
 */
@Injectable()
export class DatabaseUnavailableInterceptor implements NestInterceptor {
  constructor(private readonly outage: DatabaseOutage) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      catchError((err: unknown) => {
        if (context.getType() !== 'http' || !this.outage.failed(err, 'Api')) return throwError(() => err);
        context.switchToHttp().getResponse<Response>().setHeader('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
        const kept = err instanceof Error && err.name === 'DatabaseUnavailableError' ? [err.message] : [];
        return throwError(() => new ServiceUnavailableException({ statusCode: 503, error: 'Service Unavailable', message: ['the database is unavailable; retry later', ...kept] }));
      }),
    );
  }
}
