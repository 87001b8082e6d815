import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * One holder at a time across the fleet: a Redis key with a TTL, set only when absent, renewed
 * by its holder (compare-and-expire, so a holder that lost the key never extends someone
 * else's). When the holder dies its key expires and the next `tryHold` anywhere takes over.
 *
 * `held` is true only while the last acquire or renewal succeeded less than a TTL ago: a
 * holder that cannot reach Redis stops acting as leader before another could have taken over.
 */
export class LeaderLock {
  private readonly token = randomUUID();
  private heldUntil = 0;

  constructor(
    private readonly redis: Redis,
    readonly key: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get held(): boolean {
    return this.now() < this.heldUntil;
  }

  /** Acquires the lock, or renews it when this instance holds it; returns whether it holds it now. */
  async tryHold(): Promise<boolean> {
    const started = this.now();
    try {
      if (this.heldUntil > 0) {
        const renewed = (await this.redis.eval(RENEW, 1, this.key, this.token, String(this.ttlMs))) as number;
        if (renewed === 1) {
          // Measured from before the call: the key may have been renewed late in the round trip.
          this.heldUntil = started + this.ttlMs;
          return true;
        }
        this.heldUntil = 0;
      }
      const set = await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX');
      this.heldUntil = set === 'OK' ? started + this.ttlMs : 0;
    } catch {
      // Redis unreachable: whatever we held lapses on its own; never act as leader on a guess.
      if (!this.held) this.heldUntil = 0;
    }
    return this.held;
  }

  async release(): Promise<void> {
    if (this.heldUntil === 0) return;
    this.heldUntil = 0;
    await this.redis.eval(RELEASE, 1, this.key, this.token).catch(() => undefined);
  }
}
