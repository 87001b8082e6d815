import { Module } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR } from '@nestjs/core';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { ChecksModule } from '../runtime/checks.module.js';
import { ChangesController } from './changes.controller.js';
import { ChecksController } from './checks.controller.js';
import { DomainsController } from './domains.controller.js';
import { HealthController } from './health.controller.js';
import { ManualQueueFullFilter } from './manual-queue-full.filter.js';
import { NotificationsController } from './notifications.controller.js';
import { StrictQueryInterceptor } from './strict-query.interceptor.js';

const CONTROLLERS = [DomainsController, ChecksController, ChangesController, NotificationsController, HealthController];

/** The REST surface: thin controllers over the runtime's services. */
@Module({
  imports: [ChecksModule, NotificationsModule],
  controllers: CONTROLLERS,
  providers: [
    { provide: APP_INTERCEPTOR, useFactory: () => new StrictQueryInterceptor(new Set(CONTROLLERS)) },
    { provide: APP_FILTER, useClass: ManualQueueFullFilter },
  ],
})
export class ApiModule {}
