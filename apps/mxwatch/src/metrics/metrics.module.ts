import { Module } from '@nestjs/common';
import { ChecksModule } from '../runtime/checks.module.js';
import { MetricsFeedRepository } from '../storage/metrics-feed.repository.js';
import { MetricsRepository } from '../storage/metrics.repository.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsFeedService } from './metrics-feed.service.js';
import { MetricsService } from './metrics.service.js';

@Module({
  // ChecksModule: the feed reads stored runs through ChecksRepository.runsWithResults.
  imports: [ChecksModule],
  controllers: [MetricsController],
  providers: [MetricsService, MetricsRepository, MetricsFeedService, MetricsFeedRepository],
  exports: [MetricsService],
})
export class MetricsModule {}
