import { describe, expect, it } from 'vitest';
import { NotifierError, type NotificationEvent, type Notifier } from '../notification.types.js';
import { recordingSleep, sampleEvent } from './notification.fixture.js';
import { backoffDelay, deliverWithRetry, type DeliveryAttempt } from './retry.js';

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

const transient = (status = 503) => new NotifierError(`HTTP ${status}`, { retryable: true, code: 'rejected', status });
const final = () => new NotifierError('HTTP 400', { retryable: false, code: 'rejected', status: 400 });

describe(deliverWithRetry.name, () => {
  it('should deliver on the first attempt without sleeping', async () => {
    const { delays, sleep } = recordingSleep();
    const attempts: DeliveryAttempt[] = [];
    const result = await deliverWithRetry(new ScriptedNotifier(['ok']), sampleEvent(), { sleep, onAttempt: (a) => void attempts.push(a) });
    expect(result).toEqual({ ok: true, attempts: 1, lastError: null });
    expect(delays).toEqual([]);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ n: 1, ok: true });
  });

  it('should make 5 attempts by default and report the last error', async () => {
    const { delays, sleep } = recordingSleep();
    const notifier = new ScriptedNotifier([transient()]);
    const result = await deliverWithRetry(notifier, sampleEvent(), { sleep, random: () => 0.999999 });
    expect(result.ok).toBe(false);
    expect(result.attempts).toBe(5);
    expect(result.lastError).toMatchObject({ status: 503, retryable: true });
    expect(notifier.events).toHaveLength(5);
    // Full jitter just under the exponential ceiling: 1 s, 2 s, 4 s, 8 s.
    expect(delays).toEqual([999, 1999, 3999, 7999]);
  });

  it('should cap the backoff at maxDelayMs', async () => {
    const { delays, sleep } = recordingSleep();
    await deliverWithRetry(new ScriptedNotifier([transient()]), sampleEvent(), {
      attempts: 8,
      baseDelayMs: 1000,
      maxDelayMs: 5000,
      sleep,
      random: () => 0.999999,
    });
    expect(delays).toEqual([999, 1999, 3999, 4999, 4999, 4999, 4999]);
  });

  it('should record every attempt with its outcome and the wait before the next', async () => {
    const attempts: DeliveryAttempt[] = [];
    const result = await deliverWithRetry(new ScriptedNotifier([transient(502), transient(504), 'ok']), sampleEvent(), {
      sleep: recordingSleep().sleep,
      random: () => 0.5,
      onAttempt: (a) => void attempts.push(a),
    });
    expect(result).toEqual({ ok: true, attempts: 3, lastError: null });
    expect(attempts.map(({ n, ok, error, code, status, retryable, nextDelayMs }) => ({ n, ok, error, code, status, retryable, nextDelayMs }))).toEqual([
      { n: 1, ok: false, error: 'HTTP 502', code: 'rejected', status: 502, retryable: true, nextDelayMs: 500 },
      { n: 2, ok: false, error: 'HTTP 504', code: 'rejected', status: 504, retryable: true, nextDelayMs: 1000 },
      { n: 3, ok: true, error: undefined, code: undefined, status: undefined, retryable: undefined, nextDelayMs: undefined },
    ]);
    for (const a of attempts) {
      expect(a.startedAt).toBeInstanceOf(Date);
      expect(a.durationMs).toBeGreaterThanOrEqual(0);
    }
  });

  it('should stop at the first non-retryable error', async () => {
    const attempts: DeliveryAttempt[] = [];
    const notifier = new ScriptedNotifier([transient(), final(), 'ok']);
    const result = await deliverWithRetry(notifier, sampleEvent(), { sleep: recordingSleep().sleep, onAttempt: (a) => void attempts.push(a) });
    expect(result.ok).toBe(false);
    expect(result.attempts).toBe(2);
    expect(result.lastError).toMatchObject({ retryable: false, status: 400 });
    expect(attempts[1]).toMatchObject({ n: 2, ok: false, retryable: false });
    expect(attempts[1]!.nextDelayMs).toBeUndefined();
  });

  it('should wait at least what Retry-After asked for', async () => {
    const { delays, sleep } = recordingSleep();
    const limited = new NotifierError('HTTP 429', { retryable: true, code: 'rejected', status: 429, retryAfterMs: 7000 });
    await deliverWithRetry(new ScriptedNotifier([limited, 'ok']), sampleEvent(), { sleep, random: () => 0 });
    expect(delays).toEqual([7000]);
  });

  it('should never throw: a notifier bug becomes a final unexpected error', async () => {
    const result = await deliverWithRetry(new ScriptedNotifier([new TypeError('x is undefined')]), sampleEvent(), {
      sleep: recordingSleep().sleep,
    });
    expect(result.ok).toBe(false);
    expect(result.attempts).toBe(1);
    expect(result.lastError).toBeInstanceOf(NotifierError);
    expect(result.lastError).toMatchObject({ code: 'unexpected', retryable: false, message: 'notifier failed unexpectedly: x is undefined' });
  });

  it('should keep delivering when the attempt log throws', async () => {
    const result = await deliverWithRetry(new ScriptedNotifier([transient(), 'ok']), sampleEvent(), {
      sleep: recordingSleep().sleep,
      onAttempt: async () => {
        throw new Error('database down');
      },
    });
    expect(result).toEqual({ ok: true, attempts: 2, lastError: null });
  });

  it('should stop waiting when aborted during the backoff', async () => {
    const controller = new AbortController();
    const notifier = new ScriptedNotifier([transient()]);
    const result = await deliverWithRetry(notifier, sampleEvent(), {
      signal: controller.signal,
      baseDelayMs: 60_000,
      random: () => 0.5,
      onAttempt: () => controller.abort(),
    });
    expect(result.ok).toBe(false);
    expect(result.attempts).toBe(1);
    expect(result.lastError).toMatchObject({ code: 'aborted' });
    expect(notifier.events).toHaveLength(1);
  });

  it('should not attempt at all with an already aborted signal', async () => {
    const notifier = new ScriptedNotifier(['ok']);
    const result = await deliverWithRetry(notifier, sampleEvent(), { signal: AbortSignal.abort() });
    expect(result).toMatchObject({ ok: false, attempts: 0, lastError: { code: 'aborted' } });
    expect(notifier.events).toHaveLength(0);
  });
});

describe(backoffDelay.name, () => {
  it('should draw uniformly below the exponential ceiling', () => {
    const opts = { baseDelayMs: 1000, maxDelayMs: 30_000 };
    expect(backoffDelay(1, { ...opts, random: () => 0 })).toBe(0);
    expect(backoffDelay(3, { ...opts, random: () => 0.25 })).toBe(1000);
    expect(backoffDelay(10, { ...opts, random: () => 0.5 })).toBe(15_000);
  });

  it('should not let Retry-After exceed maxDelayMs', () => {
    expect(backoffDelay(1, { baseDelayMs: 1000, maxDelayMs: 30_000, random: () => 0, retryAfterMs: 3_600_000 })).toBe(30_000);
  });
});
