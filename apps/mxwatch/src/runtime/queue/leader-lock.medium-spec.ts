import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaderLock } from './leader-lock.js';
import { TEST_REDIS_URL, testRedisPrefix } from './redis-test-keys.js';

/** On the machine's real Redis, under a prefix of its own. */
describe(LeaderLock.name, () => {
  const keys = testRedisPrefix('leader-lock');
  let redis: Redis;
  let n = 0;
  const key = () => `${keys.prefix}:lock${n++}`;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    await keys.cleanup();
    redis.disconnect();
  });

  it('should let exactly one of several replicas hold the lock, and keep it with the holder while it renews', async () => {
    const k = key();
    const locks = Array.from({ length: 5 }, () => new LeaderLock(redis, k, 2_000));
    const held = await Promise.all(locks.map((l) => l.tryHold()));
    expect(held.filter(Boolean)).toHaveLength(1);
    const holder = locks[held.indexOf(true)]!;
    for (let i = 0; i < 3; i++) {
      expect(await holder.tryHold()).toBe(true);
      for (const other of locks.filter((l) => l !== holder)) expect(await other.tryHold()).toBe(false);
    }
    expect(await redis.pttl(k)).toBeGreaterThan(1_000);
  });

  it('should hand the lock over at once when the holder releases it', async () => {
    const k = key();
    const a = new LeaderLock(redis, k, 60_000);
    const b = new LeaderLock(redis, k, 60_000);
    expect(await a.tryHold()).toBe(true);
    expect(await b.tryHold()).toBe(false);
    await a.release();
    expect(a.held).toBe(false);
    expect(await b.tryHold()).toBe(true);
  });

  it('should move to another replica when the holder dies (stops renewing) and the TTL runs out', async () => {
    const k = key();
    const dead = new LeaderLock(redis, k, 300);
    const other = new LeaderLock(redis, k, 300);
    expect(await dead.tryHold()).toBe(true);
    expect(await other.tryHold()).toBe(false);
    await new Promise((r) => setTimeout(r, 400));
    expect(dead.held).toBe(false);
    expect(await other.tryHold()).toBe(true);
    // The old holder coming back cannot renew a key that is no longer its own, nor release it.
    expect(await dead.tryHold()).toBe(false);
    await dead.release();
    expect(await other.tryHold()).toBe(true);
  });

  it('should stop holding when Redis cannot be reached, not act on a guess', async () => {
    const unreachable = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    unreachable.on('error', () => undefined);
    const lock = new LeaderLock(unreachable, key(), 1_000);
    expect(await lock.tryHold()).toBe(false);
    expect(lock.held).toBe(false);
    unreachable.disconnect();
  });
});
