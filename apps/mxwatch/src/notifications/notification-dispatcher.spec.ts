import { afterEach, describe, expect, it } from 'vitest';
import { NotifierError, type NotificationEvent, type Notifier } from './notification.types.js';
import { NotificationDispatcher, type AttemptUpdate, type NotificationRecord, type NotificationStore } from './notification-dispatcher.js';
import { sampleEvent } from './notifiers/notification.fixture.js';
import type { DeliveryAttempt } from './notifiers/retry.js';

type Row = NotificationRecord & { log: DeliveryAttempt[]; lastError: string | null };

/** The store contract in memory, compare-and-set included (the PostgreSQL one is tested in storage/). */
class MemoryStore implements NotificationStore {
  readonly rows = new Map<string, Row>();
  private seq = 0;

  add(channel: string, at: Date, retryUntil: Date | null = null): Row {
    const row: Row = { id: `n${++this.seq}`, channel, event: 'opened', status: 'pending', attempts: 0, payload: JSON.parse(JSON.stringify(sampleEvent())), createdAt: at, retryUntil, nextAttemptAt: at, log: [], lastError: null };
    this.rows.set(row.id, row);
    return row;
  }
  async claimDue(now: Date, limit: number, leaseUntil: Date) {
    const due = [...this.rows.values()].filter((r) => r.status === 'pending' && r.nextAttemptAt !== null && r.nextAttemptAt <= now).slice(0, limit);
    for (const r of due) r.nextAttemptAt = leaseUntil;
    return due.map((r) => ({ ...r }));
  }
  async claim(id: string, leaseUntil: Date) {
    const r = this.rows.get(id);
    if (!r || r.status !== 'pending') return null;
    r.nextAttemptAt = leaseUntil;
    return { ...r };
  }
  async saveAttempt(id: string, u: AttemptUpdate) {
    const r = this.rows.get(id)!;
    Object.assign(r, { status: u.status, attempts: u.attempt.n, nextAttemptAt: u.nextAttemptAt, lastError: u.attempt.ok ? null : (u.attempt.error ?? 'failed') });
    r.log.push(u.attempt);
  }
  async release(id: string, at: Date) {
    const r = this.rows.get(id)!;
    if (r.status === 'pending') r.nextAttemptAt = at;
  }
  async abandon(id: string, reason: string) {
    Object.assign(this.rows.get(id)!, { status: 'failed', lastError: reason, nextAttemptAt: null });
  }
  async nextDueAt() {
    const times = [...this.rows.values()].filter((r) => r.status === 'pending' && r.nextAttemptAt).map((r) => r.nextAttemptAt!.getTime());
    return times.length ? new Date(Math.min(...times)) : null;
  }
}

/** Answers each send from a script (the last entry repeats); 'hang' waits for the abort. */
class ScriptedNotifier implements Notifier {
  readonly type = 'webhook' as const;
  sends = 0;
  constructor(
    readonly name: string,
    private readonly script: Array<'ok' | 'hang' | NotifierError>,
  ) {}
  async send(_event: NotificationEvent, signal: AbortSignal): Promise<void> {
    this.sends++;
    const step = this.script.length > 1 ? this.script.shift()! : this.script[0]!;
    if (step === 'hang') {
      await new Promise((_, reject) => signal.addEventListener('abort', () => reject(new NotifierError('aborted', { retryable: true, code: 'aborted' }))));
    }
    if (step instanceof NotifierError) throw step;
  }
}

const down = () => new NotifierError('hooks.example.net answered HTTP 503 (Service Unavailable)', { retryable: true, code: 'rejected', status: 503 });
const T0 = new Date('2026-03-01T10:00:00Z');

