/**
 * Grouping: what one run opens and resolves for one domain becomes one message per channel
 * (Alertmanager's group-by-domain), instead of one message per finding. A broken MX host easily
 * raises five findings at once; five pages for one cause train people to ignore them.
 */
import { SEVERITY_RANK, type ChannelConfig, type NotificationEvent, type NotificationFinding, type NotificationItem } from './notification.types.js';

const EVENT_ORDER: Record<NotificationItem['event'], number> = { opened: 0, change: 1, resolved: 2 };

/** Headline first: opened before resolved, then the most severe, then by code and target. */
export function orderItems(items: readonly NotificationItem[]): NotificationItem[] {
  return [...items].sort(
    (a, b) =>
      EVENT_ORDER[a.event] - EVENT_ORDER[b.event] ||
      SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
      a.code.localeCompare(b.code) ||
      a.target.localeCompare(b.target),
  );
}

/** Builds the message for one run of one domain; null when the run changed nothing. */
export function groupEvent(input: {
  /** null: about mxwatch itself. */
  domain: string | null;
  domainLabels: Record<string, string>;
  items: readonly NotificationItem[];
  statusUrl: string;
  sentAt: Date;
}): NotificationEvent | null {
  if (input.items.length === 0) return null;
  const findings = orderItems(input.items);
  const head = findings[0]!;
  return {
    kind: head.event,
    domain: input.domain,
    domainLabels: { ...input.domainLabels },
    finding: withoutEvent(head),
    findings,
    statusUrl: input.statusUrl,
    sentAt: input.sentAt,
  };
}

/**
 * The part of a message a channel wants: its items at or above `minSeverity`, and only when the
 * domain carries every label of `labels` (so a channel limited to some domains' labels gets no
 * message about mxwatch itself; one without `labels` does). Null when nothing is left. A `test` message always
 * goes out: the operator asking for a test wants to see every channel answer.
 */
export function eventForChannel(config: ChannelConfig, event: NotificationEvent): NotificationEvent | null {
  if (event.kind === 'test') return event;
  for (const [key, value] of Object.entries(config.labels ?? {})) {
    if (!Object.prototype.hasOwnProperty.call(event.domainLabels, key) || event.domainLabels[key] !== value) return null;
  }
  const min = config.minSeverity;
  if (!min) return event;
  const kept = event.findings.filter((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK[min]);
  if (kept.length === event.findings.length) return event;
  return groupEvent({ domain: event.domain, domainLabels: event.domainLabels, items: kept, statusUrl: event.statusUrl, sentAt: event.sentAt });
}

function withoutEvent(item: NotificationItem): NotificationFinding {
  const { event: _event, ...finding } = item;
  return finding;
}
