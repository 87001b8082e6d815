import { describe, expect, it, vi } from 'vitest';
import { approximateBytes } from '../common/kept-values.js';
import { AgedCache, KeyedLimiter, SharedWork } from './shared-work.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe(SharedWork.name, () => {
  it('should reuse a result younger than the asking maxAge and probe again once it is older', async () => {
    const c = clock();
    const work = new SharedWork(100, c.now);
    const fn = vi.fn(async () => 'session');

    expect(await work.run('smtp|mx1', 60_000, fn)).toBe('session');
    c.advance(60_000);
    expect(await work.run('smtp|mx1', 60_000, fn)).toBe('session');
    expect(fn).toHaveBeenCalledTimes(1);

    c.advance(1);
    await work.run('smtp|mx1', 60_000, fn);
    expect(fn).toHaveBeenCalledTimes(2);
    expect({ hits: work.hits, misses: work.misses }).toEqual({ hits: 1, misses: 2 });
  });

  it('should let each asker apply its own maxAge to the same entry', async () => {
    const c = clock();
    const work = new SharedWork(100, c.now);
    const fn = vi.fn(async () => 1);
    await work.run('dnsbl|192.0.2.1|zen', 300_000, fn);
    c.advance(30_000);
    await work.run('dnsbl|192.0.2.1|zen', 300_000, fn);
    expect(fn).toHaveBeenCalledTimes(1);
    await work.run('dnsbl|192.0.2.1|zen', 10_000, fn);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('should probe afresh for maxAge 0 (manual checks) once any time has passed', async () => {
    const c = clock();
    const work = new SharedWork(100, c.now);
    const fn = vi.fn(async () => 1);
    await work.run('k', 300_000, fn);
    c.advance(1);
    await work.run('k', 0, fn);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('should give concurrent askers the one in-flight promise', async () => {
    const work = new SharedWork();
    const d = deferred<string>();
    const fn = vi.fn(() => d.promise);
    const a = work.run('smtp|mx1|25', 60_000, fn);
    const b = work.run('smtp|mx1|25', 60_000, fn);
    const other = work.run('smtp|mx2|25', 60_000, async () => 'other');
    expect(fn).toHaveBeenCalledTimes(1);
    d.resolve('one session');
    expect(await Promise.all([a, b, other])).toEqual(['one session', 'one session', 'other']);
  });

  it('should not cache a failure: the next asker runs the work again', async () => {
    const work = new SharedWork();
    const d = deferred<string>();
    const first = work.run('k', 60_000, () => d.promise);
    const concurrent = work.run('k', 60_000, async () => 'never called');
    d.reject(new Error('probe bug'));
    await expect(first).rejects.toThrow('probe bug');
    await expect(concurrent).rejects.toThrow('probe bug');
    await Promise.resolve();

    const fn = vi.fn(async () => 'recovered');
    expect(await work.run('k', 60_000, fn)).toBe('recovered');
    expect(fn).toHaveBeenCalledTimes(1);
    expect(work.size).toBe(1);
  });

  it('should not let a failed stale entry delete the fresh entry that replaced it', async () => {
    const c = clock();
    const work = new SharedWork(100, c.now);
    const old = deferred<string>();
    const oldRun = work.run('k', 1_000, () => old.promise);
    c.advance(2_000);
    const fresh = work.run('k', 1_000, async () => 'fresh');
    old.reject(new Error('late failure'));
    await expect(oldRun).rejects.toThrow();
    await fresh;
    const fn = vi.fn(async () => 'again');
    expect(await work.run('k', 1_000, fn)).toBe('fresh');
    expect(fn).not.toHaveBeenCalled();
  });

  it('should stay within its bound by evicting the oldest entries first', async () => {
    const c = clock();
    const work = new SharedWork(10, c.now);
    for (let i = 0; i < 10; i++) {
      await work.run(`k${i}`, 1_000_000, async () => i);
      c.advance(1);
    }
    expect(work.size).toBe(10);
    // Refreshing k0 makes it the newest entry.
    c.advance(10_000);
    await work.run('k0', 1, async () => 0);
    await work.run('k10', 1_000_000, async () => 10);
    expect(work.size).toBeLessThanOrEqual(10);

    const calls: string[] = [];
    const probe = (key: string) => work.run(key, 1_000_000, async () => void calls.push(key));
    for (const key of ['k0', 'k10', 'k9', 'k1', 'k2']) await probe(key);
    // k1 and k2 were the oldest and went; k0 (refreshed), k9 and k10 stayed.
    expect(calls).toEqual(['k1', 'k2']);

    for (let i = 0; i < 1_000; i++) await work.run(`many${i}`, 1_000_000, async () => i);
    expect(work.size).toBeLessThanOrEqual(10);
  });
});

describe(KeyedLimiter.name, () => {
  it('should run one task at a time per key and different keys side by side', async () => {
    const limiter = new KeyedLimiter(1);
    const active = new Map<string, number>();
    const peak = new Map<string, number>();
    let peakAll = 0;
    const task = (key: string) =>
      limiter.run(key, async () => {
        active.set(key, (active.get(key) ?? 0) + 1);
        peak.set(key, Math.max(peak.get(key) ?? 0, active.get(key)!));
        peakAll = Math.max(peakAll, [...active.values()].reduce((a, b) => a + b, 0));
        await new Promise((r) => setTimeout(r, 5));
        active.set(key, active.get(key)! - 1);
        return key;
      });
    const keys = ['127.0.0.11', '127.0.0.11', '127.0.0.11', '127.0.0.12', '127.0.0.12', '127.0.0.13'];
    expect(await Promise.all(keys.map(task))).toEqual(keys);
    expect(Object.fromEntries(peak)).toEqual({ '127.0.0.11': 1, '127.0.0.12': 1, '127.0.0.13': 1 });
    expect(peakAll).toBe(3);
  });

  it('should keep serialising a key whose queue drained and refilled', async () => {
    const limiter = new KeyedLimiter(1);
    let active = 0;
    let peak = 0;
    const task = () =>
      limiter.run('ip', async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 2));
        active--;
      });
    const first = task();
    const second = task();
    await first;
    // The first finished while the second runs: a newcomer must still wait its turn.
    await Promise.all([second, task(), task()]);
    expect(peak).toBe(1);
  });

  it('should release the key after a failure and forget idle keys', async () => {
    const limiter = new KeyedLimiter(1);
    await expect(limiter.run('ip', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limiter.run('ip', async () => 'next')).toBe('next');
    await Promise.all(Array.from({ length: 50 }, (_, i) => limiter.run(`ip${i}`, async () => i)));
    await new Promise((r) => setTimeout(r, 0));
    expect((limiter as unknown as { limits: Map<string, unknown> }).limits.size).toBe(0);
  });
});