describe(NotificationDispatcher.name, () => {
  const dispatchers: NotificationDispatcher[] = [];
  afterEach(async () => {
    await Promise.all(dispatchers.splice(0).map((d) => d.stop()));
  });

  function make(store: MemoryStore, notifiers: Notifier[], clock: { now: Date }, retryHours = 24, extra: Partial<ConstructorParameters<typeof NotificationDispatcher>[0]> = {}) {
    const delivered: Array<[string, string]> = [];
    const d = new NotificationDispatcher({
      ...extra,
      store,
      notifiers: new Map(notifiers.map((n) => [n.name, n])),
      retryHours,
      now: () => clock.now,
      random: () => 0.999999,
      revive: (p) => p as NotificationEvent,
      onDelivered: (row, status) => void delivered.push([row.id, status]),
    });
    dispatchers.push(d);
    return { d, delivered };
  }

  async function run(d: NotificationDispatcher) {
    await d.drain();
    await d.idle();
  }

  it('should deliver a due notification and log the attempt', async () => {
    const store = new MemoryStore();
    const row = store.add('hook', T0);
    const { d, delivered } = make(store, [new ScriptedNotifier('hook', ['ok'])], { now: T0 });
    await run(d);
    expect(store.rows.get(row.id)).toMatchObject({ status: 'sent', attempts: 1, nextAttemptAt: null });
    expect(store.rows.get(row.id)!.log).toEqual([expect.objectContaining({ n: 1, ok: true })]);
    expect(delivered).toEqual([[row.id, 'sent']]);
  });

  it('should persist the next attempt time after a failure and attempt again only once it is due', async () => {
    const store = new MemoryStore();
    const row = store.add('hook', T0);
    const hook = new ScriptedNotifier('hook', [down(), down(), 'ok']);
    const clock = { now: T0 };
    const { d, delivered } = make(store, [hook], clock);

    await run(d);
    expect(store.rows.get(row.id)).toMatchObject({ status: 'pending', attempts: 1, nextAttemptAt: new Date(T0.getTime() + 999) });
    await run(d);
    expect(hook.sends).toBe(1);

    clock.now = new Date(T0.getTime() + 999);
    await run(d);
    expect(store.rows.get(row.id)).toMatchObject({ status: 'pending', attempts: 2, nextAttemptAt: new Date(clock.now.getTime() + 1999) });
    clock.now = new Date(clock.now.getTime() + 1999);
    await run(d);
    expect(store.rows.get(row.id)).toMatchObject({ status: 'sent', attempts: 3 });
    expect(store.rows.get(row.id)!.log.map((a) => [a.n, a.ok, a.status, a.nextDelayMs])).toEqual([
      [1, false, 503, 999],
      [2, false, 503, 1999],
      [3, true, undefined, undefined],
    ]);
    expect(delivered).toEqual([[row.id, 'sent']]);
  });

  it('should keep retrying with minutes between attempts for the whole window, then give up', async () => {
    const store = new MemoryStore();
    const row = store.add('hook', T0);
    const clock = { now: T0 };
    const { d, delivered } = make(store, [new ScriptedNotifier('hook', [down()])], clock, 2);
    let attempts = 0;
    while (store.rows.get(row.id)!.status === 'pending' && attempts < 1000) {
      clock.now = store.rows.get(row.id)!.nextAttemptAt!;
      await run(d);
      attempts++;
    }
    const final = store.rows.get(row.id)!;
    expect(final.status).toBe('failed');
    const waits = final.log.map((a) => a.nextDelayMs ?? 0);
    expect(Math.max(...waits)).toBe(599_999);
    // Two hours at up to ten minutes apart; never past the window.
    expect(final.attempts).toBeGreaterThan(15);
    expect(clock.now.getTime() - T0.getTime()).toBeLessThanOrEqual(2 * 3600_000);
    expect(clock.now.getTime() - T0.getTime()).toBeGreaterThan(2 * 3600_000 - 600_000);
    expect(delivered).toEqual([[row.id, 'failed']]);
  });

  it('should resume after a restart at the persisted time, not at once and not never', async () => {
    const store = new MemoryStore();
    const row = store.add('hook', T0);
    const clock = { now: T0 };
    const first = make(store, [new ScriptedNotifier('hook', [down()])], clock);
    await run(first.d);
    await first.d.stop();
    const due = store.rows.get(row.id)!.nextAttemptAt!;

    const hook = new ScriptedNotifier('hook', ['ok']);
    const second = make(store, [hook], clock);
    await run(second.d);
    expect(hook.sends).toBe(0);
    clock.now = due;
    await run(second.d);
    expect(hook.sends).toBe(1);
    expect(store.rows.get(row.id)).toMatchObject({ status: 'sent', attempts: 2 });
  });

  it('should give the row back without counting an attempt when stopped mid-delivery', async () => {
    const store = new MemoryStore();
    const row = store.add('hook', T0);
    const hook = new ScriptedNotifier('hook', ['hang']);
    const { d } = make(store, [hook], { now: T0 });
    await d.drain();
    while (hook.sends === 0) await new Promise((r) => setImmediate(r));
    await d.stop();
    expect(store.rows.get(row.id)).toMatchObject({ status: 'pending', attempts: 0, nextAttemptAt: T0 });
  });

  it('should fail a notification whose channel is no longer configured', async () => {
    const store = new MemoryStore();
    const row = store.add('removed', T0);
    const { d, delivered } = make(store, [new ScriptedNotifier('hook', ['ok'])], { now: T0 });
    await run(d);
    expect(store.rows.get(row.id)).toMatchObject({ status: 'failed', lastError: 'channel removed is no longer configured' });
    expect(delivered).toEqual([[row.id, 'failed']]);
  });

  it('should give up at once on a final error', async () => {
    const store = new MemoryStore();
    const row = store.add('hook', T0);
    const { d } = make(store, [new ScriptedNotifier('hook', [new NotifierError('HTTP 404', { retryable: false, code: 'rejected', status: 404 })])], { now: T0 });
    await run(d);
    expect(store.rows.get(row.id)).toMatchObject({ status: 'failed', attempts: 1 });
  });

  it('should deliver each notification once when two processes share the queue', async () => {
    const store = new MemoryStore();
    for (let i = 0; i < 30; i++) store.add('hook', T0);
    const a = new ScriptedNotifier('hook', ['ok']);
    const b = new ScriptedNotifier('hook', ['ok']);
    const clock = { now: T0 };
    const one = make(store, [a], clock);
    const two = make(store, [b], clock);
    await Promise.all([run(one.d), run(two.d)]);
    expect(a.sends + b.sends).toBe(30);
    expect([...store.rows.values()].every((r) => r.status === 'sent')).toBe(true);
  });

  it('should keep delivering to other channels while one receiver hangs', async () => {
    const store = new MemoryStore();
    const hung = store.add('slow', T0);
    const fast = Array.from({ length: 5 }, () => store.add('hook', T0));
    const { d } = make(store, [new ScriptedNotifier('slow', ['hang']), new ScriptedNotifier('hook', ['ok'])], { now: T0 });
    await d.drain();
    while (fast.some((r) => store.rows.get(r.id)!.status !== 'sent')) await new Promise((r) => setImmediate(r));
    expect(store.rows.get(hung.id)!.status).toBe('pending');
  });

  it('should attempt a row stored for one immediate attempt (a test) exactly once', async () => {
    const store = new MemoryStore();
    const row = store.add('hook', new Date(T0.getTime() + 3600_000), T0);
    const hook = new ScriptedNotifier('hook', [down()]);
    const { d } = make(store, [hook], { now: T0 });
    await run(d);
    expect(hook.sends).toBe(0);
    await d.deliverNow(row.id);
    expect(hook.sends).toBe(1);
    expect(store.rows.get(row.id)).toMatchObject({ status: 'failed', attempts: 1 });
  });

  it('should wake up by itself for a planned retry after kick()', async () => {
    const store = new MemoryStore();
    const row = store.add('hook', new Date());
    const hook = new ScriptedNotifier('hook', [down(), down(), 'ok']);
    const clock = {
      get now() {
        return new Date();
      },
    };
    const { d } = make(store, [hook], clock as { now: Date }, 24, { policy: { baseDelayMs: 20, maxDelayMs: 50, maxRetryAfterMs: 50 }, now: () => new Date() });
    d.kick();
    while (store.rows.get(row.id)!.status === 'pending') await new Promise((r) => setTimeout(r, 10));
    expect(store.rows.get(row.id)).toMatchObject({ status: 'sent', attempts: 3 });
  });
});
