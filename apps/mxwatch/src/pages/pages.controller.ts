import { type ArgumentsHost, Catch, type ExceptionFilter, Controller, Get, Inject, Param, Query, Req, Res, UseFilters, UseGuards, type NestMiddleware, Injectable } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.types.js';
import { LoginRequiredException, PageAccess, PageAuthGuard, safeNext, SESSION_COOKIE } from './page-auth.js';
import { PAGES_CSS, PAGES_JS } from './pages.assets.js';
import { PagesService, type FleetQueryInput } from './pages.service.js';
import { renderLogin } from './login.view.js';

/**
 * No inline script or style anywhere, so the policy can forbid both: an escaping mistake still
 * could not run script. `form-action 'self'` keeps the login form from posting elsewhere.
 */
const PAGE_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

function sendPage(res: Response, status: number, page: { toString(): string }): void {
  res.status(status).set(PAGE_HEADERS).send(page.toString());
}

/** A browser without a session goes to the login form; a script with a bad Bearer token gets 401. */
@Catch(LoginRequiredException)
export class LoginRedirectFilter implements ExceptionFilter {
  catch(_e: LoginRequiredException, host: ArgumentsHost): void {
    const req = host.switchToHttp().getRequest<Request>();
    const res = host.switchToHttp().getResponse<Response>();
    if (req.headers.authorization) {
      res.status(401).set('www-authenticate', 'Bearer').json({ statusCode: 401, message: 'a valid read or API token is required' });
      return;
    }
    res.redirect(303, `/login?next=${encodeURIComponent(safeNext(req.originalUrl))}`);
  }
}

/** The status pages: thin hand-offs to PagesService. Outside /api (see PAGE_ROUTES). */
@ApiExcludeController()
@Controller()
export class PagesController {
  private readonly access: PageAccess;

  constructor(
    private readonly pages: PagesService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.access = new PageAccess(config);
  }

  @Get()
  @UseGuards(PageAuthGuard)
  @UseFilters(LoginRedirectFilter)
  async fleet(@Query() query: FleetQueryInput, @Res() res: Response): Promise<void> {
    sendPage(res, 200, await this.pages.fleet(query, this.access.required));
  }

  @Get('domains/*name')
  @UseGuards(PageAuthGuard)
  @UseFilters(LoginRedirectFilter)
  async domain(@Param('name') name: string | string[], @Res() res: Response): Promise<void> {
    const { status, page } = await this.pages.domain(Array.isArray(name) ? name.join('/') : name, this.access.required);
    sendPage(res, status, page);
  }

  @Get('login')
  login(@Query('next') next: unknown, @Res() res: Response): void {
    if (!this.access.required) return res.redirect(303, '/');
    sendPage(res, 200, renderLogin(safeNext(next), null));
  }

  @Get('assets/mxwatch.css')
  css(@Res() res: Response): void {
    res.set({ 'content-type': 'text/css; charset=utf-8', 'cache-control': 'public, max-age=86400', 'x-content-type-options': 'nosniff' }).send(PAGES_CSS);
  }

  @Get('assets/mxwatch.js')
  js(@Res() res: Response): void {
    res.set({ 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=86400', 'x-content-type-options': 'nosniff' }).send(PAGES_JS);
  }
}

/**
 * POST /login and /logout. A middleware rather than a route: the global ApiTokenGuard requires
 * the API token as a Bearer header on every POST, and a person typing the token into a form has
 * no such header yet.
 */
@Injectable()
export class LoginMiddleware implements NestMiddleware {
  private readonly access: PageAccess;
  private readonly secure: boolean;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.access = new PageAccess(config);
    this.secure = config.publicUrl.startsWith('https:');
  }

  use(req: Request, res: Response, next: NextFunction): void {
    if (req.method !== 'POST') return next();
    const base = `Path=/; HttpOnly; SameSite=Strict${this.secure ? '; Secure' : ''}`;
    if (req.path === '/logout') {
      res.set('set-cookie', `${SESSION_COOKIE}=; ${base}; Max-Age=0`).redirect(303, this.access.required ? '/login' : '/');
      return;
    }
    if (req.path !== '/login') return next();
    const body = (req.body ?? {}) as Record<string, unknown>;
    const target = safeNext(body.next);
    if (!this.access.required) return res.redirect(303, target);
    const token = typeof body.token === 'string' ? body.token : '';
    if (!token || !this.access.acceptsToken(token)) {
      sendPage(res, 401, renderLogin(target, 'That token is not the read token nor the API token.'));
      return;
    }
    res.set('set-cookie', `${SESSION_COOKIE}=${this.access.cookieFor(token)}; ${base}; Max-Age=${30 * 86_400}`).redirect(303, target);
  }
}