describe(AgedCache.name, () => {
  it('should stay within its bytes by evicting the least recently used first, keeping what is asked for', async () => {
    const c = clock();
    const cache = new AgedCache<string>({ maxEntries: 1_000, maxBytes: 5_000, now: c.now });
    const big = 'x'.repeat(900);
    cache.set('shared-host', c.now(), Promise.resolve(big));
    for (let i = 0; i < 20; i++) {
      cache.set(`one-domain-host-${i}`, c.now(), Promise.resolve(big));
      await Promise.resolve();
      // Every other domain points at the shared host too.
      expect(cache.fresh('shared-host', 60_000)).toBeDefined();
    }
    await Promise.resolve();
    expect(cache.bytes).toBeLessThanOrEqual(5_000);
    expect(cache.size).toBeLessThan(10);
    expect(cache.fresh('shared-host', 60_000)).toBeDefined();
    expect(cache.fresh('one-domain-host-0', 60_000)).toBeUndefined();
    expect(cache.fresh('one-domain-host-19', 60_000)).toBeDefined();
  });

  it('should drop settled entries older than any age asked for, never one in flight', async () => {
    const c = clock();
    const cache = new AgedCache<number>({ maxEntries: 1_000, maxBytes: 1e9, now: c.now });
    const pending = deferred<number>();
    cache.fresh('x', 10_000);
    cache.set('in-flight', c.now(), pending.promise);
    cache.set('done', c.now(), Promise.resolve(1));
    await Promise.resolve();
    c.advance(20_000);
    cache.set('new', c.now(), Promise.resolve(2));
    await Promise.resolve();
    expect(cache.size).toBe(2);
    expect(cache.fresh('in-flight', 60_000)).toBeDefined();
    pending.resolve(3);
  });
});

describe(approximateBytes.name, () => {
  it('should count strings, nested objects, maps, dates and bytes, shared references once', () => {
    const shared = { s: 'y'.repeat(1_000) };
    const n = approximateBytes({ a: shared, b: shared, list: ['a', 'b'], at: new Date(), m: new Map([['k', 1]]), raw: Buffer.alloc(500) });
    expect(n).toBeGreaterThan(1_500);
    expect(n).toBeLessThan(2_500);
    expect(approximateBytes('z'.repeat(100))).toBe(116);
  });
});
