import { describe, expect, it } from 'vitest';
import type { ChannelConfig, NotificationItem, Severity } from './notification.types.js';
import { eventForChannel, groupEvent, orderItems } from './notification-group.js';
import { createTestEvent } from './notifiers/notifier-factory.js';
import { sampleFinding } from './notifiers/notification.fixture.js';
import { headline, plainTextBody } from './notifiers/notification-format.js';

const webhook: ChannelConfig = { type: 'webhook', name: 'hook', url: 'https://hooks.example.net/mxwatch' };
const sentAt = new Date('2026-03-01T10:05:01.000Z');

function item(event: 'opened' | 'resolved', severity: Severity, code: string, target = 'mx1.example.com'): NotificationItem {
  return { ...sampleFinding({ id: `${code}-${target}`, severity, code, target }), event };
}

function group(items: NotificationItem[], labels: Record<string, string> = { env: 'prod', team: 'mail' }) {
  return groupEvent({ domain: 'example.com', domainLabels: labels, items, statusUrl: 'http://x.test/s', sentAt })!;
}

describe(groupEvent.name, () => {
  it('should make one message of everything a run opened and resolved, opened first and most severe first', () => {
    const event = group([
      item('resolved', 'critical', 'DNSBL_LISTED'),
      item('opened', 'warning', 'TLS_CERT_EXPIRING'),
      item('opened', 'critical', 'STARTTLS_NOT_OFFERED', 'mx2.example.com'),
      item('opened', 'critical', 'STARTTLS_NOT_OFFERED', 'mx1.example.com'),
    ]);
    expect(event.kind).toBe('opened');
    expect(event.findings.map((f) => [f.event, f.code, f.target])).toEqual([
      ['opened', 'STARTTLS_NOT_OFFERED', 'mx1.example.com'],
      ['opened', 'STARTTLS_NOT_OFFERED', 'mx2.example.com'],
      ['opened', 'TLS_CERT_EXPIRING', 'mx1.example.com'],
      ['resolved', 'DNSBL_LISTED', 'mx1.example.com'],
    ]);
    expect(event.finding).toMatchObject({ code: 'STARTTLS_NOT_OFFERED', target: 'mx1.example.com' });
    expect(event.finding).not.toHaveProperty('event');
  });

  it('should be a resolution when the run only resolved', () => {
    const event = group([item('resolved', 'warning', 'TLS_CERT_EXPIRING'), item('resolved', 'critical', 'DNSBL_LISTED')]);
    expect(event.kind).toBe('resolved');
    expect(event.finding.code).toBe('DNSBL_LISTED');
  });

  it('should make no message of a run that changed nothing', () => {
    expect(groupEvent({ domain: 'example.com', domainLabels: {}, items: [], statusUrl: 'http://x.test/s', sentAt })).toBeNull();
  });

  it('should order deterministically whatever the input order', () => {
    const items = [item('opened', 'info', 'B'), item('resolved', 'critical', 'A'), item('opened', 'info', 'A'), item('opened', 'critical', 'Z')];
    const orders = [items, [...items].reverse(), [items[2]!, items[0]!, items[3]!, items[1]!]].map((list) => orderItems(list).map((i) => i.code));
    expect(orders[0]).toEqual(['Z', 'A', 'B', 'A']);
    expect(orders[1]).toEqual(orders[0]);
    expect(orders[2]).toEqual(orders[0]);
  });
});

