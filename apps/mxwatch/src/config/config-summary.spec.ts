import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { configSummary } from './config-summary.js';
import { loadConfig } from './load-config.js';

describe(configSummary.name, () => {
  const secrets = {
    MXWATCH_SPAMHAUS_DQS_KEY: 'dqskey0123456789abcdefghij',
    MXWATCH_API_TOKEN: 'write-token-0123456789',
    MXWATCH_READ_TOKEN: 'read-token-0123456789',
    DATABASE_URL: 'postgresql://mxwatch:db-pa55word@127.0.0.1:5432/mxwatch',
    MXWATCH_REDIS_URL: 'redis://:redis-pa55word@127.0.0.1:6379',
    MXWATCH_WEBHOOK_URL: 'https://hooks.example.net/T000/hook-secret-path',
    MXWATCH_WEBHOOK_SECRET: 'hmac-secret',
  };

  it('should name the resolver of each purpose, the zones and the ports, and each secret only as on/off', () => {
    const config = loadConfig({
      env: { ...secrets, MXWATCH_DNSBL_DNS_SERVERS: '127.0.0.53', MXWATCH_DNSBL_DNS_PROTOCOL: 'udp', MXWATCH_DNSBL_ZONES: 'zen.spamhaus.org', MXWATCH_PORT_MAP: '25:2525' },
      cwd: tmpdir(),
    });
    const summary = configSummary(config);
    expect(summary).toMatchObject({
      msg: 'effective configuration',
      database: 'postgres',
      resolvers: {
        domains: { protocol: 'https', servers: ['1.1.1.1', '1.0.0.1'] },
        dnsbl: { protocol: 'udp', servers: ['127.0.0.53'], spamhausDqs: 'on' },
      },
      dnsblZones: ['zen.spamhaus.org'],
      smtpPorts: [25, 587, 465],
      portMap: { 25: 2525 },
      auth: { apiToken: 'on', readToken: 'on', ui: 'open' },
      queue: 'redis',
    });
    const line = JSON.stringify(summary);
    for (const value of Object.values(secrets)) expect(line).not.toContain(value);
    for (const part of ['db-pa55word', 'redis-pa55word', 'hook-secret-path', 'dqskey']) expect(line).not.toContain(part);
  });

  it('should say DQS is off without a key', () => {
    expect(configSummary(loadConfig({ env: {}, cwd: tmpdir() })).resolvers.dnsbl.spamhausDqs).toBe('off');
  });
});
