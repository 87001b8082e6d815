import { createHmac, timingSafeEqual } from 'node:crypto';
import { type CanActivate, type ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request } from 'express';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.types.js';

export const SESSION_COOKIE = 'mxwatch_ui';

/** The browser asked for a page without a valid session: send it to the login form. */
export class LoginRequiredException extends UnauthorizedException {}

/**
 * Who may read the pages. `MXWATCH_UI_AUTH=open` (the default, like /metrics): everyone.
 * `token`: a request carrying the read token or the API token, as `Authorization: Bearer` or as
 * the session cookie the login form sets. The cookie holds an HMAC of the token, never the token.
 */
export class PageAccess {
  private readonly tokens: string[];

  constructor(private readonly config: Pick<AppConfig, 'uiAuth' | 'readToken' | 'apiToken'>) {
    this.tokens = [config.readToken, config.apiToken].filter((t): t is string => typeof t === 'string' && t.length > 0);
  }

  get required(): boolean {
    return this.config.uiAuth === 'token';
  }

  /** The token a person typed grants access. */
  acceptsToken(token: string): boolean {
    const given = sessionValue(token.trim());
    return this.tokens.some((t) => equal(sessionValue(t), given));
  }

  /** The cookie value the login form sets for a good token. */
  cookieFor(token: string): string {
    return sessionValue(token.trim());
  }

  allows(headers: { authorization?: string; cookie?: string }): boolean {
    if (!this.required) return true;
    const bearer = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? '');
    if (bearer && this.acceptsToken(bearer[1]!)) return true;
    const cookie = readCookie(headers.cookie, SESSION_COOKIE);
    return cookie !== null && this.tokens.some((t) => equal(sessionValue(t), cookie));
  }
}

/** A keyed hash, so the cookie is useless anywhere but here and reveals nothing of the token. */
function sessionValue(token: string): string {
  return createHmac('sha256', token).update('mxwatch status pages session v1').digest('base64url');
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) {
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** Only same-site paths after login, so the form cannot be used to bounce people elsewhere. */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])/.test(next) && !/[\r\n]/.test(next) ? next : '/';
}

@Injectable()
export class PageAuthGuard implements CanActivate {
  readonly access: PageAccess;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.access = new PageAccess(config);
  }

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    if (this.access.allows(req.headers)) return true;
    throw new LoginRequiredException('sign in with the read or API token');
  }
}
