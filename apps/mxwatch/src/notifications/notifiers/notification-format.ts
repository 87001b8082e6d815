import type { NotificationEvent } from '../notification.types.js';

/** `OPENED critical STARTTLS_NOT_OFFERED on example.com`: subject line, chat headline, log line. */
export function headline(event: NotificationEvent): string {
  const { finding } = event;
  return `${event.kind.toUpperCase()} ${finding.severity} ${finding.code} on ${event.domain}`;
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

/** Every field of the event as plain text, the body of an email and the fallback of a chat post. */
export function plainTextBody(event: NotificationEvent): string {
  const { finding } = event;
  const labels = Object.entries(event.domainLabels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const evidence = evidenceLines(finding.evidence);
  return [
    `${headline(event)}`,
    '',
    finding.message,
    '',
    `Event:       ${event.kind}`,
    `Domain:      ${event.domain}`,
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
