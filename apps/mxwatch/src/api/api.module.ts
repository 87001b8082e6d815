import { Module } from '@nestjs/common';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { ChecksModule } from '../runtime/checks.module.js';
import { ChecksController } from './checks.controller.js';
import { DomainsController } from './domains.controller.js';
import { HealthController } from './health.controller.js';
import { NotificationsController } from './notifications.controller.js';

/** The REST surface: thin controllers over the runtime's services. */
@Module({ imports: [ChecksModule, NotificationsModule], controllers: [DomainsController, ChecksController, NotificationsController, HealthController] })
export class ApiModule {}
