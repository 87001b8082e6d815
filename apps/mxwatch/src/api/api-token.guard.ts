import { type CanActivate, type ExecutionContext, ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.types.js';

const READ_METHODS = new Set(['GET', 'HEAD']);
/** The REST API; /metrics and /health/* stay open for Prometheus and orchestrators. */
const API_PREFIX = '/api/v1/';

/**
 * Bearer tokens for the API. With MXWATCH_API_TOKEN set, every mutating request needs it. With
 * MXWATCH_READ_TOKEN set, the API's reads (GET/HEAD under /api/v1/) need the read token or the API
 * token; the read token never grants a change (403: the caller is known, the request is not theirs
 * to make). Config refuses a read token without an API token, and a non-loopback HOST without one.
 */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  private readonly write: Buffer | null;
  private readonly read: Buffer | null;

  constructor(@Inject(APP_CONFIG) config: Pick<AppConfig, 'apiToken' | 'readToken'>) {
    this.write = config.apiToken ? digest(config.apiToken) : null;
    this.read = config.readToken ? digest(config.readToken) : null;
  }

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<Request>();
    const presented = bearer(req);
    if (READ_METHODS.has(req.method)) {
      if (!this.read || !pathOf(req).startsWith(API_PREFIX)) return true;
      if (presented && (matches(presented, this.read) || matches(presented, this.write))) return true;
      throw new UnauthorizedException('a valid "Authorization: Bearer <MXWATCH_READ_TOKEN or MXWATCH_API_TOKEN>" header is required');
    }
    // OPTIONS (CORS preflight) carries no credentials and changes nothing.
    if (req.method === 'OPTIONS' || !this.write) return true;
    if (presented && matches(presented, this.write)) return true;
    if (presented && matches(presented, this.read)) throw new ForbiddenException('the read token (MXWATCH_READ_TOKEN) cannot change anything');
    throw new UnauthorizedException('a valid "Authorization: Bearer <MXWATCH_API_TOKEN>" header is required');
  }
}

function bearer(req: Request): Buffer | null {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  return m ? digest(m[1]!.trim()) : null;
}

/**
 * The route the request matched (`/api/v1/domains/:name`), as registered: express matches paths
 * case-insensitively and decodes them, so the URL as sent (`/API/v1/...`) must not decide. The
 * URL is the fallback for a request no route matched (it ends in 404 anyway).
 */
function pathOf(req: Request): string {
  const route = (req.route as { path?: unknown } | undefined)?.path;
  const url = typeof route === 'string' ? route : (req.originalUrl ?? req.url ?? '').split('?')[0]!;
  return `${url.toLowerCase().replace(/\/{2,}/g, '/').replace(/\/$/, '')}/`;
}

// Comparing fixed-length digests keeps the comparison constant-time whatever the token length.
function matches(presented: Buffer, expected: Buffer | null): boolean {
  return expected !== null && timingSafeEqual(presented, expected);
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
