import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { AppLogger } from '../../common/app-logger.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/config.types.js';
import { ChecksRepository } from '../../storage/checks.repository.js';
import { ScheduleRepository, type ClaimedDomain } from '../../storage/schedule.repository.js';
import { ProbeMemoryRepository } from '../../storage/probe-memory.repository.js';
import { pruneOldRuns, pruneProbeMemory } from '../scheduler.service.js';
import { CHECK_QUEUE, rowForJob, scheduledJobId, type CheckQueueOptions, type ScheduledCheckJob } from './check-jobs.js';
import { LeaderLock } from './leader-lock.js';
import { redisOptionsFromUrl } from './redis-options.js';
import { redisNowMs, within } from './redis-calls.js';
import { CHECK_QUEUE_OPTIONS, type QueueRecovery } from './queue-tokens.js';

/** Domains claimed per statement; a tick repeats while the queue has room and more is due. */
const CLAIM_BATCH = 1000;
/** A Redis call the scheduler waits for at most; past it the claim rolls back and stays due. */
const REDIS_DEADLINE_MS = 10_000;

/**
 * The scheduler of a fleet on Redis: whichever replica holds the leader lock claims due domains
 * and enqueues one job per domain and due slot; workers anywhere run them. The claim and the
 * enqueue commit together (the claim's transaction ends after the jobs are in Redis), so a
 * Redis outage or a leader dying in between leaves the domains due for the next leader, and a
 * repeated enqueue of the same slot is a no-op through the job id.
 *
 * Jobs Redis loses after the claim committed (a restart without persistence, a failover to a
 * replica that had not caught up, an eviction under `maxmemory`) would leave their domains
 * unchecked for a whole interval: the recovery pass finds claimed slots that stored no run and
 * whose job is no longer in Redis, and enqueues them again under the same job id.
 */
@Injectable()
export class QueueSchedulerService implements OnApplicationBootstrap, OnApplicationShutdown, QueueRecovery {
  private readonly redis: Redis;
  readonly lock: LeaderLock;
  private timers: NodeJS.Timeout[] = [];
  private ticking = false;
  private recovering = false;
  private pruning = false;
  private stopping = false;
  private wasLeader = false;
  private lastError = '';
  private lastRecoveryError = '';
  private readonly recoveredListeners: Array<(jobs: number) => void> = [];

