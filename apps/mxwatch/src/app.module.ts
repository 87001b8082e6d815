import { type DynamicModule, type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiTokenGuard } from './api/api-token.guard.js';
import type { AppLogger } from './common/app-logger.js';
import { CommonModule } from './common/common.module.js';
import { RequestLoggerMiddleware } from './api/request-logger.middleware.js';
import { ConfigModule } from './config/config.module.js';
import type { AppConfig } from './config/config.types.js';
import { DatabaseModule } from './database/database.module.js';
import { DomainsModule } from './runtime/domains.module.js';
import { ApiModule } from './api/api.module.js';
import { ChecksModule } from './runtime/checks.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { SchedulerModule } from './runtime/scheduler.module.js';
import { NotificationsModule } from './notifications/notifications.module.js';
import { PagesModule } from './pages/pages.module.js';

@Module({})
export class AppModule implements NestModule {
  static forRoot(config: AppConfig, logger: AppLogger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        CommonModule.forRoot(logger),
        DatabaseModule,
        DomainsModule,
        ChecksModule,
        MetricsModule,
        NotificationsModule,
        ApiModule,
        PagesModule,
        ...(config.scheduler ? [SchedulerModule] : []),
      ],
      providers: [{ provide: APP_GUARD, useClass: ApiTokenGuard }],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestLoggerMiddleware).forRoutes('*path');
  }
}
