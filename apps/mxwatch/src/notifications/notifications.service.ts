import { BadRequestException, Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import pLimit from 'p-limit';
import { AppLogger } from '../common/app-logger.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.types.js';
import { FindingsService, type FindingTransition } from '../runtime/findings.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { ChannelConfig, NotificationEvent, Notifier } from './notification.types.js';
import { createNotifier, createTestEvent, matchesFilter } from './notifiers/notifier-factory.js';
import { deliverWithRetry } from './notifiers/retry.js';
import { NotificationsRepository, type Notification } from '../storage/notifications.repository.js';

interface Channel {
  config: ChannelConfig;
  notifier: Notifier;
}

/**
 * Finding transitions -> one stored notification per matching channel -> delivery with retries
 * in the background. Delivery never blocks or fails a check; undelivered notifications survive
 * a restart (they are resumed at boot).
 */
@Injectable()
export class NotificationsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly channels: Channel[];
  private readonly limit = pLimit(4);
  private readonly shutdown = new AbortController();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly repo: NotificationsRepository,
    private readonly findings: FindingsService,
    private readonly metrics: MetricsService,
    private readonly logger: AppLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.channels = config.notifications.map((c) => ({ config: c, notifier: createNotifier(c) }));
  }

  async onApplicationBootstrap(): Promise<void> {
    this.findings.onTransition((t) => this.onTransition(t));
    const pending = await this.repo.pending();
    for (const n of pending) {
      const channel = this.channels.find((c) => c.config.name === n.channel);
      if (!channel) {
        await this.repo.finish(n.id, false);
        continue;
      }
      this.enqueue(channel, n, reviveEvent(n.payload));
    }
    if (pending.length > 0) this.logger.log({ msg: 'resuming undelivered notifications', count: pending.length }, 'Notifications');
  }

  async onApplicationShutdown(): Promise<void> {
    this.shutdown.abort();
    this.limit.clearQueue();
    await Promise.allSettled([...this.inFlight]);
    await Promise.allSettled(this.channels.map((c) => c.notifier.close?.()));
  }

  private async onTransition(t: FindingTransition): Promise<void> {
    try {
      const event: NotificationEvent = {
        kind: t.kind,
        domain: t.domain.name,
        domainLabels: t.domain.labels,
        finding: {
          id: t.finding.id,
          code: t.finding.code,
          severity: t.finding.severity as NotificationEvent['finding']['severity'],
          probe: t.finding.probe,
          target: t.finding.target,
          message: t.finding.message,
          remediation: t.finding.remediation,
          evidence: (t.finding.evidence ?? {}) as Record<string, unknown>,
          firstSeenAt: t.finding.firstSeenAt,
          lastSeenAt: t.finding.lastSeenAt,
          resolvedAt: t.finding.resolvedAt,
        },
        statusUrl: this.statusUrl(t.domain.name),
        sentAt: new Date(),
      };
      for (const channel of this.channels) {
        if (!matchesFilter(channel.config, event)) continue;
        const row = await this.repo.create({ findingId: t.finding.id, channel: channel.config.name, event: t.kind, payload: event });
        this.enqueue(channel, row, event);
      }
    } catch (e) {
      this.logger.error(e, 'Notifications');
    }
  }

  private enqueue(channel: Channel, row: Notification, event: NotificationEvent, attempts?: number): Promise<boolean> {
    const p = this.limit(async () => {
      const result = await deliverWithRetry(channel.notifier, event, {
        ...(attempts ? { attempts } : {}),
        signal: this.shutdown.signal,
        onAttempt: (a) => this.repo.recordAttempt(row.id, a),
      });
      // Shutting down mid-retry leaves the row pending, to be resumed at the next start.
      if (!result.ok && this.shutdown.signal.aborted) return false;
      await this.repo.finish(row.id, result.ok);
      this.metrics.m.notifications.inc({ channel: channel.config.name, status: result.ok ? 'sent' : 'failed' });
      const log = { context: 'Notifications', channel: channel.config.name, event: event.kind, domain: event.domain, code: event.finding.code, attempts: result.attempts };
      if (result.ok) this.logger.pino.info(log, 'notification sent');
      else this.logger.pino.warn({ ...log, error: result.lastError?.message }, 'notification failed');
      return result.ok;
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  /** Sends a test notification to every channel (or the one named) and waits for the outcome. */
  async sendTest(input: { channel?: string; domain?: string }): Promise<Notification[]> {
    const targets = input.channel ? this.channels.filter((c) => c.config.name === input.channel) : this.channels;
    if (this.channels.length === 0) throw new BadRequestException(['no notification channel is configured (MXWATCH_WEBHOOK_URL or notifications: in the YAML file)']);
    if (targets.length === 0) throw new BadRequestException([`channel must be one of ${this.channels.map((c) => c.config.name).join(', ')}`]);
    const domain = input.domain ?? 'example.com';
    const event = createTestEvent({ domain, statusUrl: this.statusUrl(domain), now: new Date() });
    const rows = await Promise.all(
      targets.map(async (c) => {
        const row = await this.repo.create({ findingId: null, channel: c.config.name, event: 'test', payload: event });
        await this.enqueue(c, row, event, 1);
        return row.id;
      }),
    );
    return this.repo.byIds(rows);
  }

  list(q: { status?: string; channel?: string; event?: string; limit?: number }): Promise<Notification[]> {
    return this.repo.list({ ...q, limit: q.limit ?? 100 });
  }

  private statusUrl(domain: string): string {
    return `${this.config.publicUrl}/api/v1/domains/${encodeURIComponent(domain)}/status`;
  }
}

/** Stored payloads are JSON: bring the dates back. */
function reviveEvent(payload: unknown): NotificationEvent {
  const e = payload as NotificationEvent & { sentAt: string; finding: Record<string, unknown> };
  const date = (v: unknown) => (typeof v === 'string' ? new Date(v) : null);
  return {
    ...e,
    sentAt: new Date(e.sentAt),
    finding: {
      ...(e.finding as unknown as NotificationEvent['finding']),
      firstSeenAt: date(e.finding.firstSeenAt)!,
      lastSeenAt: date(e.finding.lastSeenAt)!,
      resolvedAt: date(e.finding.resolvedAt),
    },
  };
}

export function notificationToDto(n: Notification) {
  return {
    id: n.id,
    findingId: n.findingId,
    channel: n.channel,
    event: n.event,
    status: n.status,
    attempts: n.attempts,
    lastError: n.lastError,
    attemptLog: n.attemptLog,
    createdAt: n.createdAt.toISOString(),
    sentAt: n.sentAt?.toISOString() ?? null,
    nextAttemptAt: n.nextAttemptAt?.toISOString() ?? null,
    payload: n.payload,
  };
}
