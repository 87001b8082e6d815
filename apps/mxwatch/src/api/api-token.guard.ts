import { type CanActivate, type ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.types.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** With MXWATCH_API_TOKEN set, every mutating request needs `Authorization: Bearer <token>`. */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  private readonly expected: Buffer | null;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.expected = config.apiToken ? digest(config.apiToken) : null;
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected || context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<Request>();
    if (SAFE_METHODS.has(req.method)) return true;
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    // Comparing fixed-length digests keeps the comparison constant-time whatever the token length.
    if (!m || !timingSafeEqual(digest(m[1]!.trim()), this.expected)) {
      throw new UnauthorizedException('a valid "Authorization: Bearer <MXWATCH_API_TOKEN>" header is required');
    }
    return true;
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
