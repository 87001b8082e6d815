import type { FactoryProvider, OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/config.types.js';
import { FLEET_SHARING, RedisKeyedLimiter, RedisSharedWork, type FleetSharing } from '../redis-shared-work.js';
import type { CheckQueueOptions } from './check-jobs.js';
import { CHECK_QUEUE_OPTIONS } from './queue-tokens.js';
import { redisOptionsFromUrl } from './redis-options.js';

/**
 * The fleet-wide SharedWork and per-address limiter on their own connection. Commands give up
 * after a second (no endless offline queue), so a Redis outage makes checks fall back to local
 * sharing instead of hanging.
 */
export const fleetSharingProvider: FactoryProvider<FleetSharing & OnApplicationShutdown> = {
  provide: FLEET_SHARING,
  inject: [APP_CONFIG, CHECK_QUEUE_OPTIONS],
  useFactory: (config: AppConfig, options: CheckQueueOptions) => {
    const redis = new Redis({ ...redisOptionsFromUrl(config.redisUrl!), maxRetriesPerRequest: 1, commandTimeout: 1_000 });
    redis.on('error', () => undefined);
    const longestMs = Math.max(config.checkIntervalSeconds, 24 * 3600) * 1000;
    return {
      shared: new RedisSharedWork(redis, { prefix: options.prefix, resultTtlMs: longestMs, flightTtlMs: config.checkTimeoutSeconds * 1000 + 10_000 }),
      perAddress: new RedisKeyedLimiter(redis, { prefix: options.prefix, concurrency: 1, leaseMs: 30_000, maxWaitMs: config.checkTimeoutSeconds * 1000 }),
      onApplicationShutdown: () => redis.disconnect(),
    };
  },
};
