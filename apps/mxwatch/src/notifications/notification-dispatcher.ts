/**
 * Delivers stored notifications. The database row is the queue: a row is `pending` with the
 * time of its next attempt (`nextAttemptAt`), and a process takes an attempt by moving that
 * time forward by a lease (so another replica, or this one after a crash, can take it over once
 * the lease has passed). Nothing lives only in memory, so a restart resumes each delivery at
 * its persisted time instead of starting over or forgetting it.
 */
import pLimit from 'p-limit';
import type { NotificationEvent, Notifier } from './notification.types.js';
import { attemptDelivery, attemptRecord, DEFAULT_RETRY_POLICY, nextStep, type DeliveryAttempt, type RetryPolicy } from './notifiers/retry.js';

/** The columns delivery needs. */
export interface NotificationRecord {
  id: string;
  channel: string;
  event: string;
  status: string;
  attempts: number;
  payload: unknown;
  createdAt: Date;
  retryUntil: Date | null;
  nextAttemptAt: Date | null;
}

export interface AttemptUpdate {
  attempt: DeliveryAttempt;
  status: 'pending' | 'sent' | 'failed';
  nextAttemptAt: Date | null;
}

export interface NotificationStore {
  /** Takes up to `limit` pending rows due at `now`, moving their nextAttemptAt to `leaseUntil`; returns only rows this call took. */
  claimDue(now: Date, limit: number, leaseUntil: Date): Promise<NotificationRecord[]>;
  /** Takes one row for an attempt right now (a test notification); null when it is not pending any more. */
  claim(id: string, leaseUntil: Date): Promise<NotificationRecord | null>;
  saveAttempt(id: string, update: AttemptUpdate): Promise<void>;
  /** Gives a row back without an attempt (shutdown in the middle of one). */
  release(id: string, nextAttemptAt: Date): Promise<void>;
  /** A row that cannot be delivered at all (its channel is gone). */
  abandon(id: string, reason: string): Promise<void>;
  /** Earliest nextAttemptAt of a pending row, or null. */
  nextDueAt(): Promise<Date | null>;
}

export interface DispatcherOptions {
  store: NotificationStore;
  notifiers: ReadonlyMap<string, Notifier>;
  retryHours: number;
  policy?: RetryPolicy;
  /** How long one attempt may hold a row; longer than any notifier's own deadline. */
  leaseMs?: number;
  /** Rows another replica stores are noticed at least this often. */
  pollMs?: number;
  concurrency?: number;
  now?: () => Date;
  random?: () => number;
  revive: (payload: unknown) => NotificationEvent;
  onDelivered?: (row: NotificationRecord, status: 'sent' | 'failed', attempt: DeliveryAttempt | null) => void;
  onError?: (err: unknown) => void;
}

export class NotificationDispatcher {
  private readonly limit;
  private readonly shutdown = new AbortController();
  private readonly inFlight = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private draining = false;
  /** Rows claimed by this process whose attempt has not finished. */
  private claimed = 0;
  private readonly maxClaimed: number;
  private again = false;
  private readonly policy: RetryPolicy;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly now: () => Date;
  private readonly random: () => number;

  constructor(private readonly o: DispatcherOptions) {
    this.limit = pLimit(o.concurrency ?? 4);
    this.maxClaimed = (o.concurrency ?? 4) * 4;
    this.policy = o.policy ?? DEFAULT_RETRY_POLICY;
    this.leaseMs = o.leaseMs ?? 120_000;
    this.pollMs = o.pollMs ?? 30_000;
    this.now = o.now ?? (() => new Date());
    this.random = o.random ?? Math.random;
  }

  /** When a row stored now must give up. */
  retryUntil(createdAt: Date): Date {
    return new Date(createdAt.getTime() + this.o.retryHours * 3600_000);
  }

