import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/config.types.js';
import { rolePlan } from '../roles.js';
import type { QueueHealth } from './queue-tokens.js';
import { redisOptionsFromUrl } from './redis-options.js';

/** Answers /health/ready's question about Redis within a second, whatever state the connection is in. */
@Injectable()
export class RedisHealthService implements QueueHealth, OnApplicationShutdown {
  private readonly redis: Redis;
  private readonly required: boolean;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.redis = new Redis({ ...redisOptionsFromUrl(config.redisUrl!), maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true, commandTimeout: 1_000 });
    this.redis.on('error', () => undefined);
    const plan = rolePlan(config);
    this.required = plan.checks === 'queue' || plan.scheduler === 'queue';
  }

  async check(): Promise<{ ok: true } | { ok: false; error: string; required: boolean }> {
    try {
      if (this.redis.status === 'wait' || this.redis.status === 'end') await this.redis.connect();
      await this.redis.ping();
      return { ok: true };
    } catch (e) {
      return { ok: false, error: (e as Error).message, required: this.required };
    }
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}
