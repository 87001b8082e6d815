import { BadRequestException, type CallHandler, type ExecutionContext, Injectable, type NestInterceptor, type Type } from '@nestjs/common';
import type { Request } from 'express';
import type { Observable } from 'rxjs';

/** Where @Query()/@Param()/@Body() record themselves (ROUTE_ARGS_METADATA of @nestjs/common, not exported to ESM). */
const ROUTE_ARGS_METADATA = '__routeArguments__';
/** RouteParamtypes.QUERY */
const QUERY = 4;

/**
 * Unknown query parameters are a 400 on every API route, as they already were on the routes whose
 * @Query() DTO the ValidationPipe checks (forbidNonWhitelisted): `GET /domains?lable=team=mail`
 * must not quietly return every domain. A route with a whole-object @Query() is left to its DTO;
 * any other route accepts only the keys it names with @Query('key'), usually none.
 */
@Injectable()
export class StrictQueryInterceptor implements NestInterceptor {
  private readonly allowed = new Map<Function, Set<string> | 'dto'>();

  constructor(private readonly controllers: ReadonlySet<Type<unknown>>) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http' || !this.controllers.has(context.getClass())) return next.handle();
    const allowed = this.allowedFor(context);
    if (allowed !== 'dto') {
      const query = context.switchToHttp().getRequest<Request>().query;
      const unknown = Object.keys(query ?? {}).filter((k) => !allowed.has(k));
      if (unknown.length > 0) {
        throw new BadRequestException(unknown.map((k) => `query parameter ${k} is not accepted by this route${allowed.size ? ` (accepted: ${[...allowed].join(', ')})` : ''}`));
      }
    }
    return next.handle();
  }

  private allowedFor(context: ExecutionContext): Set<string> | 'dto' {
    const handler = context.getHandler();
    let known = this.allowed.get(handler);
    if (known === undefined) {
      const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), handler.name) ?? {}) as Record<string, { data?: unknown }>;
      const queries = Object.entries(args).filter(([key]) => key.split(':')[0] === String(QUERY)).map(([, a]) => a.data);
      known = queries.some((d) => d === undefined) ? 'dto' : new Set(queries.filter((d): d is string => typeof d === 'string'));
      this.allowed.set(handler, known);
    }
    return known;
  }
}
