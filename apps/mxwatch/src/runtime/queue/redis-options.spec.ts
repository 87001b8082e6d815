import { describe, expect, it } from 'vitest';
import { redisOptionsFromUrl, redisPrefixFor } from './redis-options.js';

describe(redisOptionsFromUrl.name, () => {
  it('should read host, port, credentials, database number and TLS from the URL', () => {
    expect(redisOptionsFromUrl('rediss://user:p%40ss@cache.example:6380/3')).toMatchObject({ host: 'cache.example', port: 6380, username: 'user', password: 'p@ss', db: 3, tls: { servername: 'cache.example' } });
    const plain = redisOptionsFromUrl('redis://[::1]');
    expect(plain).toMatchObject({ host: '::1', port: 6379, db: 0 });
    expect(plain).not.toHaveProperty('tls');
    expect(plain).not.toHaveProperty('password');
  });

  it('should reconnect forever with a capped backoff, so an outage pauses the queue instead of ending the process', () => {
    const { retryStrategy, maxRetriesPerRequest } = redisOptionsFromUrl('redis://127.0.0.1:6379');
    expect(maxRetriesPerRequest).toBeNull();
    expect([1, 5, 100, 100_000].map((n) => retryStrategy!(n))).toEqual([200, 1000, 2000, 2000]);
  });
});

describe(redisPrefixFor.name, () => {
  it('should give each installation (its database) its own key prefix', () => {
    expect(redisPrefixFor('postgresql://u:p@db.example:5433/fleet_a?sslmode=require')).toBe('mxwatch:db.example:5433:fleet_a');
    expect(redisPrefixFor('postgresql://u@db.example/fleet_b')).toBe('mxwatch:db.example:5432:fleet_b');
    expect(redisPrefixFor(undefined)).toBe('mxwatch:embedded');
  });
});
