import type { NotificationEvent, NotificationItem } from '../notification.types.js';

/**
 * The items of a message. A one-item message is its `finding` (with the message's kind), so a
 * message built before grouping existed (a stored payload being retried) still reads right.
 */
export function messageItems(event: NotificationEvent): NotificationItem[] {
  if (event.findings !== undefined && event.findings.length > 1) return event.findings;
  return [{ ...event.finding, event: itemEvent(event.kind) }];
}

export function itemEvent(kind: NotificationEvent['kind']): NotificationItem['event'] {
  return kind === 'resolved' ? 'resolved' : kind === 'change' ? 'change' : 'opened';
}

/** What a message is about, in running text: the domain, or `mxwatch itself`. */
export function aboutText(event: Pick<NotificationEvent, 'domain'>): string {
  return event.domain ?? 'mxwatch itself';
}

/** The `Domain:` line of a text body: the domain, or why there is none. */
function domainLine(event: Pick<NotificationEvent, 'domain'>): string {
  return event.domain ?? '- (about mxwatch itself, not a domain: it is raised once for every domain)';
}

/** What names an item in a headline: its code, or for a policy change what changed. */
function label(item: Pick<NotificationItem, 'code' | 'message'> & { event?: string }, kind: string): string {
  return kind === 'change' ? item.message : item.code;
}

/**
 * `OPENED critical STARTTLS_NOT_OFFERED on example.com`: subject line, chat headline, log line.
 * A grouped message names its headline finding and counts the rest:
 * `OPENED critical STARTTLS_NOT_OFFERED and 2 more on example.com; 1 resolved`.
 * About the monitor: `OPENED warning MONITOR_RESOLVER_NOT_VALIDATING on mxwatch itself`.
 */
export function headline(event: NotificationEvent): string {
  const { finding } = event;
  const items = messageItems(event);
  const kind = event.kind.toUpperCase();
  if (items.length <= 1) return `${kind} ${finding.severity} ${label(finding, event.kind)} on ${aboutText(event)}`;
  const same = items.filter((i) => i.event === itemEvent(event.kind)).length;
  const other = items.length - same;
  const more = same > 1 ? ` and ${same - 1} more` : '';
  return `${kind} ${finding.severity} ${label(finding, event.kind)}${more} on ${aboutText(event)}${other > 0 ? `; ${other} resolved` : ''}`;
}

/** Evidence values can be anything the probe stored; operators need a readable, bounded line each. */
export function formatEvidenceValue(value: unknown, maxLength = 200): string {
  let text: string;
  if (value instanceof Date) text = value.toISOString();
  else if (typeof value === 'string') text = value;
  else if (value === undefined) text = 'undefined';
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
}

/**
 * `key: value` lines, sorted so the same evidence always reads the same, and bounded: whole
 * lines are dropped (never cut mid-line) with a note saying how many, once either `maxLines`
 * or `maxChars` (measured after `render`, e.g. escaping) would be exceeded.
 */
export function evidenceLines(
  evidence: Record<string, unknown>,
  opts: { maxLines?: number; maxChars?: number; render?: (line: string) => string } = {},
): string[] {
  const { maxLines = 20, maxChars = Number.POSITIVE_INFINITY, render = (l: string) => l } = opts;
  const keys = Object.keys(evidence).sort();
  const note = (n: number) => render(`(${n} more in the status page)`);
  const lines: string[] = [];
  let used = 0;
  for (const key of keys) {
    const line = render(`${key}: ${formatEvidenceValue(evidence[key])}`);
    const reserve = lines.length + 1 < keys.length ? note(keys.length).length + 1 : 0;
    if (lines.length >= maxLines || used + line.length + 1 + reserve > maxChars) break;
    lines.push(line);
    used += line.length + 1;
  }
  if (lines.length < keys.length) lines.push(note(keys.length - lines.length));
  return lines;
}

export function formatDate(date: Date | null): string {
  return date === null ? '-' : date.toISOString();
}

function labelText(event: NotificationEvent): string {
  return Object.entries(event.domainLabels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** Every field of the event as plain text, the body of an email and the fallback of a chat post. */
export function plainTextBody(event: NotificationEvent): string {
  const items = messageItems(event);
  if (items.length > 1) return groupedPlainTextBody(event, items);
  const { finding } = event;
  const labels = labelText(event);
  const evidence = evidenceLines(finding.evidence);
  return [
    `${headline(event)}`,
    '',
    finding.message,
    '',
    `Event:       ${event.kind}`,
    `Domain:      ${domainLine(event)}`,
    `Labels:      ${labels || '-'}`,
    `Code:        ${finding.code}`,
    `Severity:    ${finding.severity}`,
    `Probe:       ${finding.probe}`,
    `Target:      ${finding.target}`,
    `Finding id:  ${finding.id}`,
    `First seen:  ${formatDate(finding.firstSeenAt)}`,
    `Last seen:   ${formatDate(finding.lastSeenAt)}`,
    `Resolved:    ${formatDate(finding.resolvedAt)}`,
    `Sent:        ${formatDate(event.sentAt)}`,
    '',
    'Remediation:',
    finding.remediation,
    '',
    'Evidence:',
    ...(evidence.length ? evidence.map((l) => `  ${l}`) : ['  -']),
    '',
    `Status: ${event.statusUrl}`,
    '',
  ].join('\n');
}

/** A grouped message: the domain once, then each finding with what happened to it. */
function groupedPlainTextBody(event: NotificationEvent, items: NotificationItem[]): string {
  const opened = items.filter((i) => i.event === 'opened').length;
  const summary =
    event.kind === 'change'
      ? `${items.length} changes of the policy ${event.domain} publishes, seen in one check.`
      : `${opened} finding${opened === 1 ? '' : 's'} opened, ${items.length - opened} resolved on ${aboutText(event)} in one check.`;
  const lines = [
    headline(event),
    '',
    summary,
    '',
    `Domain:      ${domainLine(event)}`,
    `Labels:      ${labelText(event) || '-'}`,
    `Sent:        ${formatDate(event.sentAt)}`,
  ];
  items.forEach((item, i) => {
    const evidence = evidenceLines(item.evidence, { maxLines: 10 });
    lines.push(
      '',
      `${i + 1}. ${item.event.toUpperCase()} ${item.severity} ${item.code}`,
      `   ${item.message}`,
      `   Probe:       ${item.probe}`,
      `   Target:      ${item.target}`,
      `   Finding id:  ${item.id}`,
      `   First seen:  ${formatDate(item.firstSeenAt)}`,
      ...(item.event === 'resolved' ? [`   Resolved:    ${formatDate(item.resolvedAt)}`] : []),
      `   Remediation: ${item.remediation}`,
      '   Evidence:',
      ...(evidence.length ? evidence.map((l) => `     ${l}`) : ['     -']),
    );
  });
  lines.push('', `Status: ${event.statusUrl}`, '');
  return lines.join('\n');
}
