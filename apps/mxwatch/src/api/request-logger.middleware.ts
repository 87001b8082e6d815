import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { AppLogger } from '../common/app-logger.js';

@Injectable()
export class RequestLoggerMiddleware implements NestMiddleware {
  constructor(private readonly logger: AppLogger) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // Refused credentials are worth an operator's attention (someone probing the API); the token itself is never logged.
      const level = res.statusCode >= 500 ? 'error' : res.statusCode === 401 || res.statusCode === 403 ? 'warn' : 'debug';
      const fields = { context: 'HTTP', method: req.method, url: req.originalUrl.slice(0, 512), status: res.statusCode, ms: Math.round(ms * 10) / 10 };
      if (level === 'warn') this.logger.pino.warn({ ...fields, ip: req.ip, credentials: req.headers.authorization ? 'refused' : 'missing' }, 'request refused: not authorised');
      else this.logger.pino[level](fields, 'request');
    });
    next();
  }
}
