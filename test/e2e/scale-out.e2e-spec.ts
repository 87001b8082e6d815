/**
 * Scale-out, end to end: the BUILT service as one `api` and two `worker` processes on one
 * PostgreSQL database and the machine's Redis (reached through a TCP proxy this suite can cut),
 * checking domains on the fake internet. The Redis keys live under the prefix derived from the
 * suite's own database, and are deleted afterwards.
 */
import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app-process.js';
import { createFakeInternet, type FakeInternet } from '../support/fake-internet.js';
import { findSamples, parseMetrics } from '../support/metrics-text.js';
import { createTestDatabase } from '../support/postgres.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const REDIS_HOST = '127.0.0.1';
const REDIS_PORT = 6379;

async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('scale-out: api and workers on Redis', () => {
  let net: FakeInternet;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let proxy: TcpProxy;
  let sql: pg.Client;
  let api: RunningApp;
  let workers: RunningApp[] = [];
  let env: Record<string, string>;

  const runsPerDomain = async () => {
    const r = await sql.query<{ name: string; trigger: string; runs: string }>(`SELECT d."name", r."trigger", count(*) AS runs FROM "CheckRun" r JOIN "Domain" d ON d."id" = r."domainId" GROUP BY 1, 2 ORDER BY 1, 2`);
    return r.rows.map((x) => ({ name: x.name, trigger: x.trigger, runs: Number(x.runs) }));
  };
  const addDomain = async (name: string) => {
    const r = await api.api('POST', '/api/v1/domains', { name });
    expect(r.status, r.text).toBe(201);
  };

  beforeAll(async () => {
    [net, db] = await Promise.all([createFakeInternet(), createTestDatabase('mxwatch_scale')]);
    for (const name of ['one.test', 'two.test', 'three.test', 'four.test']) await net.addMailDomain(name, { mx: [{ host: `mx.${name}` }] });
    proxy = new TcpProxy(REDIS_HOST, REDIS_PORT);
    await proxy.start();
    sql = new pg.Client({ connectionString: db.url });
    env = {
      ...net.env,
      DATABASE_URL: db.url,
      MXWATCH_REDIS_URL: proxy.url,
      MXWATCH_SCHEDULER: 'true',
      MXWATCH_SCHEDULER_TICK: '1',
      MXWATCH_CHECK_INTERVAL: '600',
      MXWATCH_LOG_LEVEL: 'info',
    };
    // The api first: it applies the migrations the workers then find done.
    api = await startApp({ ...env, MXWATCH_ROLE: 'api' });
    await sql.connect();
    workers = await Promise.all([startApp({ ...env, MXWATCH_ROLE: 'worker' }), startApp({ ...env, MXWATCH_ROLE: 'worker' })]);
  });

  afterAll(async () => {
    for (const w of workers) await w?.stop();
    await api?.stop();
    await sql?.end().catch(() => undefined);
    await proxy?.stop();
    await net?.close();
    if (db) {
      // Only this suite's keys: the prefix comes from its database.
      const redis = new Redis({ host: REDIS_HOST, port: REDIS_PORT });
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `mxwatch:*:${db.name}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
      redis.disconnect();
      await db.drop();
    }
  });

  it('should serve only health (and its own metrics) on a worker, and the whole API on the api replica', async () => {
    const w = workers[0]!;
    expect((await w.api('GET', '/health/live')).status).toBe(200);
    expect((await w.api('GET', '/health/ready')).body).toMatchObject({ status: 'ok', redis: 'ok' });
    expect((await w.api('GET', '/api/v1/domains')).status).toBe(404);
    expect((await w.api('POST', '/api/v1/domains', { name: 'x.test' })).status).toBe(404);
    expect((await api.api('GET', '/api/v1/domains')).status).toBe(200);
    expect((await api.api('GET', '/health/ready')).body).toMatchObject({ status: 'ok', redis: 'ok' });
  });

  it('should check every domain exactly once on schedule across two workers, and none on the api replica', async () => {
    for (const name of ['one.test', 'two.test', 'three.test']) await addDomain(name);
    await waitFor('three scheduled runs', async () => (await runsPerDomain()).length === 3);
    // Give a second claim a chance to show up, if there were one.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await runsPerDomain()).toEqual([
      { name: 'one.test', trigger: 'schedule', runs: 1 },
      { name: 'three.test', trigger: 'schedule', runs: 1 },
      { name: 'two.test', trigger: 'schedule', runs: 1 },
    ]);
    const keys = await sql.query<{ k: string | null }>(`SELECT "idempotencyKey" AS k FROM "CheckRun"`);
    expect(keys.rows.every((r) => /^s-[0-9a-f-]{36}-\d+$/.test(r.k ?? ''))).toBe(true);
    expect(api.output()).not.toContain('check finished');
    const leaders = workers.filter((w) => w.output().includes('scheduler role taken'));
    expect(leaders).toHaveLength(1);
    // Work shared between domains went through Redis, for every worker to reuse.
    const redis = new Redis({ host: REDIS_HOST, port: REDIS_PORT });
    const [, shared] = await redis.scan('0', 'MATCH', `mxwatch:*:${db.name}:sw:r2:*`, 'COUNT', 100_000);
    redis.disconnect();
    expect(shared.length).toBeGreaterThan(0);
  });

  it("should show on the api replica's /metrics the per-domain and per-host series of the checks the workers ran, and the shared queue", async () => {
    const scrape = async (app: RunningApp) => parseMetrics(await (await fetch(`${app.baseUrl}/metrics`)).text());
    const s = await scrape(api);
    for (const name of ['one.test', 'two.test', 'three.test']) {
      expect(findSamples(s, 'mxwatch_last_check_timestamp_seconds', { domain: name }), name).toHaveLength(1);
      expect(findSamples(s, 'mxwatch_probe_success', { domain: name, probe: 'mx' })[0]?.value, name).toBe(1);
      expect(findSamples(s, 'mxwatch_domain_mx_info', { domain: name, mx: `mx.${name}` }), name).toHaveLength(1);
      expect(findSamples(s, 'mxwatch_smtp_port_open', { host: `mx.${name}`, port: '25' })[0]?.value, name).toBe(1);
    }
    // The counters are the workers' (they ran the checks); the queue is the same for everyone.
    expect(findSamples(s, 'mxwatch_check_runs_total')).toEqual([]);
    expect(findSamples(s, 'mxwatch_queue_jobs', { state: 'completed' })[0]?.value).toBeGreaterThanOrEqual(3);
    expect(findSamples(s, 'mxwatch_queue_jobs').map((x) => x.labels.state).sort()).toEqual(['active', 'completed', 'delayed', 'failed', 'paused', 'prioritized', 'waiting']);

    const w = await Promise.all(workers.map(scrape));
    expect(w.flatMap((x) => findSamples(x, 'mxwatch_check_runs_total', { trigger: 'schedule' })).reduce((n, x) => n + x.value, 0)).toBe(3);
    for (const x of w) {
      expect(findSamples(x, 'mxwatch_probe_success')).toEqual([]);
      expect(findSamples(x, 'mxwatch_smtp_port_open')).toEqual([]);
      expect(findSamples(x, 'mxwatch_queue_jobs', { state: 'completed' })).toEqual(findSamples(s, 'mxwatch_queue_jobs', { state: 'completed' }));
    }
  });

  it('should answer a manual check on the api replica with the run a worker stored', async () => {
    const r = await api.api('POST', '/api/v1/domains/one.test/check');
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ domain: 'one.test', trigger: 'manual', status: expect.any(String) });
    expect(r.body.results.length).toBeGreaterThan(0);
    expect(r.body.findings).toMatchObject({ observed: expect.any(Array), open: expect.any(Array) });
    const stored = await sql.query<{ id: string }>(`SELECT r."id" FROM "CheckRun" r WHERE r."trigger" = 'manual'`);
    expect(stored.rows.map((x) => x.id)).toEqual([r.body.id]);
    expect(api.output()).not.toContain('check finished');
  });

  it('should keep the API answering while Redis is away, say so on /health/ready, and catch up without running anything twice when it returns', async () => {
    await proxy.stop();
    // The API and liveness keep answering; readiness names what is missing.
    expect((await api.api('GET', '/health/live')).status).toBe(200);
    expect((await api.api('GET', '/api/v1/domains')).status).toBe(200);
    const apiReady = await api.api('GET', '/health/ready');
    expect(apiReady.status).toBe(200);
    expect(apiReady.body).toMatchObject({ missing: ['redis'] });
    for (const w of workers) {
      expect((await w.api('GET', '/health/live')).status).toBe(200);
      const ready = await w.api('GET', '/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ missing: ['redis'] });
    }
    // A manual check cannot reach a worker: a clear 503, not a hang.
    expect((await api.api('POST', '/api/v1/domains/two.test/check')).status).toBe(503);
    // A domain added during the outage stays due.
    await addDomain('four.test');
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await runsPerDomain()).find((x) => x.name === 'four.test')).toBeUndefined();

    await proxy.start();
    await waitFor('four.test checked after Redis returned', async () => (await runsPerDomain()).some((x) => x.name === 'four.test'));
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await runsPerDomain()).toEqual([
      { name: 'four.test', trigger: 'schedule', runs: 1 },
      { name: 'one.test', trigger: 'manual', runs: 1 },
      { name: 'one.test', trigger: 'schedule', runs: 1 },
      { name: 'three.test', trigger: 'schedule', runs: 1 },
      { name: 'two.test', trigger: 'schedule', runs: 1 },
    ]);
    for (const w of workers) {
      expect(await waitFor('worker ready again', async () => (await w.api('GET', '/health/ready')).status === 200)).toBe(true);
    }
    // No crash loop: every process is the one started at the beginning.
    for (const app of [api, ...workers]) expect(app.output()).not.toMatch(/failed to start|Unhandled|uncaught/i);
  });

  it('should move the scheduler role to the other worker when the leader stops', async () => {
    const leader = workers.find((w) => w.output().includes('scheduler role taken'))!;
    const other = workers.find((w) => w !== leader)!;
    await leader.stop();
    workers = [other];
    await net.addMailDomain('five.test', { mx: [{ host: 'mx.five.test' }] });
    await addDomain('five.test');
    await waitFor('five.test checked by the remaining worker', async () => (await runsPerDomain()).some((x) => x.name === 'five.test'));
    expect(other.output()).toContain('scheduler role taken');
  });

  it('should announce every domain change made on the api replica to the workers, so checks queued for it read it again', async () => {
    const sub = new Redis({ host: REDIS_HOST, port: REDIS_PORT });
    const heard: string[] = [];
    sub.on('pmessage', (_p: string, channel: string, name: string) => heard.push(`${channel.slice(channel.lastIndexOf(db.name) + db.name.length)} ${name}`));
    try {
      await sub.psubscribe(`mxwatch:*:${db.name}:domains:changed`);
      await addDomain('six.test');
      const steps: Array<[string, unknown]> = [['PATCH', { labels: { team: 'mail' } }], ['PATCH', { enabled: false }], ['DELETE', undefined]];
      for (const [i, [method, body]] of steps.entries()) {
        const r = await api.api(method, '/api/v1/domains/six.test', body);
        expect(r.status, r.text).toBe(method === 'DELETE' ? 204 : 200);
        await waitFor(`announcement ${i + 1}`, async () => heard.length > i, 5_000);
      }
      expect(heard).toEqual([':domains:changed six.test', ':domains:changed six.test', ':domains:changed six.test']);
    } finally {
      sub.disconnect();
    }
  });
});
