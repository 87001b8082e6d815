import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module.js';
import { ChecksModule } from '../runtime/checks.module.js';
import { NotificationsRepository } from '../storage/notifications.repository.js';
import { NotificationsService } from './notifications.service.js';

@Module({ imports: [ChecksModule, MetricsModule], providers: [NotificationsRepository, NotificationsService], exports: [NotificationsService] })
export class NotificationsModule {}
