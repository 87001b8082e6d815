import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const TEST_REDIS_URL = process.env.MXWATCH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of one's own on the shared test Redis, and a cleanup that deletes only its keys (never FLUSHALL). */
export function testRedisPrefix(name: string): { prefix: string; cleanup(): Promise<void> } {
  const prefix = `mxwatch-test:${name}:${randomBytes(4).toString('hex')}`;
  return {
    prefix,
    async cleanup() {
      const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await redis.connect();
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) await redis.del(...keys);
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    },
  };
}
