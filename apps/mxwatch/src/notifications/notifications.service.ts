import { BadRequestException, ConflictException, Inject, Injectable, NotFoundException, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AppLogger } from '../common/app-logger.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.types.js';
import { FindingsService, type RunTransitions } from '../runtime/findings.service.js';
import { DatabaseOutage } from '../runtime/run-buffer.js';
import { EventBus, type PolicyChangedEvent } from '../runtime/events.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { Finding } from '../storage/findings.repository.js';
import { NotificationsRepository, type Notification } from '../storage/notifications.repository.js';
import type { ChannelConfig, NotificationEvent, NotificationFinding, NotificationItem, Notifier } from './notification.types.js';
import { NotificationDispatcher, type NotificationRecord } from './notification-dispatcher.js';
import { eventForChannel, groupEvent } from './notification-group.js';
import { createNotifier, createTestEvent } from './notifiers/notifier-factory.js';
import { itemEvent, messageItems } from './notifiers/notification-format.js';
import { redactReason, type DeliveryAttempt } from './notifiers/retry.js';

/**
 * Finding transitions -> one message per run, domain and matching channel, stored -> delivered
 * by the dispatcher, retried with backoff for MXWATCH_NOTIFY_RETRY_HOURS. Delivery never blocks
 * or fails a check; the stored row is the queue, so deliveries survive a restart.
 */
