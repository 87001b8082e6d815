import { type DynamicModule, Global, Module, type Provider } from '@nestjs/common';
import { BullModule, getQueueToken } from '@nestjs/bullmq';
import type { AppConfig } from '../../config/config.types.js';
import { ScheduleRepository } from '../../storage/schedule.repository.js';
import { ChecksModule } from '../checks.module.js';
import { rolePlan } from '../roles.js';
import { CHECK_QUEUE, type CheckQueueOptions } from './check-jobs.js';
import { CheckWorkerService } from './check-worker.service.js';
import { DomainChangesPublisher } from './domain-changes.js';
import { QueueSchedulerService } from './queue-scheduler.service.js';
import { CHECK_QUEUE_OPTIONS, QUEUE_HEALTH, QUEUE_RECOVERY, QUEUE_STATS, REMOTE_CHECKS } from './queue-tokens.js';
import { RedisHealthService } from './redis-health.service.js';
import { fleetSharingProvider } from './fleet-sharing.provider.js';
import { FLEET_SHARING } from '../redis-shared-work.js';
import { redisOptionsFromUrl, redisPrefixFor } from './redis-options.js';
import { RemoteChecksService } from './remote-checks.service.js';

export function defaultQueueOptions(config: AppConfig): CheckQueueOptions {
  return {
    prefix: redisPrefixFor(config.databaseUrl),
    leaderTtlMs: Math.max(10_000, config.schedulerTickSeconds * 3000),
    lockDurationMs: 30_000,
    stalledIntervalMs: 30_000,
    maxWaiting: Math.max(2_000, config.checkConcurrency * 40),
    manualDeadlineMs: config.checkTimeoutSeconds * 1000 + 30_000,
    recoverAfterMs: Math.max(120_000, 2 * config.checkTimeoutSeconds * 1000),
  };
}

/**
 * Checks through BullMQ on Redis (MXWATCH_REDIS_URL): the queue itself, and per role the
 * leader-elected scheduler and the worker (`all`, `worker`), or the manual-check client (`api`).
 */
@Global()
@Module({})
export class CheckQueueModule {
  static forRoot(config: AppConfig, overrides: Partial<CheckQueueOptions> = {}): DynamicModule {
    const options = { ...defaultQueueOptions(config), ...overrides };
    const plan = rolePlan(config);
    const providers: Provider[] = [{ provide: CHECK_QUEUE_OPTIONS, useValue: options }, ScheduleRepository];
    const exports: Array<Provider | symbol> = [CHECK_QUEUE_OPTIONS, QUEUE_HEALTH, QUEUE_STATS, FLEET_SHARING];
    // The queue itself answers /metrics' job counts (mxwatch_queue_jobs) on every replica.
    providers.push({ provide: QUEUE_STATS, useExisting: getQueueToken(CHECK_QUEUE) });
    providers.push(fleetSharingProvider);
    providers.push(RedisHealthService, { provide: QUEUE_HEALTH, useExisting: RedisHealthService });
    // Every replica that changes domains (API, configuration file) tells the workers.
    providers.push(DomainChangesPublisher);
    if (plan.scheduler === 'queue') {
      providers.push(QueueSchedulerService, { provide: QUEUE_RECOVERY, useExisting: QueueSchedulerService });
      exports.push(QUEUE_RECOVERY);
    }
    if (plan.checks === 'queue') providers.push(CheckWorkerService);
    if (plan.manualChecks === 'queue') {
      providers.push(RemoteChecksService, { provide: REMOTE_CHECKS, useExisting: RemoteChecksService });
      exports.push(REMOTE_CHECKS);
    }
    return {
      module: CheckQueueModule,
      imports: [
        // The producer fails fast while Redis is away (no offline queue): callers roll back and retry.
        BullModule.forRoot({ connection: { ...redisOptionsFromUrl(config.redisUrl!), enableOfflineQueue: false, maxRetriesPerRequest: 1 }, prefix: options.prefix }),
        BullModule.registerQueue({ name: CHECK_QUEUE }),
        ChecksModule,
      ],
      providers,
      exports,
    };
  }
}
