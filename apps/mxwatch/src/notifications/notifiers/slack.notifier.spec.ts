import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NotifierError } from '../notification.types.js';
import { HttpReceiver, sampleEvent, sampleGroupedEvent } from './notification.fixture.js';
import { buildSlackMessage, SlackNotifier, type SlackMessage } from './slack.notifier.js';

describe(SlackNotifier.name, () => {
  let receiver: HttpReceiver;
  const never = new AbortController().signal;

  beforeAll(async () => {
    receiver = await HttpReceiver.start();
  });
  afterAll(async () => {
    await receiver.stop();
  });
  beforeEach(() => receiver.script({ status: 200, body: 'ok' }));

  const notifier = () => new SlackNotifier({ type: 'slack', name: 'chat', url: `${receiver.url}/services/T0/B0/XYZ` });

  it('should post text and blocks carrying domain, code, severity, message, remediation, evidence and the status link', async () => {
    await notifier().send(sampleEvent(), never);

    expect(receiver.requests).toHaveLength(1);
    const req = receiver.requests[0]!;
    expect(req.url).toBe('/services/T0/B0/XYZ');
    expect(req.headers['content-type']).toBe('application/json; charset=utf-8');
    const msg = JSON.parse(req.body) as SlackMessage;

    // Mattermost and Rocket.Chat only render `text`: it must stand on its own.
    expect(msg.text.split('\n')).toEqual([
      '[mxwatch] OPENED critical STARTTLS_NOT_OFFERED on example.com',
      'mx1.example.com (192.0.2.10) port 25 does not offer STARTTLS',
      'Target: mx1.example.com[192.0.2.10]:25',
      `Remediation: ${sampleEvent().finding.remediation}`,
      'Evidence: ehlo: ["PIPELINING","SIZE 10240000"]; host: mx1.example.com; ip: 192.0.2.10; port: 25',
      'Status: http://mxwatch.test/api/v1/domains/example.com/status',
    ]);

    expect(msg.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'section', 'context']);
    const [header, summary, remediation, evidence, context] = msg.blocks as any[];
    expect(header.text).toEqual({ type: 'plain_text', text: '[mxwatch] OPENED critical STARTTLS_NOT_OFFERED on example.com' });
    expect(summary.text.text).toBe('mx1.example.com (192.0.2.10) port 25 does not offer STARTTLS');
    expect(summary.fields.map((f: { text: string }) => f.text)).toEqual([
      '*Domain*\nexample.com',
      '*Severity*\ncritical',
      '*Code*\nSTARTTLS_NOT_OFFERED',
      '*Event*\nopened',
      '*Probe*\nstarttls',
      '*Target*\nmx1.example.com[192.0.2.10]:25',
      '*First seen*\n2026-03-01T10:00:00.000Z',
    ]);
    expect(remediation.text.text).toBe(`*Remediation*\n${sampleEvent().finding.remediation}`);
    expect(evidence.text.text).toBe(
      '*Evidence*\n```ehlo: ["PIPELINING","SIZE 10240000"]\nhost: mx1.example.com\nip: 192.0.2.10\nport: 25```',
    );
    expect(context.elements[0].text).toBe('<http://mxwatch.test/api/v1/domains/example.com/status|Status of example.com>');
  });

  it('should show the resolution time of a resolved finding', () => {
    const event = sampleEvent({ kind: 'resolved' });
    event.finding.resolvedAt = new Date('2026-03-01T11:00:00.000Z');
    const msg = buildSlackMessage(event);
    expect(msg.text.split('\n')[0]).toBe('[mxwatch] RESOLVED critical STARTTLS_NOT_OFFERED on example.com');
    expect((msg.blocks[1] as any).fields.at(-1).text).toBe('*Resolved*\n2026-03-01T11:00:00.000Z');
  });

  it('should say that a message about mxwatch itself concerns no domain, and link to the overview', () => {
    const msg = buildSlackMessage(sampleEvent({ domain: null, domainLabels: {}, statusUrl: 'http://mxwatch.test/', finding: { ...sampleEvent().finding, code: 'MONITOR_RESOLVER_NOT_VALIDATING', target: 'resolver' } }));
    expect(msg.text.split('\n')[0]).toBe('[mxwatch] OPENED critical MONITOR_RESOLVER_NOT_VALIDATING on mxwatch itself');
    expect((msg.blocks[1] as any).fields[0].text).toBe('*Domain*\nnone: about mxwatch itself');
    expect((msg.blocks.at(-1) as any).elements[0].text).toBe('<http://mxwatch.test/|Status of mxwatch itself>');
  });

  it('should escape text from remote servers so it cannot mention a channel or forge a link', () => {
    const event = sampleEvent();
    event.finding.message = 'banner: 220 <!channel> & <http://evil.test|click>';
    event.finding.evidence = { reply: '<@U123>' };
    const msg = buildSlackMessage(event);
    const everything = JSON.stringify(msg.blocks.slice(1)) + msg.text;
    expect(everything).not.toContain('<!channel>');
    expect(everything).not.toContain('<@U123>');
    expect(msg.text).toContain('banner: 220 &lt;!channel&gt; &amp; &lt;http://evil.test|click&gt;');
  });

  it('should keep blocks within Slack limits for oversized evidence', () => {
    const event = sampleEvent();
    event.finding.evidence = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${String(i).padStart(2, '0')}`, 'x'.repeat(500)]));
    const msg = buildSlackMessage(event);
    const evidence = (msg.blocks[3] as any).text.text as string;
    expect(evidence.length).toBeLessThanOrEqual(3000);
    const lines = evidence.replace(/^\*Evidence\*\n```/, '').replace(/```$/, '').split('\n');
    expect(lines.at(-1)).toBe(`(${40 - (lines.length - 1)} more in the status page)`);
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/^k\d\d: x{199}…$/);
  });

  it('should report a removed hook (404) as final, by status only', async () => {
    receiver.script({ status: 404, body: 'no_service' });
    const err = await notifier().send(sampleEvent(), never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotifierError);
    expect(err).toMatchObject({ retryable: false, status: 404 });
    expect((err as NotifierError).message).toBe(`127.0.0.1:${new URL(receiver.url).port} answered HTTP 404 (Not Found)`);
  });

  it('should keep a banner with backticks inside the evidence block (issue 9 item 6)', () => {
    const event = sampleEvent();
    event.finding.evidence = { banner: '220 mx ``` *bold* <!here> ```', tail: 'ends with a backtick `' };
    const msg = buildSlackMessage(event);
    const evidence = (msg.blocks[3] as any).text.text as string;
    const body = evidence.replace(/^\*Evidence\*\n```/, '').replace(/```$/, '');
    // The only fences are the block's own: nothing inside can close it early.
    expect(evidence.startsWith('*Evidence*\n```')).toBe(true);
    expect(evidence.endsWith('```')).toBe(true);
    expect(body).not.toMatch(/``/);
    expect(body.endsWith('`')).toBe(false);
    expect(body.replace(/\u200b/g, '')).toBe('banner: 220 mx ``` *bold* &lt;!here&gt; ```\ntail: ends with a backtick `');
  });

  it('should post a grouped message as one post listing every finding with its own evidence block', async () => {
    const event = sampleGroupedEvent();
    event.findings[1]!.evidence = { banner: 'x```y' };
    await notifier().send(event, never);
    expect(receiver.requests).toHaveLength(1);
    const msg = JSON.parse(receiver.requests[0]!.body) as SlackMessage;
    expect(msg.text.split('\n')).toEqual([
      '[mxwatch] OPENED critical STARTTLS_NOT_OFFERED and 1 more on example.com; 1 resolved',
      '2 opened, 1 resolved on example.com',
      '- OPENED critical STARTTLS_NOT_OFFERED on mx1.example.com[192.0.2.10]:25: mx1.example.com (192.0.2.10) port 25 does not offer STARTTLS',
      '- OPENED warning TLS_CERT_EXPIRING on mx2.example.com[192.0.2.11]:25: The certificate of mx2.example.com expires in 9 days',
      '- RESOLVED critical DNSBL_LISTED on 192.0.2.10@zen.spamhaus.org: 192.0.2.10 is listed on zen.spamhaus.org',
      'Status: http://mxwatch.test/api/v1/domains/example.com/status',
    ]);
    expect(msg.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'section', 'section', 'context']);
    const sections = msg.blocks.slice(2, 5).map((b: any) => b.text.text as string);
    expect(sections[0]).toContain('*OPENED critical STARTTLS_NOT_OFFERED*');
    expect(sections[2]).toContain('*RESOLVED critical DNSBL_LISTED*');
    for (const text of sections) expect(text.match(/```/g)).toHaveLength(2);
    expect(sections[1]).toContain('banner: x`\u200b`\u200b`\u200by');
  });
});
