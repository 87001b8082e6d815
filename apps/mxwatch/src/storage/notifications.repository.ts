import { Injectable } from '@nestjs/common';
import { Prisma, type Notification } from '../generated/prisma/client.js';
import { DatabaseService } from '../database/database.service.js';
import type { DeliveryAttempt } from '../notifications/notifiers/retry.js';

export type { Notification };

@Injectable()
export class NotificationsRepository {
  constructor(private readonly db: DatabaseService) {}

  create(input: { findingId: string | null; channel: string; event: string; payload: unknown }): Promise<Notification> {
    return this.db.prisma.notification.create({
      data: {
        findingId: input.findingId,
        channel: input.channel,
        event: input.event,
        status: 'pending',
        payload: JSON.parse(JSON.stringify(input.payload)) as Prisma.InputJsonValue,
      },
    });
  }

  /** Every attempt is appended to the row's log, so operators can see each try and why it failed. */
  async recordAttempt(id: string, attempt: DeliveryAttempt): Promise<void> {
    const row = await this.db.prisma.notification.findUnique({ where: { id }, select: { attemptLog: true } });
    const log = Array.isArray(row?.attemptLog) ? (row!.attemptLog as Prisma.JsonArray) : [];
    await this.db.prisma.notification.update({
      where: { id },
      data: {
        attempts: attempt.n,
        lastError: attempt.ok ? null : (attempt.error ?? 'failed'),
        nextAttemptAt: attempt.nextDelayMs !== undefined ? new Date(Date.now() + attempt.nextDelayMs) : null,
        attemptLog: [...log, JSON.parse(JSON.stringify(attempt)) as Prisma.InputJsonValue],
      },
    });
  }

  finish(id: string, ok: boolean): Promise<Notification> {
    return this.db.prisma.notification.update({ where: { id }, data: { status: ok ? 'sent' : 'failed', sentAt: ok ? new Date() : null, nextAttemptAt: null } });
  }

  pending(): Promise<Notification[]> {
    return this.db.prisma.notification.findMany({ where: { status: 'pending' }, orderBy: { createdAt: 'asc' }, take: 1000 });
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
