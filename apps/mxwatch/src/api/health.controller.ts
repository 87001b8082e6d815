import { Controller, Get, Inject, Optional, ServiceUnavailableException } from '@nestjs/common';
import { AppLogger } from '../common/app-logger.js';
import { DatabaseService } from '../database/database.service.js';
import { QUEUE_HEALTH, type QueueHealth } from '../runtime/queue/queue-tokens.js';

/** A readiness check answers in this time or reports the database as not answering. */
const READY_TIMEOUT_MS = 5_000;

/** Served by every role; its OpenAPI description is in api/openapi.ts (a worker loads no OpenAPI code). */
@Controller('health')
export class HealthController {
  constructor(
    private readonly db: DatabaseService,
    private readonly logger: AppLogger,
    /** With MXWATCH_REDIS_URL: Redis is a dependency too (runtime/queue). */
    @Optional() @Inject(QUEUE_HEALTH) private readonly queue?: QueueHealth,
  ) {}

  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  async ready(): Promise<{ status: 'ok'; database: string; redis?: string; missing?: string[] }> {
    const redis = await this.queue?.check();
    if (redis && !redis.ok) this.logger.warn({ msg: 'readiness: Redis does not answer', err: redis.error }, 'Health');
    const redisField = redis ? { redis: redis.ok ? 'ok' : 'unavailable' } : {};
    const redisMissing = redis && !redis.ok ? ['redis'] : [];
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.db.ping(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS))),
      ]);
    } catch (e) {
      // The cause (a Prisma or driver error naming hosts, users, SQL) goes to the log; anyone may call this route.
      this.logger.warn({ msg: 'readiness: the database does not answer', database: this.db.kind, err: e instanceof Error ? e.message : String(e) }, 'Health');
      throw new ServiceUnavailableException({ statusCode: 503, status: 'unavailable', database: this.db.kind, reason: 'the database does not answer', ...redisField, missing: ['database', ...redisMissing] });
    } finally {
      clearTimeout(timer);
    }
    // A worker (or scheduler) without Redis cannot work: not ready. An api replica still serves
    // everything but manual checks: ready, and says what is missing.
    if (redis && !redis.ok && redis.required) {
      throw new ServiceUnavailableException({ statusCode: 503, status: 'unavailable', database: this.db.kind, reason: 'Redis does not answer', ...redisField, missing: redisMissing });
    }
    return { status: 'ok', database: this.db.kind, ...redisField, ...(redisMissing.length > 0 ? { missing: redisMissing } : {}) };
  }
}
