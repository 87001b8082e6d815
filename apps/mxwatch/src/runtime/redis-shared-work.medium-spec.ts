import { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisKeyedLimiter, RedisSharedWork, sharedCodec } from './redis-shared-work.js';
import { TEST_REDIS_URL, testRedisPrefix } from './queue/redis-test-keys.js';

/** On the machine's real Redis, under a prefix of its own; each "worker" has its own connection, as separate processes would. */
describe(RedisSharedWork.name, () => {
  const clients: Redis[] = [];
  let keys = testRedisPrefix('shared-work');
  const client = () => {
    const c = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    clients.push(c);
    return c;
  };
  const worker = (opts: { now?: () => number; flightTtlMs?: number } = {}) => new RedisSharedWork(client(), { prefix: keys.prefix, ...opts });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const used = [keys];
  beforeEach(() => {
    keys = testRedisPrefix('shared-work');
    used.push(keys);
  });

  afterAll(async () => {
    for (const k of used) await k.cleanup();
    for (const c of clients) c.disconnect();
  });

  describe('sharedCodec', () => {
    it('should give back the types a probe result carries, and not mistake an own "$t" key for a tag', () => {
      const value = {
        startedAt: new Date('2026-01-02T03:04:05.678Z'),
        invalid: new Date(NaN),
        byPort: new Map([[25, { open: true }]]),
        zones: new Set(['zen', 'dbl']),
        big: 12345678901234567890n,
        der: Buffer.from([0, 1, 254, 255]),
        list: [1, undefined, null, Infinity, -Infinity, NaN],
        nested: { $t: 'date', v: 'not a tag' },
        text: '2026-01-02T03:04:05.678Z',
      };
      const back = sharedCodec.decode<typeof value>(sharedCodec.encode(value));
      expect(back.startedAt).toEqual(value.startedAt);
      expect(back.invalid).toBeInstanceOf(Date);
      expect(Number.isNaN(back.invalid.getTime())).toBe(true);
      expect(back.byPort).toEqual(value.byPort);
      expect(back.zones).toEqual(value.zones);
      expect(back.big).toBe(value.big);
      expect(Buffer.compare(back.der, value.der)).toBe(0);
      expect(back.list).toEqual([1, undefined, null, Infinity, -Infinity, NaN]);
      expect(back.nested).toEqual({ $t: 'date', v: 'not a tag' });
      // A string that looks like a date stays a string.
      expect(back.text).toBe(value.text);
    });
  });

  it('should give a worker that asks right after another stored its result that result, not the flight', async () => {
    const a = worker();
    const bClient = client();
    // B's one round trip (result or flight, atomically) waits until A has stored its result and let
    // go of the flight: a read and a SET NX apart once probed the address twice.
    let aDone!: Promise<unknown>;
    const slowClaim = new Proxy(bClient, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (prop !== 'mxwatchFleet_claim' || typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          await aDone;
          return (value as (...a: unknown[]) => Promise<unknown>).apply(receiver, args);
        };
      },
    });
    const b = new RedisSharedWork(slowClaim, { prefix: keys.prefix });
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    aDone = a.run('smtp|mx|25', 60_000, async () => {
      calls++;
      await gate;
      return 'from a';
    });
    await sleep(50);
    const fromB = b.run('smtp|mx|25', 60_000, async () => {
      calls++;
      return 'from b';
    });
    await sleep(50);
    release();
    expect(await fromB).toBe('from a');
    expect(calls).toBe(1);
    expect(b.stats).toMatchObject({ redisHits: 1, ran: 0, waited: 0 });
  });

  it('should read a result stored by the previous release of this code as a miss, never as a wrong value', async () => {
    const raw = client();
    // The old format: JSON of { at, value } under sw:r:, which no longer exists for this release.
    await raw.set(`${keys.prefix}:sw:r:old`, JSON.stringify({ at: Date.now(), value: 'stale format' }), 'PX', 60_000);
    const w = worker();
    expect(await w.run('old', 60_000, async () => 'probed')).toBe('probed');
    // Text under the new key that is not `<at>|<json>` is probed again at once, not decoded nor waited on.
    await raw.set(`${keys.prefix}:sw:r2:junk`, 'not|json', 'PX', 60_000);
    expect(await worker().run('junk', 60_000, async () => 'probed again')).toBe('probed again');
    await raw.set(`${keys.prefix}:sw:r2:broken`, `${Date.now()}|{"at":`, 'PX', 60_000);
    const fixer = worker();
    expect(await fixer.run('broken', 60_000, async () => 'probed once more')).toBe('probed once more');
    expect(fixer.stats).toMatchObject({ ran: 1, waited: 0 });
    // What it stored is what the next worker reads.
    expect(await worker().run('broken', 60_000, async () => 'not again')).toBe('probed once more');
  });

  it('should probe a key once across workers asking at the same time, and give all of them the result', async () => {
    const a = worker();
    const b = worker();
    let calls = 0;
    const probe = async () => {
      calls++;
      await sleep(100);
      return { at: new Date('2026-01-01T00:00:00Z'), ok: true };
    };
    const results = await Promise.all([a.run('smtp|mx1|25', 60_000, probe), b.run('smtp|mx1|25', 60_000, probe), a.run('smtp|mx1|25', 60_000, probe), b.run('smtp|mx1|25', 60_000, probe)]);
    expect(calls).toBe(1);
    for (const r of results) expect(r).toEqual({ at: new Date('2026-01-01T00:00:00Z'), ok: true });
    expect(a.stats.ran + b.stats.ran).toBe(1);
  });

  it('should reuse a result another worker obtained only while it is younger than what the asker tolerates', async () => {
    let t = 1_000_000;
    const now = () => t;
    const a = worker({ now });
    const b = worker({ now });
    let calls = 0;
    const probe = async () => ++calls;
    expect(await a.run('k', 60_000, probe)).toBe(1);
    t += 30_000;
    // b has never seen the key: it takes a's result from Redis.
    expect(await b.run('k', 60_000, probe)).toBe(1);
    expect(b.stats.redisHits).toBe(1);
    // A domain with a shorter interval does not accept a 30 s old result.
    expect(await b.run('k', 10_000, probe)).toBe(2);
    // ... and the fresher result is what a now finds, though its own copy was still young enough for 60 s.
    t += 1;
    expect(await worker({ now }).run('k', 60_000, probe)).toBe(2);
    // A manual check (max age 0) always probes afresh.
    expect(await a.run('k', 0, probe)).toBe(3);
  });

  it('should remember in this process the age of a result taken from Redis, not the time it was read', async () => {
    let t = 5_000_000;
    const now = () => t;
    const a = worker({ now });
    const b = worker({ now });
    let calls = 0;
    await a.run('aged', 60_000, async () => ++calls);
    t += 50_000;
    expect(await b.run('aged', 60_000, async () => ++calls)).toBe(1);
    t += 20_000;
    // 70 s after it was probed: too old for b, though b read it only 20 s ago.
    expect(await b.run('aged', 60_000, async () => ++calls)).toBe(2);
  });

  it('should take over the probe of a worker that died holding the flight, once its flight lapses', async () => {
    const dying = worker({ flightTtlMs: 300 });
    const survivor = worker({ flightTtlMs: 300 });
    void dying.run('dead', 60_000, () => new Promise(() => {}));
    await sleep(50);
    const started = Date.now();
    expect(await survivor.run('dead', 60_000, async () => 'mine')).toBe('mine');
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(survivor.stats.waited).toBeGreaterThan(0);
  });

  it('should not keep a failed probe: the next asker probes again', async () => {
    const a = worker();
    await expect(a.run('bad', 60_000, () => Promise.reject(new Error('bug')))).rejects.toThrow('bug');
    expect(await a.run('bad', 60_000, async () => 'ok')).toBe('ok');
  });

  it('should probe locally when Redis cannot be reached', async () => {
    const down = new Redis({ host: '127.0.0.1', port: 1, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, lazyConnect: true });
    down.on('error', () => undefined);
    clients.push(down);
    const w = new RedisSharedWork(down, { prefix: keys.prefix });
    expect(await w.run('x', 60_000, async () => 42)).toBe(42);
    expect(w.stats.fallbacks).toBe(1);
  });

  describe(RedisKeyedLimiter.name, () => {
    async function peakConcurrency(limiters: RedisKeyedLimiter[], key: string, tasks: number): Promise<number> {
      let running = 0;
      let peak = 0;
      await Promise.all(
        Array.from({ length: tasks }, (_, i) =>
          limiters[i % limiters.length]!.run(key, async () => {
            running++;
            peak = Math.max(peak, running);
            await sleep(15);
            running--;
          }),
        ),
      );
      return peak;
    }

    it('should hold the per-address limit across workers', async () => {
      const one = [0, 1, 2].map(() => new RedisKeyedLimiter(client(), { prefix: keys.prefix, concurrency: 1 }));
      expect(await peakConcurrency(one, '192.0.2.1', 12)).toBe(1);
      const two = [0, 1, 2].map(() => new RedisKeyedLimiter(client(), { prefix: keys.prefix, concurrency: 2 }));
      expect(await peakConcurrency(two, '192.0.2.2', 12)).toBe(2);
    });

    it('should let other addresses through while one is busy', async () => {
      const a = new RedisKeyedLimiter(client(), { prefix: keys.prefix, concurrency: 1 });
      const b = new RedisKeyedLimiter(client(), { prefix: keys.prefix, concurrency: 1 });
      let release!: () => void;
      const busy = a.run('192.0.2.10', () => new Promise<void>((r) => (release = r)));
      await sleep(30);
      expect(await b.run('192.0.2.11', async () => 'other')).toBe('other');
      release();
      await busy;
    });

    it("should free a dead worker's lease when it expires", async () => {
      const dead = new RedisKeyedLimiter(client(), { prefix: keys.prefix, concurrency: 1, leaseMs: 300 });
      const alive = new RedisKeyedLimiter(client(), { prefix: keys.prefix, concurrency: 1, leaseMs: 300 });
      // The dead worker's lease is not extended (its process is gone): simulate by stopping its timers.
      const redisOfDead = clients[clients.length - 2]!;
      void dead.run('192.0.2.20', () => (redisOfDead.disconnect(), new Promise(() => {})));
      await sleep(50);
      const started = Date.now();
      expect(await alive.run('192.0.2.20', async () => 'through')).toBe('through');
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    });
  });
});
