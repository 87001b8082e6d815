import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import pLimit from 'p-limit';
import { CheckRunner } from './check-runner.service.js';
import { ChecksRepository, DomainGoneError } from '../storage/checks.repository.js';
import { AppLogger } from '../common/app-logger.js';
import { DatabaseOutage } from './run-buffer.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.types.js';
import { ScheduleRepository, type ClaimedDomain } from '../storage/schedule.repository.js';
import type { Domain } from '../generated/prisma/client.js';
import { EventBus } from './events.js';
import { PROBE_MEMORY_KEEP_DAYS, ProbeMemoryRepository } from '../storage/probe-memory.repository.js';

/**
 * A tick only selects due domains, claims them (moves nextCheckAt one interval ahead, so a
 * restart neither re-checks everything nor forgets what was due) and hands them to the runner
 * under a global concurrency bound. A domain still being checked is never picked again.
 *
 * When more was due than one tick could take (a fleet after a restart, thousands of domains with
 * the same interval), a finishing check tops the queue up at once instead of waiting for the
 * next tick: throughput then depends on the checks, not on MXWATCH_SCHEDULER_TICK.
 *
 * A check starts from its domain's row as read at most ROW_FRESH_MS before (a domain deleted or
 * disabled while it waited is not checked): the claim reads the rows, and a check whose row got
 * older than that in the queue reads it again together with the next ones in line, one statement
 * for up to REREAD_BATCH checks instead of one per check (~0.2 ms of CPU each at fleet scale). A
 * domain deleted or disabled in this process leaves the queue at once (`domain.retired`).
 */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly inFlight = new Set<string>();
  private readonly limit;
  private ticking = false;
  private stopping = false;
  private pruning = false;
  /** Set once the timers run: top-ups belong to the running scheduler, not to a bare instance. */
  private started = false;
  /** The last tick took all it had room for, so more may be due. */
  private backlog = false;
  /** Claimed domains not started yet: their rows and when they were read (`clock`); null: deleted or disabled. */
  private readonly rows = new Map<string, { row: Domain | null; at: number }>();
  /** How old a row may be when its check starts (tests shorten it). */
  private rowFreshMs = ROW_FRESH_MS;
  private clock: () => number = Date.now;

  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly runner: CheckRunner,
    private readonly checks: ChecksRepository,
    private readonly schedule: ScheduleRepository,
    private readonly logger: AppLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    /** Absent in unit tests that build the scheduler by hand. */
    @Optional() private readonly outage?: DatabaseOutage,
    @Optional() private readonly memory?: ProbeMemoryRepository,
    @Optional() events?: EventBus,
  ) {
    this.limit = pLimit(config.checkConcurrency);
    events?.on('domain.retired', (e) => {
      for (const known of this.rows.values()) if (known.row?.name === e.name) known.row = null;
    });
  }

  onApplicationBootstrap(): void {
    this.started = true;
    const tick = setInterval(() => void this.tick(), this.config.schedulerTickSeconds * 1000);
    this.registry.addInterval('checks', tick);
    const prune = setInterval(() => void this.prune(), 10 * 60 * 1000);
    this.registry.addInterval('retention', prune);
    setTimeout(() => void this.tick(), 500).unref();
    setTimeout(() => void this.prune(), 60_000).unref();
    this.logger.log({ msg: 'scheduler started', tickSeconds: this.config.schedulerTickSeconds, concurrency: this.config.checkConcurrency }, 'Scheduler');
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.limit.clearQueue();
    this.rows.clear();
    const deadline = Date.now() + 15_000;
    while (this.inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  /** Claims and starts what is due; returns how many checks it started. Exposed for tests and benchmarks. */
  async tick(now = new Date()): Promise<number> {
    if (this.ticking || this.stopping) return 0;
    this.ticking = true;
    try {
      // Leave room in the queue: selecting more than can start soon would only age the claims.
      const room = this.config.checkConcurrency * 4 - this.limit.pendingCount;
      if (room <= 0) return 0;
      // One statement claims the whole batch (SKIP LOCKED): another replica on the same database
      // can never claim the same domain, and a claim loop of sequential UPDATEs is not a bottleneck.
      const due = await this.schedule.claimDue({ now, limit: room, defaultIntervalSeconds: this.config.checkIntervalSeconds, exclude: [...this.inFlight] });
      this.backlog = due.length === room;
      const readAt = this.clock();
      for (const d of due) {
        this.inFlight.add(d.id);
        const { dueAt: _, ...row } = d;
        this.rows.set(d.id, { row, at: readAt });
        void this.limit(() => this.check(d)).finally(() => {
          this.inFlight.delete(d.id);
          this.rows.delete(d.id);
          this.topUp();
        });
      }
      return due.length;
    } catch (e) {
      // A database outage is logged once by DatabaseOutage, not once per tick.
      if (!this.outage?.failed(e, 'Scheduler')) this.logger.error(e, 'Scheduler');
      return 0;
    } finally {
      this.ticking = false;
    }
  }

  /** Less than one round of checks left queued while more is due: tick now rather than at the next interval. */
  private topUp(): void {
    if (!this.started || !this.backlog || this.ticking || this.stopping) return;
    if (this.limit.pendingCount >= this.config.checkConcurrency) return;
    void this.tick();
  }

  private async check(d: ClaimedDomain): Promise<void> {
    if (this.stopping) return;
    try {
      // The domain may have been deleted or disabled while it waited in the queue.
      const fresh = await this.freshRow(d.id);
      if (!fresh) return;
      await this.runner.run(fresh, 'schedule');
    } catch (e) {
      if (e instanceof DomainGoneError || this.outage?.failed(e, 'Scheduler')) return;
      this.logger.pino.error({ context: 'Scheduler', domain: d.name, err: e }, 'check failed');
    }
  }

  /**
   * The domain's row, read at most `rowFreshMs` ago; null once deleted or disabled. While the
   * database is unavailable, the row as it was last read: the claim moved the domain one interval
   * on, so dropping the check here lost it for a whole interval (96 of 3,000 domains in the fleet
   * bench with a 15 s outage); and nothing can change the row through mxwatch meanwhile. The run
   * is kept until the database is back, as any run finished during an outage.
   */
  private async freshRow(id: string): Promise<Domain | null> {
    let known = this.rows.get(id);
    if (known?.row !== null && (!known || this.clock() - known.at > this.rowFreshMs)) {
      try {
        await this.reread(id);
      } catch (e) {
        if (!known?.row || !this.outage?.failed(e, 'Scheduler')) throw e;
        this.rows.delete(id);
        return known.row;
      }
      known = this.rows.get(id);
    }
    this.rows.delete(id);
    return known?.row ?? null;
  }

  /**
   * Reads `id` again, with the queued domains next in line whose rows are half as old as allowed:
   * they start soon, and will then find a fresh row.
   */
  private async reread(id: string): Promise<void> {
    const at = this.clock();
    const ids = [id];
    for (const [other, known] of this.rows) {
      if (ids.length >= REREAD_BATCH) break;
      if (other !== id && known.row !== null && at - known.at > this.rowFreshMs / 2) ids.push(other);
    }
    const found = new Map((await this.schedule.findEnabledMany(ids)).map((row) => [row.id, row]));
    for (const i of ids) {
      const known = this.rows.get(i);
      // Retired while the statement ran: the event is newer than what the statement read.
      if (known?.row === null) continue;
      if (known || i === id) this.rows.set(i, { row: found.get(i) ?? null, at });
    }
  }

  /** Pruning runs in batches with pauses, so it never holds the database away from checks for long. */
  async prune(now = new Date()): Promise<number> {
    if (this.pruning || this.stopping) return 0;
    this.pruning = true;
    let total = 0;
    try {
      const before = new Date(now.getTime() - this.config.retentionDays * 86400_000);
      total = await pruneOldRuns(this.checks, before, () => this.stopping, (n) => (total = n));
      if (total > 0) this.logger.log({ msg: 'pruned old check runs', runs: total, before: before.toISOString() }, 'Scheduler');
      if (this.memory && !this.stopping) await pruneProbeMemory(this.memory, now, this.logger);
      return total;
    } catch (e) {
      if (!this.outage?.failed(e, 'Scheduler')) this.logger.error(e, 'Scheduler');
      return total;
    } finally {
      this.pruning = false;
    }
  }
}

/** How old a claimed domain's row may be when its check starts. */
export const ROW_FRESH_MS = 1000;
/** Rows read again in one statement, at most. */
const REREAD_BATCH = 64;

/** What probes remember and nobody wrote for PROBE_MEMORY_KEEP_DAYS (a domain long gone, an MX address retired) goes. */
export async function pruneProbeMemory(memory: ProbeMemoryRepository, now: Date, logger: AppLogger): Promise<number> {
  const before = new Date(now.getTime() - PROBE_MEMORY_KEEP_DAYS * 86400_000);
  const n = await memory.prune(before);
  if (n > 0) logger.log({ msg: 'pruned probe memory', entries: n, before: before.toISOString() }, 'Scheduler');
  return n;
}

/**
 * Deletes runs older than `before` in batches of 500 with pauses, so retention never holds the
 * database away from checks for long; stops between batches once `stopping()`. `progress`
 * sees the running total (what was deleted when an error cuts it short).
 */
export async function pruneOldRuns(checks: ChecksRepository, before: Date, stopping: () => boolean, progress: (total: number) => void = () => {}): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await checks.pruneBatch(before, 500);
    total += n;
    progress(total);
    if (n < 500 || stopping()) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return total;
}
