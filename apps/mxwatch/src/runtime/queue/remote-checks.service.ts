import { randomUUID } from 'node:crypto';
import { GatewayTimeoutException, HttpException, HttpStatus, Inject, Injectable, NotFoundException, ServiceUnavailableException, type OnApplicationShutdown } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { QueueEvents, type Queue } from 'bullmq';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/config.types.js';
import { DomainsService } from '../domains.service.js';
import { CHECK_QUEUE, type CheckJobData, type CheckJobResult, type CheckQueueOptions } from './check-jobs.js';
import { CHECK_QUEUE_OPTIONS, type RemoteChecks } from './queue-tokens.js';
import { redisOptionsFromUrl } from './redis-options.js';
import { within } from './redis-calls.js';

/**
 * Manual checks on an `api` replica (which runs no checks): the check goes to the queue ahead of
 * scheduled ones (LIFO), a worker runs it exactly as an in-process manual check, and the API
 * answers with what the worker returned: the same body as without Redis.
 */
@Injectable()
export class RemoteChecksService implements RemoteChecks, OnApplicationShutdown {
  private events: QueueEvents | null = null;

  constructor(
    @InjectQueue(CHECK_QUEUE) private readonly queue: Queue<CheckJobData, CheckJobResult>,
    private readonly domains: DomainsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CHECK_QUEUE_OPTIONS) private readonly options: CheckQueueOptions,
  ) {}

  /** One listener for job completions, opened at the first manual check (it holds a blocking connection). */
  private queueEvents(): QueueEvents {
    if (!this.events) {
      this.events = new QueueEvents(CHECK_QUEUE, { connection: redisOptionsFromUrl(this.config.redisUrl!), prefix: this.options.prefix });
      this.events.on('error', () => undefined);
    }
    return this.events;
  }

  async checkNow(name: string): Promise<unknown> {
    const domain = await this.domains.getRow(name);
    const events = this.queueEvents();
    let job;
    try {
      await within(5_000, events.waitUntilReady(), 'listening for job results');
      job = await within(5_000, this.queue.add('manual', { trigger: 'manual', domainId: domain.id, name: domain.name }, { jobId: `m-${randomUUID()}`, lifo: true, removeOnComplete: { age: 600 }, removeOnFail: { age: 3600 } }), 'enqueueing a manual check');
    } catch (e) {
      throw new ServiceUnavailableException(`the check queue is unavailable: ${(e as Error).message}`);
    }
    let result: CheckJobResult;
    try {
      result = await job.waitUntilFinished(events, this.options.manualDeadlineMs);
    } catch (e) {
      const msg = (e as Error).message;
      if (/timed out/i.test(msg)) {
        // Nobody will wait for it any more: drop it if no worker has started it.
        await job.remove().catch(() => undefined);
        throw new GatewayTimeoutException(`no worker finished the check within ${Math.round(this.options.manualDeadlineMs / 1000)} s`);
      }
      if (/was deleted|not found/i.test(msg)) throw new NotFoundException(msg);
      // The worker's own manual queue is full (ManualQueueFullError): the same answer as in-process.
      if (/already waiting/i.test(msg)) throw new HttpException(msg, HttpStatus.TOO_MANY_REQUESTS);
      throw new ServiceUnavailableException(`the check failed on the worker: ${msg}`);
    }
    if (result.outcome !== 'manual') throw new ServiceUnavailableException(`unexpected job result ${result.outcome}`);
    return result.response;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.events?.close().catch(() => undefined);
  }
}
