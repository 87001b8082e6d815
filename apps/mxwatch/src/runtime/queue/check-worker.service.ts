import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Worker, type Job } from 'bullmq';
import { AppLogger } from '../../common/app-logger.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/config.types.js';
import { ChecksRepository, DomainGoneError, DuplicateRunError } from '../../storage/checks.repository.js';
import { ScheduleRepository } from '../../storage/schedule.repository.js';
import { CheckRunner } from '../check-runner.service.js';
import { DatabaseOutage } from '../run-buffer.js';
import { ChecksService } from '../checks.service.js';
import type { Domain } from '../../generated/prisma/client.js';
import { CHECK_QUEUE, rowFromJob, type CheckJobData, type CheckJobResult, type CheckQueueOptions, type ScheduledCheckJob } from './check-jobs.js';
import { DomainChangesSubscriber } from './domain-changes.js';
import { CHECK_QUEUE_OPTIONS } from './queue-tokens.js';
import { redisOptionsFromUrl } from './redis-options.js';

/**
 * Runs queued checks, MXWATCH_CHECK_CONCURRENCY at a time. A job's id is stored with its run
 * (idempotency key): a job picked up again after its worker died or stalled finds its run
 * already stored and does nothing, so a check is never stored, notified or counted twice.
 * BullMQ reconnects by itself when Redis goes away; checks already running finish and are
 * stored, and fetching new jobs waits until Redis is back.
 *
 * A job's first attempt starts from the domain's row the job carries (as the claim left it) when
 * this worker was listening before the claim and has heard of no change to the domain (domain-changes.ts): no
 * statement before the check. Otherwise, and for every re-run (a stall, a retry), the job reads
 * the row and looks for a run already stored under its key first.
 */
@Injectable()
export class CheckWorkerService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly worker: Worker<CheckJobData, CheckJobResult>;
  private lastError = '';
  /** Counts of what jobs came to, for tests and logs. */
  readonly outcomes = { stored: 0, duplicate: 0, skipped: 0, manual: 0, failed: 0, rowsRead: 0 };
  readonly changes: DomainChangesSubscriber;

  constructor(
    private readonly runner: CheckRunner,
    private readonly checks: ChecksRepository,
    private readonly schedule: ScheduleRepository,
    private readonly checksService: ChecksService,
    private readonly logger: AppLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CHECK_QUEUE_OPTIONS) private readonly options: CheckQueueOptions,
    @Optional() private readonly outage?: DatabaseOutage,
  ) {
    this.worker = new Worker<CheckJobData, CheckJobResult>(CHECK_QUEUE, (job) => this.process(job), {
      connection: redisOptionsFromUrl(config.redisUrl!),
      prefix: options.prefix,
      concurrency: config.checkConcurrency,
      autorun: false,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      // A job whose worker died twice is still run once more; its key keeps it from storing twice.
      maxStalledCount: 2,
    });
    this.changes = new DomainChangesSubscriber(config, options, logger);
    this.worker.on('error', (e) => this.noteError(e));
    this.worker.on('failed', (job, e) => {
      this.outcomes.failed++;
      this.logger.pino.warn({ context: 'Worker', job: job?.id, domain: job?.data.name, err: e.message }, 'check job failed');
    });
  }

  onApplicationBootstrap(): void {
    this.changes.start();
    void this.worker.run().catch((e: unknown) => this.noteError(e as Error));
    this.logger.log({ msg: 'queue worker started', concurrency: this.config.checkConcurrency }, 'Worker');
  }

  async onApplicationShutdown(): Promise<void> {
    // Lets running checks finish (and store) before the connection goes.
    await Promise.race([this.worker.close(), new Promise((r) => setTimeout(r, 20_000))]);
    this.changes.stop();
  }

  private noteError(e: Error): void {
    // A Redis outage makes BullMQ report the same error on every retry: log it once. Errors that
    // name a job count as one kind, whichever job (and step: `. moveToFinished`) they name.
    const kind = e.message.replace(/\bjob [^\s.]+(\. \w+)?/g, 'job <id>');
    if (kind === this.lastError) return;
    this.lastError = kind;
    if (/^Missing (key|lock) for job /.test(e.message)) {
      // Redis lost the job while this worker ran it (restarted without persistence, failed over):
      // the run was stored before BullMQ could mark the job finished.
      this.logger.pino.warn({ context: 'Worker', err: kind }, 'checks finished here were gone from Redis (it lost its data); their runs are stored');
    } else this.logger.pino.warn({ context: 'Worker', err: e.message }, 'queue connection problem; waiting for Redis');
  }

  async process(job: Job<CheckJobData, CheckJobResult>): Promise<CheckJobResult> {
    if (this.lastError) {
      this.logger.log({ msg: 'queue connection back' }, 'Worker');
      this.lastError = '';
    }
    const data = job.data;
    if (data.trigger === 'manual') {
      const response = await this.checksService.checkNow(data.name);
      this.outcomes.manual++;
      return { outcome: 'manual', response };
    }
    const key = job.id!;
    let domain: Domain | null;
    if (this.startsFromJob(job as Job<ScheduledCheckJob>)) domain = rowFromJob(data.row!);
    else {
      this.outcomes.rowsRead++;
      const start = await this.schedule.jobStart(data.domainId, key).catch((e: unknown) => {
        // The database away: the check runs on the row the job carries (its run is kept until the
        // database is back, and its key still stops a second store), instead of failing the job
        // until its retries run out and the domain waits a whole interval.
        if (data.row && this.outage?.failed(e, 'Worker')) return { storedRunId: null, domain: rowFromJob(data.row) };
        throw e;
      });
      if (start.storedRunId) {
        this.outcomes.duplicate++;
        return { outcome: 'duplicate', runId: start.storedRunId };
      }
      domain = start.domain;
    }
    if (!domain) {
      this.outcomes.skipped++;
      return { outcome: 'skipped' };
    }
    try {
      const { run } = await this.runner.run(domain, 'schedule', { idempotencyKey: key });
      this.outcomes.stored++;
      return { outcome: 'stored', runId: run.id };
    } catch (e) {
      if (e instanceof DomainGoneError) {
        this.outcomes.skipped++;
        return { outcome: 'skipped' };
      }
      if (e instanceof DuplicateRunError) {
        // Another worker ran the same job at the same time (this one stalled) and stored first.
        this.outcomes.duplicate++;
        return { outcome: 'duplicate', runId: await this.checks.runIdByKey(key) };
      }
      throw e;
    }
  }

  /**
   * A first attempt (nothing can be stored under its key yet) of a job carrying its row, for a
   * domain this worker heard of no change of, claimed after its subscription came up; not a job
   * the recovery pass enqueued again (its lost predecessor may have stored a run).
   */
  private startsFromJob(job: Job<ScheduledCheckJob>): boolean {
    const { row, claimedAt, name, recovered } = job.data;
    return row !== undefined && claimedAt !== undefined && recovered !== true && job.attemptsMade === 0 && job.attemptsStarted <= 1 && job.stalledCounter === 0 && this.changes.watch.trusts(name, claimedAt);
  }
}