  /** Look for due rows now (new rows were stored, or at start). */
  kick(): void {
    if (this.shutdown.signal.aborted) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  /**
   * Claims what is due and starts the attempts (in the background, at most `concurrency` at once
   * and a bounded number claimed ahead); a receiver that hangs never holds up the others' claims.
   */
  async drain(): Promise<void> {
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = true;
    let retryInMs: number | null = null;
    try {
      do {
        this.again = false;
        while (!this.shutdown.signal.aborted) {
          const room = Math.min(50, this.maxClaimed - this.claimed);
          if (room <= 0) break;
          const now = this.now();
          const rows = await this.o.store.claimDue(now, room, new Date(now.getTime() + this.leaseMs));
          for (const row of rows) {
            this.claimed++;
            void this.track(this.limit(() => this.attempt(row))).finally(() => {
              this.claimed--;
              // There was no room for everything due: look again now that there is.
              if (this.claimed === this.maxClaimed - 1) this.kick();
            });
          }
          if (rows.length < room) break;
        }
      } while (this.again && !this.shutdown.signal.aborted);
    } catch (err) {
      // The database is away: try again soon rather than at the next poll.
      this.o.onError?.(err);
      retryInMs = 5000;
    } finally {
      this.draining = false;
    }
    await this.scheduleNext(retryInMs);
  }

  /** Resolves once no attempt is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** One attempt at a row just stored (a test notification), awaited by the caller. */
  async deliverNow(id: string): Promise<void> {
    const now = this.now();
    const row = await this.o.store.claim(id, new Date(now.getTime() + this.leaseMs));
    if (row) await this.track(this.attempt(row));
  }

  async stop(): Promise<void> {
    this.shutdown.abort();
    if (this.timer) clearTimeout(this.timer);
    // Queued attempts still run: each sees the abort and gives its row back for the next start.
    await this.idle();
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  private async scheduleNext(retryInMs: number | null): Promise<void> {
    if (this.shutdown.signal.aborted) return;
    if (retryInMs !== null) return this.schedule(retryInMs);
    let next: Date | null = null;
    try {
      next = await this.o.store.nextDueAt();
    } catch (err) {
      this.o.onError?.(err);
      return this.schedule(5000);
    }
    const wait = next === null ? this.pollMs : Math.max(0, Math.min(this.pollMs, next.getTime() - this.now().getTime()));
    this.schedule(wait);
  }

  private schedule(ms: number): void {
    if (this.shutdown.signal.aborted) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = Date.now() + ms;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.drain();
    }, ms);
    this.timer.unref();
  }

  /** A retry was just planned: wake up for it unless a wake-up comes sooner anyway. */
  private wakeAt(at: Date): void {
    const ms = Math.max(0, at.getTime() - this.now().getTime());
    if (this.timer === null || this.timerAt > Date.now() + ms) this.schedule(ms);
  }

  private async attempt(row: NotificationRecord): Promise<void> {
    if (this.shutdown.signal.aborted) {
      await this.o.store.release(row.id, this.now()).catch((e: unknown) => this.o.onError?.(e));
      return;
    }
    try {
      const notifier = this.o.notifiers.get(row.channel);
      if (!notifier) {
        await this.o.store.abandon(row.id, `channel ${row.channel} is no longer configured`);
        this.o.onDelivered?.(row, 'failed', null);
        return;
      }
      const outcome = await attemptDelivery(notifier, this.o.revive(row.payload), this.shutdown.signal);
      // Stopped mid-attempt: not the receiver's failure; the row is resumed at the next start.
      if (!outcome.ok && this.shutdown.signal.aborted) {
        await this.o.store.release(row.id, this.now());
        return;
      }
      const n = row.attempts + 1;
      const now = this.now();
      const step = nextStep(outcome, n, now, row.retryUntil ?? this.retryUntil(row.createdAt), this.policy, this.random);
      const attempt = attemptRecord(outcome, n, step);
      const nextAttemptAt = step.status === 'pending' ? new Date(now.getTime() + step.delayMs) : null;
      await this.o.store.saveAttempt(row.id, { attempt, status: step.status, nextAttemptAt });
      if (nextAttemptAt) this.wakeAt(nextAttemptAt);
      else this.o.onDelivered?.(row, step.status as 'sent' | 'failed', attempt);
    } catch (err) {
      // The row keeps its lease and is taken again once the lease has passed.
      this.o.onError?.(err);
    }
  }
}
