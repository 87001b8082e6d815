/**
 * What a new user trips on (issue 9 items 13, 14), against the built service on PostgreSQL:
 * pending findings are visible and explained, and domains the YAML file manages cannot be
 * changed over the API behind the file's back. And a PostgreSQL outage (item 12), made real by
 * stopping a TCP proxy the service reaches PostgreSQL through.
 */
import { writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeInternet, type FakeInternet } from '../support/fake-internet.js';
import { removeDir, startApp, tempDir, type RunningApp } from '../support/app-process.js';
import { createTestDatabase } from '../support/postgres.js';

const TOKEN = 'e2e-reliability-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('pending findings and file-managed domains (built service, PostgreSQL)', () => {
  const BROKEN = 'broken.test';
  const FROM_FILE = 'file.test';
  let fake: FakeInternet;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let dir: string;
  let configFile: string;
  let app: RunningApp;

  beforeAll(async () => {
    fake = await createFakeInternet({ dnsblZones: [] });
    await fake.addMailDomain(BROKEN, { mx: [{ host: 'mx.broken.test', behaviour25: 'no-starttls' }] });
    await fake.addMailDomain(FROM_FILE, { mx: [{ host: 'mx.file.test', behaviour25: 'good' }] });
    db = await createTestDatabase();
    dir = tempDir('mxwatch-reliability-');
    configFile = path.join(dir, 'mxwatch.yml');
    writeFileSync(configFile, ['domains:', `  - name: ${FROM_FILE}`, '    labels: { team: mail }', ''].join('\n'));
    app = await startApp({ ...fake.env, DATABASE_URL: db.url, MXWATCH_CONFIG: configFile, MXWATCH_API_TOKEN: TOKEN, MXWATCH_ALERT_AFTER: '2', MXWATCH_SCHEDULER: 'false' });
    const r = await app.api('POST', '/api/v1/domains', { name: BROKEN }, auth);
    expect(r.status, r.text).toBe(201);
  });

  afterAll(async () => {
    await app?.stop();
    await fake?.close();
    await db?.drop();
    if (dir) removeDir(dir);
  });

  it('should say in the first check of a broken domain what is pending and why', async () => {
    const r = await app.api('POST', `/api/v1/domains/${BROKEN}/check`, undefined, auth);
    expect(r.status, r.text).toBe(200);
    const { findings } = r.body;
    expect(findings.open).toEqual([]);
    expect(findings.pending.map((f: { code: string }) => f.code)).toContain('STARTTLS_NOT_OFFERED');
    expect(findings.pending.find((f: { code: string }) => f.code === 'STARTTLS_NOT_OFFERED')).toMatchObject({ status: 'pending', seenRuns: 1, alertAfter: 2, runsUntilOpen: 1 });
    expect(findings.note).toContain('STARTTLS_NOT_OFFERED');
    expect(findings.note).toContain('MXWATCH_ALERT_AFTER=2');
  });

  it('should show pending findings in /status and /findings?status=pending, and not among open ones', async () => {
    const status = await app.api('GET', `/api/v1/domains/${BROKEN}/status`);
    expect(status.status).toBe(200);
    expect(status.body.openFindings).toEqual([]);
    expect(status.body.pendingFindings.map((f: { code: string }) => f.code)).toContain('STARTTLS_NOT_OFFERED');

    const pending = await app.api('GET', '/api/v1/findings?status=pending');
    expect(pending.status, pending.text).toBe(200);
    expect(pending.body.map((f: { domain: string; code: string; status: string }) => [f.domain, f.code, f.status])).toContainEqual([BROKEN, 'STARTTLS_NOT_OFFERED', 'pending']);
    const listed = await app.api('GET', '/api/v1/findings');
    expect(listed.body.filter((f: { status: string }) => f.status === 'pending')).toEqual([]);
    expect((await app.api('GET', '/api/v1/findings?status=bogus')).status).toBe(400);
  });

  it('should open the finding on the second check and then say nothing is pending', async () => {
    const r = await app.api('POST', `/api/v1/domains/${BROKEN}/check`, undefined, auth);
    expect(r.body.findings.opened.map((f: { code: string }) => f.code)).toContain('STARTTLS_NOT_OFFERED');
    expect(r.body.findings.pending.map((f: { code: string }) => f.code)).not.toContain('STARTTLS_NOT_OFFERED');
  });

  it('should refuse PATCH and DELETE of a domain from the YAML file with 409 naming the file', async () => {
    const patch = await app.api('PATCH', `/api/v1/domains/${FROM_FILE}`, { enabled: false }, auth);
    expect(patch.status, patch.text).toBe(409);
    expect(patch.body.message).toContain(configFile);
    const del = await app.api('DELETE', `/api/v1/domains/${FROM_FILE}`, undefined, auth);
    expect(del.status, del.text).toBe(409);
    expect(del.body.message).toContain(configFile);

    const still = await app.api('GET', `/api/v1/domains/${FROM_FILE}`);
    expect(still.body).toMatchObject({ name: FROM_FILE, enabled: true, source: 'config', labels: { team: 'mail' } });
    // Checking it changes nothing about it: allowed.
    expect((await app.api('POST', `/api/v1/domains/${FROM_FILE}/check`, undefined, auth)).status).toBe(200);
    // A domain created over the API is still the API's to change.
    expect((await app.api('PATCH', `/api/v1/domains/${BROKEN}`, { labels: { team: 'web' } }, auth)).status).toBe(200);
  });
});

