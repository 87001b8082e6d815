import { Module } from '@nestjs/common';
import { ChecksModule } from '../checks/checks.module.js';
import { MetricsModule } from '../metrics/metrics.module.js';
import { NotificationsController } from './notifications.controller.js';
import { NotificationsRepository } from './notifications.repository.js';
import { NotificationsService } from './notifications.service.js';

@Module({ imports: [ChecksModule, MetricsModule], controllers: [NotificationsController], providers: [NotificationsRepository, NotificationsService] })
export class AlertingModule {}
