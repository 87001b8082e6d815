import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NotifierError } from '../notification.types.js';
import { closedPort, HttpReceiver, sampleEvent, sampleFinding, sampleGroupedEvent } from './notification.fixture.js';
import { deliveryId, verifyWebhookSignature, WebhookNotifier } from './webhook.notifier.js';

const SECRET = 's3cret-shared-with-receiver';
const NOW = 1_772_359_501;

async function sendExpectingError(notifier: WebhookNotifier, signal = new AbortController().signal): Promise<NotifierError> {
  const err = await notifier.send(sampleEvent(), signal).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NotifierError);
  return err as NotifierError;
}

describe(WebhookNotifier.name, () => {
  let receiver: HttpReceiver;
  const never = new AbortController().signal;

  beforeAll(async () => {
    receiver = await HttpReceiver.start();
  });
  afterAll(async () => {
    await receiver.stop();
  });
  beforeEach(() => receiver.script({ status: 204 }));

  const notifier = (over: { secret?: string; timeoutMs?: number; path?: string } = {}) =>
    new WebhookNotifier(
      { type: 'webhook', name: 'ops', url: `${receiver.url}${over.path ?? '/hook'}`, ...(over.secret ? { secret: over.secret } : {}) },
      { nowSeconds: () => NOW, ...(over.timeoutMs ? { timeoutMs: over.timeoutMs } : {}) },
    );

  it('should POST the version 1 payload as JSON', async () => {
    await notifier().send(sampleEvent(), never);

    expect(receiver.requests).toHaveLength(1);
    const req = receiver.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/hook');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toBe('mxwatch');
    expect(req.headers['x-mxwatch-event']).toBe('opened');
    expect(req.headers['x-mxwatch-delivery']).toBe(deliveryId(sampleEvent()));
    expect(JSON.parse(req.body)).toEqual({
      version: 1,
      event: 'opened',
      scope: 'domain',
      domain: 'example.com',
      labels: { env: 'prod', team: 'mail' },
      finding: {
        id: 'f-0001',
        code: 'STARTTLS_NOT_OFFERED',
        severity: 'critical',
        probe: 'starttls',
        target: 'mx1.example.com[192.0.2.10]:25',
        message: 'mx1.example.com (192.0.2.10) port 25 does not offer STARTTLS',
        remediation: sampleEvent().finding.remediation,
        evidence: { host: 'mx1.example.com', ip: '192.0.2.10', port: 25, ehlo: ['PIPELINING', 'SIZE 10240000'] },
        firstSeenAt: '2026-03-01T10:00:00.000Z',
        lastSeenAt: '2026-03-01T10:05:00.000Z',
        resolvedAt: null,
      },
      findings: [
        {
          event: 'opened',
          id: 'f-0001',
          code: 'STARTTLS_NOT_OFFERED',
          severity: 'critical',
          probe: 'starttls',
          target: 'mx1.example.com[192.0.2.10]:25',
          message: 'mx1.example.com (192.0.2.10) port 25 does not offer STARTTLS',
          remediation: sampleEvent().finding.remediation,
          evidence: { host: 'mx1.example.com', ip: '192.0.2.10', port: 25, ehlo: ['PIPELINING', 'SIZE 10240000'] },
          firstSeenAt: '2026-03-01T10:00:00.000Z',
          lastSeenAt: '2026-03-01T10:05:00.000Z',
          resolvedAt: null,
        },
      ],
      statusUrl: 'http://mxwatch.test/api/v1/domains/example.com/status',
      sentAt: '2026-03-01T10:05:01.000Z',
    });
  });

  it('should carry every finding of a grouped message in one body, keeping version 1 and the headline finding', async () => {
    await notifier().send(sampleGroupedEvent(), never);
    expect(receiver.requests).toHaveLength(1);
    const body = JSON.parse(receiver.requests[0]!.body);
    expect(body).toMatchObject({ version: 1, event: 'opened', domain: 'example.com', finding: { id: 'f-0001', code: 'STARTTLS_NOT_OFFERED' } });
    expect(body.findings.map((f: { event: string; code: string; resolvedAt: string | null }) => [f.event, f.code, f.resolvedAt])).toEqual([
      ['opened', 'STARTTLS_NOT_OFFERED', null],
      ['opened', 'TLS_CERT_EXPIRING', null],
      ['resolved', 'DNSBL_LISTED', '2026-03-01T10:05:00.000Z'],
    ]);
  });

  it('should say when a message is about mxwatch itself: scope monitor, domain null, the overview as its link', async () => {
    const finding = sampleFinding({ code: 'MONITOR_RESOLVER_NOT_VALIDATING', severity: 'warning', probe: 'dnssec', target: 'resolver', message: 'The DNS resolver mxwatch uses does not validate DNSSEC', evidence: { why: 'no AD bit' } });
    await notifier().send(sampleEvent({ domain: null, domainLabels: {}, finding, statusUrl: 'http://mxwatch.test/' }), never);
    const body = JSON.parse(receiver.requests[0]!.body);
    expect(body).toMatchObject({ version: 1, event: 'opened', scope: 'monitor', domain: null, labels: {}, statusUrl: 'http://mxwatch.test/', finding: { code: 'MONITOR_RESOLVER_NOT_VALIDATING', target: 'resolver' } });
  });

  it('should not sign when no secret is configured', async () => {
    await notifier().send(sampleEvent(), never);
    expect(receiver.requests[0]!.headers['x-mxwatch-signature']).toBeUndefined();
    expect(receiver.requests[0]!.headers['x-mxwatch-timestamp']).toBeUndefined();
  });

  it('should sign "<timestamp>.<raw body>" with HMAC-SHA256 of the secret', async () => {
    await notifier({ secret: SECRET }).send(sampleEvent(), never);

    const { headers, body } = receiver.requests[0]!;
    expect(headers['x-mxwatch-timestamp']).toBe(String(NOW));
    // Computed independently of the notifier's own signing code, as a receiver would.
    const expected = createHmac('sha256', SECRET).update(`${NOW}.${body}`).digest('hex');
    expect(headers['x-mxwatch-signature']).toBe(`sha256=${expected}`);
    expect(
      verifyWebhookSignature({
        secret: SECRET,
        timestamp: headers['x-mxwatch-timestamp'] as string,
        body,
        signature: headers['x-mxwatch-signature'] as string,
        nowSeconds: NOW + 10,
      }),
    ).toBe(true);
  });

  it('should carry the same delivery id on every attempt at one event', async () => {
    const n = notifier();
    await n.send(sampleEvent(), never);
    await n.send(sampleEvent(), never);
    await n.send(sampleEvent({ kind: 'resolved' }), never);
    const ids = receiver.requests.map((r) => r.headers['x-mxwatch-delivery']);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
  });

  it('should report a 500 by status only: the body of the receiver never reaches the stored reason', async () => {
    receiver.script({ status: 500, body: 'boom: stack at /srv/internal/db.js password=hunter2' });
    const err = await sendExpectingError(notifier());
    expect(err).toMatchObject({ retryable: true, code: 'rejected', status: 500 });
    expect(err.message).toBe(`127.0.0.1:${new URL(receiver.url).port} answered HTTP 500 (Internal Server Error)`);
  });

  it('should not retry a 400', async () => {
    receiver.script({ status: 400, body: 'bad payload' });
    expect(await sendExpectingError(notifier())).toMatchObject({ retryable: false, code: 'rejected', status: 400 });
    expect(receiver.requests).toHaveLength(1);
  });

  it.each([408, 429, 502, 503])('should treat HTTP %i as retryable', async (status) => {
    receiver.script({ status });
    expect(await sendExpectingError(notifier())).toMatchObject({ retryable: true, code: 'rejected', status });
  });

  it.each([401, 403, 404, 410, 422])('should treat HTTP %i as final', async (status) => {
    receiver.script({ status });
    expect(await sendExpectingError(notifier())).toMatchObject({ retryable: false, status });
  });

  it('should pass Retry-After on to the retry loop', async () => {
    receiver.script({ status: 429, headers: { 'Retry-After': '7' } });
    expect(await sendExpectingError(notifier())).toMatchObject({ retryable: true, retryAfterMs: 7000 });
  });

  it('should not follow a redirect', async () => {
    receiver.script({ status: 301, headers: { Location: 'http://127.0.0.1:1/elsewhere' } });
    const err = await sendExpectingError(notifier());
    expect(err).toMatchObject({ retryable: false, status: 301 });
    expect(receiver.requests).toHaveLength(1);
  });

  it('should report a receiver that does not answer in time as a retryable timeout', async () => {
    receiver.script('hang');
    const err = await sendExpectingError(notifier({ timeoutMs: 200 }));
    expect(err).toMatchObject({ retryable: true, code: 'timeout' });
    expect(err.message).toBe(`127.0.0.1:${new URL(receiver.url).port} did not answer within 200 ms`);
  });

  it('should report a refused connection as a retryable network error', async () => {
    const port = await closedPort();
    const n = new WebhookNotifier({ type: 'webhook', name: 'ops', url: `http://127.0.0.1:${port}/hook` });
    const err = await sendExpectingError(n as WebhookNotifier);
    expect(err).toMatchObject({ retryable: true, code: 'network' });
    expect(err.message).toBe(`could not reach 127.0.0.1:${port}: ECONNREFUSED`);
  });

  it('should stop at once when the caller aborts', async () => {
    receiver.script('hang');
    const controller = new AbortController();
    const pending = sendExpectingError(notifier(), controller.signal);
    while (receiver.requests.length === 0) await new Promise((r) => setImmediate(r));
    controller.abort();
    expect(await pending).toMatchObject({ code: 'aborted' });
  });

  it('should keep the URL path, which may hold a token, out of error messages', async () => {
    receiver.script({ status: 404 });
    const err = await sendExpectingError(notifier({ path: '/hooks/T000/SECRET-TOKEN' }));
    expect(err.message).not.toContain('SECRET-TOKEN');
  });
});

describe(verifyWebhookSignature.name, () => {
  const body = '{"version":1}';
  const timestamp = String(NOW);
  const signature = `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${body}`).digest('hex')}`;

  it('should accept a matching signature within the tolerance', () => {
    expect(verifyWebhookSignature({ secret: SECRET, timestamp, body, signature, nowSeconds: NOW + 299 })).toBe(true);
  });

  it('should reject a changed body, a wrong secret, a moved timestamp or a stale request', () => {
    expect(verifyWebhookSignature({ secret: SECRET, timestamp, body: '{"version":2}', signature, nowSeconds: NOW })).toBe(false);
    expect(verifyWebhookSignature({ secret: 'other', timestamp, body, signature, nowSeconds: NOW })).toBe(false);
    expect(verifyWebhookSignature({ secret: SECRET, timestamp: String(NOW + 1), body, signature, nowSeconds: NOW })).toBe(false);
    expect(verifyWebhookSignature({ secret: SECRET, timestamp, body, signature, nowSeconds: NOW + 301 })).toBe(false);
    expect(verifyWebhookSignature({ secret: SECRET, timestamp, body, signature: 'sha256=00', nowSeconds: NOW })).toBe(false);
  });
});
