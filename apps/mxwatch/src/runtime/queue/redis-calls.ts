import type { Redis } from 'ioredis';

/** `p`, or a rejection after `ms`: a command queued while Redis is away must not hold a database transaction open. */
export function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms (${what})`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Redis's clock (TIME) in epoch ms: the one clock every replica of an installation shares. */
export async function redisNowMs(redis: Pick<Redis, 'time'>): Promise<number> {
  const [sec, usec] = await redis.time();
  return Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
}