@Injectable()
export class NotificationsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly channels: ChannelConfig[];
  private readonly notifiers = new Map<string, Notifier>();
  readonly dispatcher: NotificationDispatcher;

  constructor(
    private readonly repo: NotificationsRepository,
    private readonly findings: FindingsService,
    private readonly metrics: MetricsService,
    private readonly logger: AppLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly outage: DatabaseOutage,
    private readonly events: EventBus,
  ) {
    this.channels = config.notifications;
    for (const c of config.notifications) this.notifiers.set(c.name, createNotifier(c));
    this.dispatcher = new NotificationDispatcher({
      store: repo,
      notifiers: this.notifiers,
      retryHours: config.notifyRetryHours,
      revive: reviveEvent,
      onDelivered: (row, status, attempt) => this.onDelivered(row, status, attempt),
      // A database outage is logged once, by DatabaseOutage; deliveries resume when it ends.
      onError: (e) => {
        if (!this.outage.failed(e, 'Notifications')) this.logger.error(e, 'Notifications');
      },
    });
  }

  onApplicationBootstrap(): void {
    this.findings.onRunTransitions((r) => this.onRun(r));
    this.events.on('policy.changed', (e) => this.onPolicyChanged(e));
    // Resumes what a previous process left pending, each at its stored next-attempt time.
    this.dispatcher.kick();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.dispatcher.stop();
    await Promise.allSettled([...this.notifiers.values()].map((n) => n.close?.()));
  }

  private async onRun(r: RunTransitions): Promise<void> {
    try {
      const sentAt = new Date();
      const items: NotificationItem[] = [
        ...r.opened.map((f) => ({ event: 'opened' as const, ...toNotificationFinding(f) })),
        ...r.resolved.map((f) => ({ event: 'resolved' as const, ...toNotificationFinding(f) })),
      ];
      // About mxwatch itself (domain null): a message of its own, linking to the overview, whose banner shows it.
      const event = r.domain
        ? groupEvent({ domain: r.domain.name, domainLabels: r.domain.labels, items, statusUrl: this.statusUrl(r.domain.name), sentAt })
        : groupEvent({ domain: null, domainLabels: {}, items, statusUrl: `${this.config.publicUrl}/`, sentAt });
      if (event) await this.store(event, sentAt);
    } catch (e) {
      this.logger.error(e, 'Notifications');
    }
  }

  /**
   * What one run changed in the policy a domain publishes: one `change` message per channel. A
   * weakening change is a warning, any other info, so a channel's minSeverity applies to them.
   */
  private async onPolicyChanged(e: PolicyChangedEvent): Promise<void> {
    try {
      const sentAt = new Date();
      const items: NotificationItem[] = e.changes.map((c) => ({
        event: 'change' as const,
        id: `change-${c.id}`,
        code: 'POLICY_CHANGED',
        severity: c.weakening ? ('warning' as const) : ('info' as const),
        probe: c.probe,
        target: e.domain.name,
        message: c.text,
        remediation: c.weakening
          ? 'This change lowers the protection the domain publishes: confirm it was intended, and if not, restore the previous record.'
          : 'Nothing to fix if the change was intended.',
        evidence: { kind: c.kind, probe: c.probe, weakening: c.weakening },
        firstSeenAt: e.observedAt,
        lastSeenAt: e.observedAt,
        resolvedAt: null,
      }));
      const event = groupEvent({ domain: e.domain.name, domainLabels: e.domain.labels, items, statusUrl: this.statusUrl(e.domain.name), sentAt });
      if (event) await this.store({ ...event, kind: 'change' }, sentAt);
    } catch (err) {
      this.logger.error(err, 'Notifications');
    }
  }

  /** One row per channel that wants (part of) the message; delivery starts at once in the background. */
  private async store(event: NotificationEvent, now: Date): Promise<void> {
    let stored = 0;
    for (const channel of this.channels) {
      const own = eventForChannel(channel, event);
      if (!own) continue;
      await this.repo.create({ findingId: findingIdOf(own), channel: channel.name, event: own.kind, payload: own, nextAttemptAt: now, retryUntil: this.dispatcher.retryUntil(now) });
      stored++;
    }
    if (stored > 0) this.dispatcher.kick();
  }

  private onDelivered(row: NotificationRecord, status: 'sent' | 'failed', attempt: DeliveryAttempt | null): void {
    this.metrics.m.notifications.inc({ channel: row.channel, status });
    const event = reviveEvent(row.payload);
    const log = { context: 'Notifications', id: row.id, channel: row.channel, event: row.event, domain: event.domain, code: event.finding.code, items: messageItems(event).length, attempts: attempt?.n ?? row.attempts };
    if (status === 'sent') this.logger.pino.info(log, 'notification sent');
    else this.logger.pino.warn({ ...log, error: attempt?.error }, 'notification failed');
  }

  /** Sends a test notification to every channel (or the one named): one attempt each, awaited. */
  async sendTest(input: { channel?: string; domain?: string }): Promise<Notification[]> {
    const targets = input.channel ? this.channels.filter((c) => c.name === input.channel) : this.channels;
    if (this.channels.length === 0) throw new BadRequestException(['no notification channel is configured (MXWATCH_WEBHOOK_URL or notifications: in the YAML file)']);
    if (targets.length === 0) throw new BadRequestException([`channel must be one of ${this.channels.map((c) => c.name).join(', ')}`]);
    const domain = input.domain ?? 'example.com';
    const now = new Date();
    const event = createTestEvent({ domain, statusUrl: this.statusUrl(domain), now });
    const ids = await Promise.all(
      targets.map(async (c) => {
        // Not due (the dispatcher must not take it) and already past its retry window: one attempt.
        const row = await this.repo.create({ findingId: null, channel: c.name, event: 'test', payload: event, nextAttemptAt: new Date(now.getTime() + 3600_000), retryUntil: now });
        await this.dispatcher.deliverNow(row.id);
        return row.id;
      }),
    );
    return this.repo.byIds(ids);
  }

  /**
   * Sends a failed notification again, with a fresh retry window. 404 when there is no such
   * notification, 409 when it is not failed (pending: already being retried; sent: delivered) or
   * its channel is no longer configured.
   */
  async retry(id: string): Promise<Notification> {
    const row = UUID.test(id) ? await this.repo.findById(id) : null;
    if (!row) throw new NotFoundException(`notification ${id} does not exist`);
    if (row.status !== 'failed') {
      throw new ConflictException(row.status === 'sent' ? `notification ${id} was already delivered` : `notification ${id} is already being retried (next attempt ${row.nextAttemptAt?.toISOString() ?? 'now'})`);
    }
    if (!this.notifiers.has(row.channel)) throw new ConflictException(`channel ${row.channel} of notification ${id} is no longer configured`);
    const now = new Date();
    const requeued = await this.repo.requeue(id, now, this.dispatcher.retryUntil(now));
    if (!requeued) throw new ConflictException(`notification ${id} changed while it was being retried; read it again`);
    this.dispatcher.kick();
    return requeued;
  }

  list(q: { status?: string; channel?: string; event?: string; limit?: number }): Promise<Notification[]> {
    return this.repo.list({ ...q, limit: q.limit ?? 100 });
  }

  /** The domain's status page (a person follows the link; the JSON stays at /api/v1/domains/{name}/status). */
  private statusUrl(domain: string): string {
    return `${this.config.publicUrl}/domains/${encodeURIComponent(domain)}`;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toNotificationFinding(f: Finding): NotificationFinding {
  return {
    id: f.id,
    code: f.code,
    severity: f.severity as NotificationFinding['severity'],
    probe: f.probe,
    target: f.target,
    message: f.message,
    remediation: f.remediation,
    evidence: (f.evidence ?? {}) as Record<string, unknown>,
    firstSeenAt: f.firstSeenAt,
    lastSeenAt: f.lastSeenAt,
    resolvedAt: f.resolvedAt,
  };
}

/** The headline finding, when the message is about one stored finding. */
function findingIdOf(event: NotificationEvent): string | null {
  return event.kind === 'opened' || event.kind === 'resolved' ? event.finding.id : null;
}

/** Stored payloads are JSON: bring the dates back. Payloads stored before grouping have no `findings`. */
export function reviveEvent(payload: unknown): NotificationEvent {
  const e = payload as NotificationEvent & { sentAt: string };
  const date = (v: unknown) => (typeof v === 'string' ? new Date(v) : v instanceof Date ? v : null);
  const finding = <T extends object>(f: T): T =>
    ({ ...f, firstSeenAt: date((f as Record<string, unknown>).firstSeenAt)!, lastSeenAt: date((f as Record<string, unknown>).lastSeenAt)!, resolvedAt: date((f as Record<string, unknown>).resolvedAt) }) as T;
  const head = finding(e.finding);
  return {
    ...e,
    sentAt: date(e.sentAt)!,
    finding: head,
    findings: Array.isArray(e.findings) && e.findings.length > 0 ? e.findings.map(finding) : [{ ...head, event: itemEvent(e.kind) }],
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
    // Redacted again on the way out: rows stored by older versions kept receivers' answers.
    lastError: n.lastError === null ? null : redactReason(n.lastError),
    attemptLog: Array.isArray(n.attemptLog) ? n.attemptLog.map(attemptToDto) : [],
    createdAt: n.createdAt.toISOString(),
    sentAt: n.sentAt?.toISOString() ?? null,
    nextAttemptAt: n.status === 'pending' ? (n.nextAttemptAt?.toISOString() ?? null) : null,
    retryUntil: n.status === 'pending' ? (n.retryUntil?.toISOString() ?? null) : null,
    payload: n.payload,
  };
}

/** Only the fields an attempt has, each of the expected type: whatever else a row holds stays in. */
function attemptToDto(raw: unknown): Record<string, unknown> {
  const a = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of ['n', 'durationMs', 'status', 'nextDelayMs'] as const) if (typeof a[key] === 'number') out[key] = a[key];
  for (const key of ['ok', 'retryable'] as const) if (typeof a[key] === 'boolean') out[key] = a[key];
  if (typeof a.startedAt === 'string') out.startedAt = a.startedAt;
  if (typeof a.code === 'string') out.code = a.code;
  if (typeof a.error === 'string') out.error = redactReason(a.error);
  return out;
}