describe(eventForChannel.name, () => {
  it.each<[Severity | undefined, Severity, boolean]>([
    [undefined, 'info', true],
    ['critical', 'critical', true],
    ['critical', 'warning', false],
    ['critical', 'info', false],
    ['warning', 'critical', true],
    ['warning', 'warning', true],
    ['warning', 'info', false],
    ['info', 'info', true],
  ])('should with minSeverity %s take a %s finding: %s', (minSeverity, severity, expected) => {
    const event = group([item('opened', severity, 'X')]);
    expect(eventForChannel({ ...webhook, ...(minSeverity ? { minSeverity } : {}) }, event) !== null).toBe(expected);
  });

  it('should give a channel only the items at or above its severity, with its own headline', () => {
    const event = group([item('opened', 'warning', 'TLS_CERT_EXPIRING'), item('resolved', 'critical', 'DNSBL_LISTED'), item('opened', 'info', 'SOMETHING_INFO')]);
    const own = eventForChannel({ ...webhook, minSeverity: 'critical' }, event)!;
    expect(own.kind).toBe('resolved');
    expect(own.findings.map((f) => f.code)).toEqual(['DNSBL_LISTED']);
    expect(own.finding.code).toBe('DNSBL_LISTED');
    expect(eventForChannel({ ...webhook, minSeverity: 'warning' }, event)!.findings.map((f) => f.code)).toEqual(['TLS_CERT_EXPIRING', 'DNSBL_LISTED']);
    expect(eventForChannel(webhook, event)).toBe(event);
  });

  it('should take only domains carrying every filter label with the same value', () => {
    const config: ChannelConfig = { ...webhook, labels: { env: 'prod', team: 'mail' } };
    const e = (labels: Record<string, string>) => group([item('opened', 'critical', 'X')], labels);
    expect(eventForChannel(config, e({ env: 'prod', team: 'mail', region: 'eu' }))).not.toBeNull();
    expect(eventForChannel(config, e({ env: 'prod' }))).toBeNull();
    expect(eventForChannel(config, e({ env: 'staging', team: 'mail' }))).toBeNull();
    expect(eventForChannel(config, e({}))).toBeNull();
    expect(eventForChannel({ ...webhook, labels: {} }, e({}))).not.toBeNull();
  });

  it('should let a test notification through every filter', () => {
    const config: ChannelConfig = { ...webhook, minSeverity: 'critical', labels: { env: 'prod' } };
    const event = createTestEvent({ domain: 'example.com', statusUrl: 'http://x.test/s', now: new Date('2026-03-01T00:00:00Z') });
    expect(event.finding.severity).toBe('info');
    expect(eventForChannel(config, event)).toBe(event);
  });
});

describe('policy change messages', () => {
  const change = (severity: Severity, message: string): NotificationItem => ({ ...sampleFinding({ id: `change-${message}`, code: 'POLICY_CHANGED', severity, message }), event: 'change' });

  it('should head a change message with what changed, the weakening ones first, and keep only what a channel wants', () => {
    const event = groupEvent({ domain: 'example.com', domainLabels: {}, items: [change('info', 'MX mx3.example.net added (preference 30)'), change('warning', 'DMARC policy reject → none')], statusUrl: 'http://x.test/s', sentAt })!;
    expect(event.kind).toBe('change');
    expect(headline(event)).toBe('CHANGE warning DMARC policy reject → none and 1 more on example.com');
    expect(plainTextBody(event)).toContain('2 changes of the policy example.com publishes, seen in one check.');
    const own = eventForChannel({ ...webhook, minSeverity: 'warning' }, event)!;
    expect(own.findings.map((f) => f.message)).toEqual(['DMARC policy reject → none']);
    expect(headline(own)).toBe('CHANGE warning DMARC policy reject → none on example.com');
    expect(eventForChannel({ ...webhook, minSeverity: 'critical' }, event)).toBeNull();
  });
});

describe('a message about mxwatch itself', () => {
  const monitor = (event: 'opened' | 'resolved') => ({ ...item(event, 'warning', 'MONITOR_RESOLVER_NOT_VALIDATING', 'resolver'), probe: 'dnssec', message: 'The DNS resolver mxwatch uses does not validate DNSSEC' });
  const about = (items: NotificationItem[]) => groupEvent({ domain: null, domainLabels: {}, items, statusUrl: 'http://x.test/', sentAt })!;

  it('should say in its headline and body that it is about mxwatch, not a domain', () => {
    const one = about([monitor('opened')]);
    expect(headline(one)).toBe('OPENED warning MONITOR_RESOLVER_NOT_VALIDATING on mxwatch itself');
    expect(plainTextBody(one)).toContain('Domain:      - (about mxwatch itself, not a domain: it is raised once for every domain)');
    expect(plainTextBody(one)).toContain('Status: http://x.test/');
    const two = about([monitor('opened'), { ...monitor('resolved'), code: 'MONITOR_DNSBL_RESOLVER_PUBLIC', target: 'dnsbl-resolver' }]);
    expect(headline(two)).toBe('OPENED warning MONITOR_RESOLVER_NOT_VALIDATING on mxwatch itself; 1 resolved');
    expect(plainTextBody(two)).toContain('1 finding opened, 1 resolved on mxwatch itself in one check.');
  });

  it('should reach channels without a label filter, and not those limited to some domains\' labels', () => {
    const event = about([monitor('opened')]);
    expect(eventForChannel(webhook, event)).toBe(event);
    expect(eventForChannel({ ...webhook, labels: { team: 'mail' } }, event)).toBeNull();
    expect(eventForChannel({ ...webhook, minSeverity: 'critical' }, event)).toBeNull();
  });
});