  constructor(
    @InjectQueue(CHECK_QUEUE) private readonly queue: Queue<ScheduledCheckJob>,
    private readonly schedule: ScheduleRepository,
    private readonly checks: ChecksRepository,
    private readonly logger: AppLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CHECK_QUEUE_OPTIONS) private readonly options: CheckQueueOptions,
    @Optional() private readonly memory?: ProbeMemoryRepository,
  ) {
    // Its own connection: the lock must not wait behind queue traffic, and fails fast when Redis is away.
    this.redis = new Redis({ ...redisOptionsFromUrl(config.redisUrl!), maxRetriesPerRequest: 1, commandTimeout: 2_000 });
    this.redis.on('error', () => undefined);
    this.lock = new LeaderLock(this.redis, `${options.prefix}:scheduler:leader`, options.leaderTtlMs);
  }

  onApplicationBootstrap(): void {
    const tickMs = this.config.schedulerTickSeconds * 1000;
    this.timers.push(setInterval(() => void this.tick(), tickMs));
    // Renewal runs on its own short timer: a long tick (a large claim) must not let the lock lapse.
    this.timers.push(setInterval(() => void this.renew(), Math.max(200, Math.floor(this.options.leaderTtlMs / 3))));
    this.timers.push(setInterval(() => void this.prune(), 10 * 60 * 1000));
    this.timers.push(setInterval(() => void this.recover(), Math.max(1_000, Math.min(60_000, Math.floor(this.options.recoverAfterMs / 2)))));
    setTimeout(() => void this.tick(), 300).unref();
    this.logger.log({ msg: 'queue scheduler started', tickSeconds: this.config.schedulerTickSeconds, leaderTtlMs: this.options.leaderTtlMs }, 'Scheduler');
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    const deadline = Date.now() + 10_000;
    while ((this.ticking || this.pruning || this.recovering) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // Hand the role over at once instead of making the fleet wait for the TTL.
    await this.lock.release();
    this.redis.disconnect();
  }

  onRecovered(listener: (jobs: number) => void): void {
    this.recoveredListeners.push(listener);
  }

  get isLeader(): boolean {
    return this.lock.held;
  }

  private async renew(): Promise<void> {
    if (this.stopping || !this.lock.held) return;
    await this.lock.tryHold();
    this.noteLeadership();
  }

  private noteLeadership(): void {
    const leader = this.lock.held;
    if (leader !== this.wasLeader) {
      this.wasLeader = leader;
      this.logger.log({ msg: leader ? 'scheduler role taken' : 'scheduler role lost', key: this.lock.key }, 'Scheduler');
    }
  }

  /** Enqueues what is due if this replica is the leader; returns how many jobs it added. Exposed for tests. */
  async tick(now = new Date()): Promise<number> {
    if (this.ticking || this.stopping) return 0;
    this.ticking = true;
    let added = 0;
    try {
      await this.lock.tryHold();
      this.noteLeadership();
      if (!this.lock.held) return 0;
      for (;;) {
        const counts = await within(REDIS_DEADLINE_MS, this.queue.getJobCounts('waiting', 'prioritized', 'delayed'), 'counting queued jobs');
        const queued = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
        const room = Math.min(CLAIM_BATCH, this.options.maxWaiting - queued);
        // Stop as soon as the lock is in doubt: a new leader may be claiming already.
        if (room <= 0 || !this.lock.held || this.stopping) break;
        const claimed = await this.schedule.claimDueAndHand({ now, limit: room, defaultIntervalSeconds: this.config.checkIntervalSeconds }, (c) => this.enqueue(c));
        added += claimed.length;
        if (claimed.length < room) break;
      }
      if (this.lastError) {
        this.logger.log({ msg: 'scheduler enqueues again' }, 'Scheduler');
        this.lastError = '';
      }
      return added;
    } catch (e) {
      // One line per kind of outage, not one per tick.
      const msg = (e as Error).message;
      if (msg !== this.lastError) this.logger.pino.warn({ context: 'Scheduler', err: msg }, 'could not enqueue due checks; they stay due');
      this.lastError = msg;
      return added;
    } finally {
      this.ticking = false;
    }
  }

  /**
   * The recovery pass (leader only): claimed slots that stored no run, enqueued (or last found in
   * Redis) at least `recoverAfterMs` ago — longer than a check runs, so a job Redis lost while a
   * worker still ran it has stored its run by then — and whose domain is not due again. Those whose
   * job Redis no longer holds are enqueued again, marked `recovered`. Returns how many. Exposed for
   * tests.
   */
  async recover(now = new Date()): Promise<number> {
    if (this.recovering || this.stopping || !this.lock.held) return 0;
    this.recovering = true;
    let requeued = 0;
    try {
      const queuedBefore = new Date(now.getTime() - this.options.recoverAfterMs);
      for (;;) {
        const pass = await this.schedule.recoverQueued({ now, queuedBefore, limit: CLAIM_BATCH }, async (queued) => {
          const found = await within(
            REDIS_DEADLINE_MS,
            this.redis.pipeline(queued.map((d) => ['exists', this.queue.toKey(scheduledJobId(d.id, d.dueAt))])).exec(),
            'looking for queued checks',
          );
          const lost = queued.filter((_, i) => {
            const [error, exists] = found?.[i] ?? [new Error('no reply'), null];
            if (error) throw error;
            return exists === 0;
          });
          if (lost.length > 0) await this.enqueue(lost, true);
          return { looked: queued.length, lost: lost.length };
        });
        if (!pass) break;
        requeued += pass.lost;
        if (pass.lost > 0) for (const l of this.recoveredListeners) l(pass.lost);
        if (pass.looked < CLAIM_BATCH || !this.lock.held || this.stopping) break;
      }
      if (requeued > 0) this.logger.pino.warn({ context: 'Scheduler', jobs: requeued }, 'queued checks were missing from Redis (restarted without persistence, failed over or evicted); enqueued them again');
      this.lastRecoveryError = '';
      return requeued;
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== this.lastRecoveryError) this.logger.pino.warn({ context: 'Scheduler', err: msg }, 'could not look for lost queued checks; trying again later');
      this.lastRecoveryError = msg;
      return requeued;
    } finally {
      this.recovering = false;
    }
  }

  private async enqueue(claimed: ClaimedDomain[], recovered = false): Promise<void> {
    // After the claim read the rows, before their jobs exist: a change to one of them commits only
    // after the claim does (its rows stay locked until then), so it is announced after this time.
    const claimedAt = await within(REDIS_DEADLINE_MS, redisNowMs(this.redis), 'reading the Redis clock');
    await within(
      REDIS_DEADLINE_MS,
      this.queue.addBulk(
        claimed.map((d) => ({
        name: 'check',
        data: { trigger: 'schedule', domainId: d.id, name: d.name, dueAt: d.dueAt.toISOString(), row: rowForJob(d), claimedAt, ...(recovered ? { recovered } : {}) },
        opts: {
          jobId: scheduledJobId(d.id, d.dueAt),
          // A check that failed before storing its run (the database busy or away) is retried;
          // one that failed after storing finds its run by the job id and stops there.
          attempts: 3,
          backoff: { type: 'exponential', delay: 5_000 },
          // Kept a while so a repeated enqueue of the same slot still finds it and adds nothing.
          removeOnComplete: { age: Math.max(3600, this.config.checkIntervalSeconds), count: 100_000 },
          removeOnFail: { age: 24 * 3600 },
        },
        })),
      ),
      'enqueueing due checks',
    );
  }

  async prune(now = new Date()): Promise<number> {
    if (this.pruning || this.stopping || !this.lock.held) return 0;
    this.pruning = true;
    try {
      const before = new Date(now.getTime() - this.config.retentionDays * 86400_000);
      const total = await pruneOldRuns(this.checks, before, () => this.stopping || !this.lock.held);
      if (total > 0) this.logger.log({ msg: 'pruned old check runs', runs: total, before: before.toISOString() }, 'Scheduler');
      if (this.memory && !this.stopping && this.lock.held) await pruneProbeMemory(this.memory, now, this.logger);
      return total;
    } catch (e) {
      this.logger.error(e, 'Scheduler');
      return 0;
    } finally {
      this.pruning = false;
    }
  }
}
