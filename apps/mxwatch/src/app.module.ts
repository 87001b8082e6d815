import { type DynamicModule, type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { DatabaseUnavailableInterceptor } from './api/database-unavailable.interceptor.js';
import { ApiTokenGuard } from './api/api-token.guard.js';
import type { AppLogger } from './common/app-logger.js';
import { CommonModule } from './common/common.module.js';
import { RequestLoggerMiddleware } from './api/request-logger.middleware.js';
import { RequestBodyGuardMiddleware } from './api/request-body-guard.middleware.js';
import { ConfigModule } from './config/config.module.js';
import type { AppConfig } from './config/config.types.js';
import { DatabaseModule } from './database/database.module.js';
import { DomainsModule } from './runtime/domains.module.js';
import { ChecksModule } from './runtime/checks.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { SchedulerModule } from './runtime/scheduler.module.js';
import { NotificationsModule } from './notifications/notifications.module.js';
import { HealthController } from './api/health.controller.js';
import { rolePlan } from './runtime/roles.js';
import type { CheckQueueOptions } from './runtime/queue/check-jobs.js';

/** A worker's HTTP surface: health only (its own /metrics comes with MetricsModule). */
@Module({ controllers: [HealthController] })
class HealthOnlyModule {}

@Module({})
class FullHttpModule {}

/**
 * The REST API and the pages, loaded only where they are served: a worker never loads their
 * controllers, DTO validation and OpenAPI code (see api/openapi.ts).
 */
async function fullHttpSurface(): Promise<DynamicModule> {
  const [{ ApiModule }, { PagesModule }] = await Promise.all([import('./api/api.module.js'), import('./pages/pages.module.js')]);
  return { module: FullHttpModule, imports: [ApiModule, PagesModule] };
}

/**
 * The queue, shared work and leader lock on Redis, loaded only with MXWATCH_REDIS_URL: the single
 * process never loads BullMQ and ioredis (~7 MB of RSS, 4 MB of heap).
 */
async function checkQueue(config: AppConfig, options: Partial<CheckQueueOptions> | undefined): Promise<DynamicModule> {
  const { CheckQueueModule } = await import('./runtime/queue/check-queue.module.js');
  return CheckQueueModule.forRoot(config, options);
}

@Module({})
export class AppModule implements NestModule {
  static forRoot(config: AppConfig, logger: AppLogger, scale: { queue?: Partial<CheckQueueOptions> } = {}): DynamicModule {
    // MXWATCH_ROLE: which parts run in this process (runtime/roles.ts).
    const plan = rolePlan(config);
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
        ...(plan.http === 'full' ? [fullHttpSurface()] : [HealthOnlyModule]),
        ...(plan.scheduler === 'local' ? [SchedulerModule] : []),
        ...(config.redisUrl ? [checkQueue(config, scale.queue)] : []),
      ],
      providers: [{ provide: APP_GUARD, useClass: ApiTokenGuard }, { provide: APP_INTERCEPTOR, useClass: DatabaseUnavailableInterceptor }],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestLoggerMiddleware, RequestBodyGuardMiddleware).forRoutes('*path');
  }
}
