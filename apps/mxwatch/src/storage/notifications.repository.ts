import { Injectable } from '@nestjs/common';
import { Prisma, type Notification } from '../generated/prisma/client.js';
import { DatabaseService } from '../database/database.service.js';

export type { Notification };

/** The attempt log keeps the first attempt and the latest ones: a day of retries is ~200 attempts. */
const MAX_LOGGED_ATTEMPTS = 50;

/** One delivery attempt as the attempt log keeps it (notifications/notifiers/retry.ts makes them). */
export interface StoredAttempt {
  n: number;
  ok: boolean;
  startedAt: Date;
  durationMs: number;
  error?: string;
  code?: string;
  status?: number;
  retryable?: boolean;
  nextDelayMs?: number;
}

export interface AttemptUpdate {
  attempt: StoredAttempt;
  status: 'pending' | 'sent' | 'failed';
  nextAttemptAt: Date | null;
}

export interface NewNotification {
  findingId: string | null;
  channel: string;
  event: string;
  payload: unknown;
  nextAttemptAt: Date;
  retryUntil: Date;
}

/** The notifications table is the delivery queue: see notification-dispatcher.ts. */
@Injectable()
export class NotificationsRepository {
  constructor(private readonly db: DatabaseService) {}

  create(input: NewNotification): Promise<Notification> {
    return this.db.prisma.notification.create({
      data: {
        findingId: input.findingId,
        channel: input.channel,
        event: input.event,
        status: 'pending',
        payload: JSON.parse(JSON.stringify(input.payload)) as Prisma.InputJsonValue,
        nextAttemptAt: input.nextAttemptAt,
        retryUntil: input.retryUntil,
      },
    });
  }

  async claimDue(now: Date, limit: number, leaseUntil: Date): Promise<Notification[]> {
    const due = await this.db.prisma.notification.findMany({
      where: { status: 'pending', nextAttemptAt: { lte: now } },
      orderBy: [{ nextAttemptAt: 'asc' }, { id: 'asc' }],
      take: limit,
      select: { id: true, nextAttemptAt: true },
    });
    const claimed: Notification[] = [];
    for (const row of due) {
      // Compare-and-set on the time we read: another process that took the row moved it.
      const r = await this.db.prisma.notification.updateMany({
        where: { id: row.id, status: 'pending', nextAttemptAt: row.nextAttemptAt },
        data: { nextAttemptAt: leaseUntil },
      });
      if (r.count === 1) {
        const full = await this.db.prisma.notification.findUnique({ where: { id: row.id } });
        if (full) claimed.push(full);
      }
    }
    return claimed;
  }

  async claim(id: string, leaseUntil: Date): Promise<Notification | null> {
    const r = await this.db.prisma.notification.updateMany({ where: { id, status: 'pending' }, data: { nextAttemptAt: leaseUntil } });
    return r.count === 1 ? this.db.prisma.notification.findUnique({ where: { id } }) : null;
  }

  async saveAttempt(id: string, update: AttemptUpdate): Promise<void> {
    const row = await this.db.prisma.notification.findUnique({ where: { id }, select: { attemptLog: true } });
    const log = appendAttempt(Array.isArray(row?.attemptLog) ? (row!.attemptLog as Prisma.JsonArray) : [], update.attempt);
    await this.db.prisma.notification.update({
      where: { id },
      data: {
        status: update.status,
        attempts: update.attempt.n,
        lastError: update.attempt.ok ? null : (update.attempt.error ?? 'failed'),
        nextAttemptAt: update.nextAttemptAt,
        sentAt: update.status === 'sent' ? new Date() : null,
        attemptLog: log,
      },
    });
  }

  async release(id: string, nextAttemptAt: Date): Promise<void> {
    await this.db.prisma.notification.updateMany({ where: { id, status: 'pending' }, data: { nextAttemptAt } });
  }

  async abandon(id: string, reason: string): Promise<void> {
    await this.db.prisma.notification.update({ where: { id }, data: { status: 'failed', lastError: reason, nextAttemptAt: null } });
  }

  async nextDueAt(): Promise<Date | null> {
    const r = await this.db.prisma.notification.aggregate({ where: { status: 'pending' }, _min: { nextAttemptAt: true } });
    return r._min.nextAttemptAt;
  }

  findById(id: string): Promise<Notification | null> {
    return this.db.prisma.notification.findUnique({ where: { id } });
  }

  /** A failed row goes back to the queue, due now, with a fresh retry window; null when it is not failed (any more). */
  async requeue(id: string, now: Date, retryUntil: Date): Promise<Notification | null> {
    const r = await this.db.prisma.notification.updateMany({ where: { id, status: 'failed' }, data: { status: 'pending', nextAttemptAt: now, retryUntil, sentAt: null } });
    return r.count === 1 ? this.db.prisma.notification.findUnique({ where: { id } }) : null;
  }

  byIds(ids: string[]): Promise<Notification[]> {
    return this.db.prisma.notification.findMany({ where: { id: { in: ids } }, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }] });
  }

  list(q: { status?: string; channel?: string; event?: string; limit: number }): Promise<Notification[]> {
    return this.db.prisma.notification.findMany({
      where: { ...(q.status ? { status: q.status } : {}), ...(q.channel ? { channel: q.channel } : {}), ...(q.event ? { event: q.event } : {}) },
      orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
      take: q.limit,
    });
  }
}

function appendAttempt(log: Prisma.JsonArray, attempt: StoredAttempt): Prisma.InputJsonValue[] {
  const next = [...(log as Prisma.InputJsonValue[]), JSON.parse(JSON.stringify(attempt)) as Prisma.InputJsonValue];
  return next.length > MAX_LOGGED_ATTEMPTS ? [next[0]!, ...next.slice(next.length - MAX_LOGGED_ATTEMPTS + 1)] : next;
}
