import type { RedisOptions } from 'bullmq';

/** ioredis options for a redis:// or rediss:// URL (user, password, database number in the path, TLS). */
export function redisOptionsFromUrl(url: string): RedisOptions {
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db: Number.isInteger(db) ? db : 0,
    ...(u.protocol === 'rediss:' ? { tls: { servername: u.hostname } } : {}),
    // Reconnect forever with a capped backoff: a Redis outage pauses the queue, it never ends the process.
    retryStrategy: (times: number) => Math.min(200 * times, 2_000),
    // Blocking commands of BullMQ workers must wait through a reconnect instead of failing.
    maxRetriesPerRequest: null,
    connectTimeout: 5_000,
  };
}

/**
 * Every key of one installation lives under one prefix derived from its database: two
 * mxwatch installations sharing a Redis (with their own PostgreSQL databases) never see each
 * other's jobs, locks or shared results.
 */
export function redisPrefixFor(databaseUrl: string | undefined): string {
  if (!databaseUrl) return 'mxwatch:embedded';
  const u = new URL(databaseUrl);
  const db = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres';
  return `mxwatch:${u.hostname}:${u.port || '5432'}:${db}`;
}
