import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app-process.js';
import type { CheckRun } from '../support/check-run.js';
import { createFakeInternet, type FakeInternet } from '../support/fake-internet.js';
import { createTestDatabase } from '../support/postgres.js';
import { fakeSmtpActivity } from '../rig/smtp/fake-smtp-server.js';

/**
 * Bounded fan-out (issue 9.3): a hostile MX set cannot make one check dial thousands of
 * addresses, and manual checks cannot bypass the global limits of checks and connections.
 */
describe('Bounded fan-out: caps per domain, one global limit of checks and connections, 429 when the manual queue is full', () => {
  let net: FakeInternet;
  let app: RunningApp;
  let dropDb: () => Promise<void>;

  beforeAll(async () => {
    net = await createFakeInternet();
    const db = await createTestDatabase();
    dropDb = () => db.drop();
    app = await startApp({
      ...net.env,
      DATABASE_URL: db.url,
      MXWATCH_CHECK_CONCURRENCY: '4',
      MXWATCH_MAX_CONNECTIONS: '3',
      MXWATCH_MANUAL_QUEUE: '3',
      MXWATCH_MAX_MX_HOSTS: '4',
      MXWATCH_MAX_ADDRESSES: '6',
      MXWATCH_SMTP_PORTS: '25',
      MXWATCH_CHECK_TIMEOUT: '20',
    });
  });

  afterAll(async () => {
    await app?.stop();
    await net?.close();
    await dropDb?.();
  });

  it('should check at most MXWATCH_MAX_MX_HOSTS hosts and MXWATCH_MAX_ADDRESSES distinct addresses, each address once, and say so', async () => {
    // 12 MX hosts, all on the same 8 addresses (the shape that gave 3,360 results for 28 addresses).
    const ips = Array.from({ length: 8 }, () => net.allocateIp());
    await net.addMailDomain('wide.test', { mx: Array.from({ length: 12 }, (_, i) => ({ host: `mx${i}.wide.test`, pref: i, ip: ips[i % ips.length]!, behaviour25: 'closed' as const })) });
    expect((await app.api('POST', '/api/v1/domains', { name: 'wide.test' })).status).toBe(201);
    const r = await app.api('POST', '/api/v1/domains/wide.test/check');
    expect(r.status, r.text).toBe(200);
    const run = r.body as CheckRun;
    const smtp = run.results.filter((x) => x.probe === 'smtp');
    const dialled = smtp.map((x) => x.details.ip as string);
    expect(new Set(dialled).size).toBe(dialled.length);
    expect(dialled.length).toBeLessThanOrEqual(6);
    expect(run.findings.observed.map((f) => f.code)).toContain('MX_TOO_MANY_TARGETS');
  });

  it('should keep manual checks under the global limits and answer 429 with Retry-After when the manual queue is full', async () => {
    const names: string[] = [];
    for (let i = 0; i < 10; i++) {
      const name = `slow${i}.test`;
      await net.addMailDomain(name, { mx: [{ host: `mx.${name}`, behaviour25: 'slow-banner', bannerDelayMs: 1500 }] });
      expect((await app.api('POST', '/api/v1/domains', { name })).status).toBe(201);
      names.push(name);
    }
    fakeSmtpActivity.resetPeak();
    const answers = await Promise.all(names.map((name) => app.api('POST', `/api/v1/domains/${name}/check`)));
    const statuses = answers.map((a) => a.status);
    // 4 run, 3 wait, the rest are told to come back.
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(4);
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    for (const a of refused) expect(Number(a.headers.get('retry-after'))).toBeGreaterThan(0);
    // Counted from the reset (suites before this one in the same process may leave a connection
    // open), each connection from once it settled: a busy test process may read one connection's
    // end after the next one's accept, which the CI saw as exactly one more than the limit.
    expect(fakeSmtpActivity.peakSinceReset).toBeGreaterThan(0);
    expect(fakeSmtpActivity.peakSinceReset).toBeLessThanOrEqual(3);
  });
});