/** A TCP proxy to the real PostgreSQL that can be stopped (every connection cut) and started again on the same port. */
class PgProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(5432, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => this.sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function waitUntil<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a PostgreSQL outage (built service, PostgreSQL behind a proxy that is stopped)', () => {
  const SLOW = 'slow.test';
  let fake: FakeInternet;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const proxy = new PgProxy();
  let app: RunningApp;

  const lines = (msg: string) => app.output().split('\n').filter((l) => l.includes(`"msg":"${msg}`)).length;

  beforeAll(async () => {
    fake = await createFakeInternet({ dnsblZones: [] });
    // A banner that takes a while: the database can go away while the check runs.
    await fake.addMailDomain(SLOW, { mx: [{ host: 'mx.slow.test', behaviour25: 'slow-banner', bannerDelayMs: 3000 }] });
    db = await createTestDatabase();
    await proxy.start();
    const url = new URL(db.url);
    url.port = String(proxy.port);
    app = await startApp({ ...fake.env, DATABASE_URL: url.toString(), MXWATCH_API_TOKEN: TOKEN, MXWATCH_SCHEDULER: 'true', MXWATCH_SCHEDULER_TICK: '1', MXWATCH_SMTP_REPLY_TIMEOUT_MS: '5000', MXWATCH_LOG_LEVEL: 'info' });
    const r = await app.api('POST', '/api/v1/domains', { name: SLOW, intervalSeconds: 3600 }, auth);
    expect(r.status, r.text).toBe(201);
  });

  afterAll(async () => {
    await app?.stop();
    await proxy.stop();
    await fake?.close();
    await db?.drop();
  });

  it('should keep a check that finished during the outage, answer 503 with Retry-After, and store the check once the database is back', async () => {
    // Let the first scheduled check (within 5 s of creation) finish, so only the manual one is in flight.
    await waitUntil('the first scheduled check', async () => (await app.api('GET', `/api/v1/domains/${SLOW}`)).body?.lastCheckAt).catch((e) => {
      console.log(app.output().slice(-6000));
      throw e;
    });
    const before = (await app.api('GET', `/api/v1/domains/${SLOW}/checks?limit=500`)).body.items.length;

    const check = fetch(`${app.baseUrl}/api/v1/domains/${SLOW}/check`, { method: 'POST', headers: auth });
    await new Promise((r) => setTimeout(r, 800));
    await proxy.stop();
    const answer = await check;
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
    const body = (await answer.json()) as { message: string[] };
    expect(body.message.join(' '), app.output().split('\n').filter((l) => /Check|Api|Database|kept/.test(l)).join('\n').slice(-4000)).toContain('kept until the database is back');

    // Every API route that needs the database answers 503 too, not 500, and says nothing of the driver.
    const list = await fetch(`${app.baseUrl}/api/v1/domains`);
    expect(list.status).toBe(503);
    expect(list.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await list.text()).not.toMatch(/prisma|ECONN|5432|127\.0\.0\.1/i);

    // /metrics keeps answering (Prometheus would see the target down and lose the process's series):
    // the database's state is a series of its own.
    const during = await fetch(`${app.baseUrl}/metrics`);
    expect(during.status).toBe(200);
    expect(await during.text()).toMatch(/^mxwatch_database_up 0$/m);

    // Several scheduler ticks go by: the outage is logged once, not once per tick.
    await new Promise((r) => setTimeout(r, 3500));
    expect(lines('database unavailable')).toBe(1);
    // Access-log lines of the 503 answers aside, nothing else is logged as an error during the outage.
    const errors = app.output().split('\n').filter((l) => l.includes('"level":"error"') && !l.includes('"msg":"database unavailable') && !l.includes('"msg":"request"'));
    expect(errors).toEqual([]);

    await proxy.start();
    await waitUntil('the database to be back', async () => lines('database available again') === 1);
    const after = await waitUntil('the kept check to be stored', async () => {
      const r = await app.api('GET', `/api/v1/domains/${SLOW}/checks?limit=500`);
      return r.status === 200 && r.body.items.length > before && r.body.items;
    });
    expect(after.length).toBeGreaterThan(before);
    expect(lines('database unavailable')).toBe(1);
    const metrics = await fetch(`${app.baseUrl}/metrics`).then((r) => r.text());
    expect(metrics).not.toMatch(/^mxwatch_check_runs_dropped_total\{[^}]*\} [1-9]/m);
    expect(metrics).toMatch(/^mxwatch_database_up 1$/m);
  });
});
