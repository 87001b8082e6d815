import { type MiddlewareConsumer, Module, type NestModule, RequestMethod } from '@nestjs/common';
import { FindingsRepository } from '../storage/findings.repository.js';
import { PagesRepository } from '../storage/pages.repository.js';
import { PageAuthGuard } from './page-auth.js';
import { LoginMiddleware, PagesController } from './pages.controller.js';
import { PagesService } from './pages.service.js';

/** The server-rendered status pages: `/` (the fleet) and `/domains/{name}`. */
@Module({
  controllers: [PagesController],
  providers: [PagesRepository, FindingsRepository, PagesService, PageAuthGuard],
})
export class PagesModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(LoginMiddleware).forRoutes({ path: 'login', method: RequestMethod.POST }, { path: 'logout', method: RequestMethod.POST });
  }
}
