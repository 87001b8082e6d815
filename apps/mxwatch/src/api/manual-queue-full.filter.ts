import { type ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { ManualQueueFullError } from '../runtime/check-runner.service.js';

/** Too many manual checks waiting: 429 with Retry-After, so a client (or a script in a loop) backs off. */
@Catch(ManualQueueFullError)
export class ManualQueueFullFilter implements ExceptionFilter {
  catch(err: ManualQueueFullError, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    res.setHeader('Retry-After', String(err.retryAfterSeconds));
    res.status(429).json({ statusCode: 429, error: 'Too Many Requests', message: [err.message] });
  }
}
