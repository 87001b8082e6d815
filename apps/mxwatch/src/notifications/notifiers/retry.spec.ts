import { describe, expect, it } from 'vitest';
import { NotifierError, type NotificationEvent, type Notifier } from '../notification.types.js';
import { sampleEvent } from './notification.fixture.js';
import { attemptDelivery, attemptRecord, DEFAULT_RETRY_POLICY, nextStep, redactReason, retryDelay, type AttemptOutcome } from './retry.js';

/** A collaborator stub: answers each send from a script (the last entry repeats). */
class ScriptedNotifier implements Notifier {
  readonly name = 'scripted';
  readonly type = 'webhook' as const;
  readonly events: NotificationEvent[] = [];
  constructor(private readonly script: (Error | 'ok')[]) {}
  async send(event: NotificationEvent): Promise<void> {
    this.events.push(event);
    const step = this.script.length > 1 ? this.script.shift()! : this.script[0]!;
    if (step !== 'ok') throw step;
  }
}

const transient = (status = 503, retryAfterMs?: number) =>
  new NotifierError(`HTTP ${status}`, { retryable: true, code: 'rejected', status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
const failed = (error: NotifierError): AttemptOutcome => ({ ok: false, startedAt: new Date(), durationMs: 3, error });
const top = () => 0.999999;

describe(retryDelay.name, () => {
  it('should grow exponentially from one second to ten minutes and stay there', () => {
    const ceilings = Array.from({ length: 14 }, (_, i) => retryDelay(i + 1, { ...DEFAULT_RETRY_POLICY, random: top }));
    expect(ceilings).toEqual([999, 1999, 3999, 7999, 15_999, 31_999, 63_999, 127_999, 255_999, 511_999, 599_999, 599_999, 599_999, 599_999]);
  });

  it('should wait at least half the ceiling (equal jitter), so the backoff still grows', () => {
    expect(retryDelay(1, { ...DEFAULT_RETRY_POLICY, random: () => 0 })).toBe(500);
    expect(retryDelay(11, { ...DEFAULT_RETRY_POLICY, random: () => 0 })).toBe(300_000);
    expect(retryDelay(4, { ...DEFAULT_RETRY_POLICY, random: () => 0.5 })).toBe(6000);
  });

  it('should wait at least what Retry-After asked for, up to an hour', () => {
    expect(retryDelay(1, { ...DEFAULT_RETRY_POLICY, random: () => 0, retryAfterMs: 7000 })).toBe(7000);
    expect(retryDelay(1, { ...DEFAULT_RETRY_POLICY, random: () => 0, retryAfterMs: 5 * 3600_000 })).toBe(3600_000);
  });

  it('should keep retrying for a day with about 200 attempts, not 5 in 8 seconds', () => {
    let elapsed = 0;
    let n = 0;
    while (elapsed < 24 * 3600_000) elapsed += retryDelay(++n, { ...DEFAULT_RETRY_POLICY, random: () => 0.5 });
    expect(n).toBeGreaterThan(150);
    expect(n).toBeLessThan(250);
  });
});

describe(nextStep.name, () => {
  const now = new Date('2026-03-01T10:00:00Z');
  const until = new Date('2026-03-02T10:00:00Z');

  it('should be sent after a delivered attempt', () => {
    expect(nextStep({ ok: true, startedAt: now, durationMs: 1, error: null }, 1, now, until, DEFAULT_RETRY_POLICY, top)).toEqual({ status: 'sent' });
  });

  it('should retry a retryable failure after the backoff', () => {
    expect(nextStep(failed(transient()), 3, now, until, DEFAULT_RETRY_POLICY, top)).toEqual({ status: 'pending', delayMs: 3999 });
  });

  it('should give up on a final error at once', () => {
    const final = new NotifierError('HTTP 400', { retryable: false, code: 'rejected', status: 400 });
    expect(nextStep(failed(final), 1, now, until, DEFAULT_RETRY_POLICY, top)).toEqual({ status: 'failed' });
  });

  it('should give up when the next attempt would fall after the retry window', () => {
    const late = new Date(until.getTime() - 1000);
    expect(nextStep(failed(transient()), 12, late, until, DEFAULT_RETRY_POLICY, top)).toEqual({ status: 'failed' });
    expect(nextStep(failed(transient()), 1, now, now, DEFAULT_RETRY_POLICY, top)).toEqual({ status: 'failed' });
  });
});

describe(attemptDelivery.name, () => {
  it('should report a delivered attempt', async () => {
    const outcome = await attemptDelivery(new ScriptedNotifier(['ok']), sampleEvent(), new AbortController().signal);
    expect(outcome).toMatchObject({ ok: true, error: null });
    expect(outcome.startedAt).toBeInstanceOf(Date);
  });

  it('should never throw: a notifier bug becomes a final unexpected error', async () => {
    const outcome = await attemptDelivery(new ScriptedNotifier([new TypeError('x is undefined')]), sampleEvent(), new AbortController().signal);
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toBeInstanceOf(NotifierError);
    expect(outcome.error).toMatchObject({ code: 'unexpected', retryable: false, message: 'notifier failed unexpectedly: x is undefined' });
  });
});

describe(attemptRecord.name, () => {
  it('should log a failure with its status, code, redacted reason and the wait before the next attempt', () => {
    const e = new NotifierError('could not reach https://hooks.slack.com/services/T0/B0/SECRET-TOKEN?x=1', { retryable: true, code: 'network' });
    expect(attemptRecord(failed(e), 2, { status: 'pending', delayMs: 1500 })).toMatchObject({
      n: 2,
      ok: false,
      code: 'network',
      retryable: true,
      error: 'could not reach https://hooks.slack.com',
      nextDelayMs: 1500,
    });
    expect(attemptRecord(failed(transient(502)), 1, { status: 'failed' })).not.toHaveProperty('nextDelayMs');
  });
});

describe(redactReason.name, () => {
  it('should keep a short reason on one line', () => {
    expect(redactReason('relay.example.net:587 refused:\r\n 550')).toBe('relay.example.net:587 refused: 550');
    expect(redactReason('x'.repeat(500))).toHaveLength(160);
  });

  it('should cut URLs to scheme and host, dropping credentials, path and query', () => {
    expect(redactReason('POST to https://user:pw@hooks.example.net:8443/T0/B0/tok?sig=abc failed')).toBe('POST to https://hooks.example.net:8443 failed');
  });

  it('should drop what older versions appended after a receiver status (its body, its reply text)', () => {
    expect(redactReason('hooks.example.net answered HTTP 500: {"stack":"at db.internal:5432","password":"x"}')).toBe('hooks.example.net answered HTTP 500');
    expect(redactReason('relay:25 refused: 550 5.1.1 <ceo@internal.example>: Recipient address rejected')).toBe('relay:25 refused: 550 5.1.1');
  });
});
