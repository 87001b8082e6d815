import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/support/postgres.js';
import type { CheckRunner } from './check-runner.service.js';
import { ChecksRepository } from '../storage/checks.repository.js';
import { AppLogger } from '../common/app-logger.js';
import type { AppConfig } from '../config/config.types.js';
import { DatabaseService } from '../database/database.service.js';
import { openDatabase, type Database } from '../database/open-database.js';
import type { DomainRow } from '../storage/domains.repository.js';
import { ROW_FRESH_MS, SchedulerService } from './scheduler.service.js';
import { ScheduleRepository } from '../storage/schedule.repository.js';
import { EventBus } from './events.js';
import type { DatabaseOutage } from './run-buffer.js';
import { isDatabaseUnavailable } from '../storage/database-errors.js';

const DAY = 86_400_000;
const NOW = new Date('2026-06-15T12:00:00.000Z');
const RETENTION_DAYS = 30;

/** Medium tier: the real repository on a real PostgreSQL; only the check runner is stubbed. */
describe(SchedulerService.name, () => {
  let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let database: Database;
  let checks: ChecksRepository;
  let logLines: string[];
  let batches: number[];
  let afterBatch: ((n: number) => void) | null;
  let ran: string[];
  let release: Array<() => void>;

  const prisma = () => database.prisma;

  function scheduler(overrides: Partial<AppConfig> = {}, extras: { events?: EventBus; repo?: ScheduleRepository; outage?: DatabaseOutage } = {}): SchedulerService {
    const config = { checkConcurrency: 4, retentionDays: RETENTION_DAYS, schedulerTickSeconds: 1, checkIntervalSeconds: 300, ...overrides } as AppConfig;
    const runner = {
      run: (d: DomainRow) => {
        ran.push(d.name);
        return new Promise<void>((resolve) => release.push(resolve));
      },
    } as unknown as CheckRunner;
    const sink = new Writable({ write: (chunk, _enc, cb) => (logLines.push(String(chunk)), cb()) });
    const repo = extras.repo ?? new ScheduleRepository(DatabaseService.over(database));
    return new SchedulerService({} as never, runner, checks, repo, new AppLogger('info', sink), config, extras.outage, undefined, extras.events);
  }

  /** The scheduler's clock and row freshness, for tests that move time by hand. */
  function internals(svc: SchedulerService) {
    return svc as unknown as { clock: () => number; rowFreshMs: number; inFlight: Set<string> };
  }

  async function addDomain(name: string, data: { nextCheckAt?: Date | null; enabled?: boolean; intervalSeconds?: number | null } = {}) {
    return prisma().domain.create({ data: { name, ...data } });
  }

  /** Inserts runs (with two probe results each) started at the given times. */
  async function addRuns(domainId: string, startedAts: Date[]): Promise<string[]> {
    const runs = startedAts.map((startedAt) => ({ id: randomUUID(), domainId, trigger: 'schedule', status: 'pass', startedAt, finishedAt: new Date(startedAt.getTime() + 900), durationMs: 900 }));
    for (let i = 0; i < runs.length; i += 1000) await prisma().checkRun.createMany({ data: runs.slice(i, i + 1000) });
    const results = runs.flatMap((r) =>
      (['mx', 'smtp'] as const).map((probe) => ({ runId: r.id, domainId, probe, target: 'x', status: 'pass', startedAt: r.startedAt, durationMs: 10, details: {} })),
    );
    for (let i = 0; i < results.length; i += 2000) await prisma().probeResult.createMany({ data: results.slice(i, i + 2000) });
    return runs.map((r) => r.id);
  }

  /** Bulk history for the batch tests, written in SQL: `count` runs at or before `newest`, spread over 300 days. */
  async function addOldRuns(domainId: string, count: number, newest: Date): Promise<void> {
    const at = newest.toISOString().replace('T', ' ').replace('Z', '');
    await prisma().$executeRawUnsafe(
      `INSERT INTO "CheckRun" ("id", "domainId", "trigger", "status", "startedAt", "finishedAt", "durationMs")
       SELECT gen_random_uuid(), $1::uuid, 'schedule', 'pass', $2::timestamp - (g % 300) * interval '1 day' - g * interval '1 millisecond', $2::timestamp, 900
       FROM generate_series(0, $3::int - 1) AS g`,
      domainId,
      at,
      count,
    );
    await prisma().$executeRawUnsafe(
      `INSERT INTO "ProbeResult" ("runId", "domainId", "probe", "target", "status", "startedAt", "durationMs", "details")
       SELECT r."id", r."domainId", p, 'x', 'pass', r."startedAt", 10, '{}'::jsonb
       FROM "CheckRun" r CROSS JOIN unnest(ARRAY['mx', 'smtp']) AS p
       WHERE r."domainId" = $1::uuid AND NOT EXISTS (SELECT 1 FROM "ProbeResult" x WHERE x."runId" = r."id")`,
      domainId,
    );
  }

  const daysAgo = (days: number, plusMs = 0) => new Date(NOW.getTime() - days * DAY + plusMs);

  beforeAll(async () => {
    testDb = await createTestDatabase('mxwatch_sched_unit');
    database = await openDatabase({ databaseUrl: testDb.url, dataDir: '/nonexistent' });
    checks = new ChecksRepository(DatabaseService.over(database));
    const original = checks.pruneBatch.bind(checks);
    checks.pruneBatch = async (before, size) => {
      const n = await original(before, size);
      batches.push(n);
      afterBatch?.(n);
      return n;
    };
  });

  afterAll(async () => {
    await database?.close();
    await testDb?.drop();
  });

  beforeEach(async () => {
    await prisma().domain.deleteMany();
    logLines = [];
    batches = [];
    afterBatch = null;
    ran = [];
    release = [];
  });

  describe('prune', () => {
    it('should delete runs older than MXWATCH_RETENTION_DAYS, with their results, in batches of 500', async () => {
      const a = await addDomain('a.example');
      const b = await addDomain('b.example');
      await addOldRuns(a.id, 700, daysAgo(RETENTION_DAYS + 1));
      await addOldRuns(b.id, 503, daysAgo(RETENTION_DAYS, -1));
      // The boundary itself is kept: only runs strictly older than the retention go.
      const kept = [...(await addRuns(a.id, [daysAgo(RETENTION_DAYS), daysAgo(RETENTION_DAYS - 1), daysAgo(0)])), ...(await addRuns(b.id, [daysAgo(RETENTION_DAYS, -1), daysAgo(1)]))];
      const finding = await prisma().finding.create({
        data: { domainId: a.id, code: 'MX_MISSING', severity: 'warning', probe: 'mx', target: 'a.example', message: 'm', remediation: 'r', status: 'open', firstSeenAt: daysAgo(200), lastSeenAt: daysAgo(200) },
      });

      const svc = scheduler();
      expect(await svc.prune(NOW)).toBe(1204);
      expect(batches).toEqual([500, 500, 204]);

      const left = await prisma().checkRun.findMany({ select: { id: true } });
      expect(left.map((r) => r.id).sort()).toEqual(kept.filter((_, i) => i !== 3).sort());
      expect(await prisma().probeResult.count()).toBe(4 * 2);
      expect(await prisma().probeResult.count({ where: { startedAt: { lt: daysAgo(RETENTION_DAYS) } } })).toBe(0);
      // Domains and findings are not history: retention leaves them alone.
      expect(await prisma().domain.count()).toBe(2);
      expect(await prisma().finding.findUnique({ where: { id: finding.id } })).not.toBeNull();
      const logged = logLines.map((l) => JSON.parse(l) as { msg: string; runs?: number; before?: string }).find((l) => l.msg === 'pruned old check runs');
      expect(logged).toMatchObject({ runs: 1204, before: daysAgo(RETENTION_DAYS).toISOString() });

      logLines = [];
      expect(await svc.prune(NOW)).toBe(0);
      expect(logLines.join('')).not.toContain('pruned old check runs');
    });

    it('should follow the configured retention', async () => {
      const a = await addDomain('a.example');
      await addRuns(a.id, [daysAgo(8), daysAgo(6), daysAgo(1)]);
      expect(await scheduler({ retentionDays: 7 }).prune(NOW)).toBe(1);
      expect(await scheduler({ retentionDays: 1 }).prune(NOW)).toBe(1);
      expect(await prisma().checkRun.count()).toBe(1);
    });

    it('should leave the database to checks between batches', async () => {
      const a = await addDomain('a.example');
      await addOldRuns(a.id, 3000, daysAgo(RETENTION_DAYS + 5));
      const svc = scheduler();
      const firstBatch = new Promise<void>((resolve) => (afterBatch = () => resolve()));

      let pruneDone = false;
      const pruning = svc.prune(NOW).then((n) => ((pruneDone = true), n));
      await firstBatch;
      // A check stores its run while retention is half way through.
      const stored = await checks.storeRun({ domainId: a.id, trigger: 'schedule', status: 'pass', startedAt: NOW, finishedAt: NOW, results: [], nextCheckAt: null });
      expect(pruneDone).toBe(false);
      // A second prune (the next retention interval firing) does not run beside the first.
      expect(await svc.prune(NOW)).toBe(0);
      expect(await pruning).toBe(3000);
      expect(batches).toEqual([500, 500, 500, 500, 500, 500, 0]);
      expect((await prisma().checkRun.findMany()).map((r) => r.id)).toEqual([stored.id]);
    });

    it('should stop between batches when the application shuts down', async () => {
      const a = await addDomain('a.example');
      await addOldRuns(a.id, 1500, daysAgo(RETENTION_DAYS + 5));
      const svc = scheduler();
      afterBatch = () => void svc.onApplicationShutdown();
      expect(await svc.prune(NOW)).toBe(500);
      expect(await prisma().checkRun.count()).toBe(1000);
      // Once stopping, nothing starts any more.
      expect(await svc.prune(NOW)).toBe(0);
    });
  });

  describe('tick', () => {
    it('should re-read a claimed domain as the whole row Prisma reads, and not at all once disabled or deleted', async () => {
      const d = await prisma().domain.create({ data: { name: 'reread.example', labels: { team: 'mail', 'a b': 'c' }, sendingIps: ['192.0.2.7'], dkimSelectors: ['s1', 's2'], intervalSeconds: 600, nextCheckAt: NOW } });
      const repo = new ScheduleRepository(DatabaseService.over(database));
      const other = await prisma().domain.create({ data: { name: 'other.example', nextCheckAt: NOW } });
      const row = await prisma().domain.findUnique({ where: { id: d.id } });
      expect(await repo.findEnabledMany([d.id])).toEqual([row]);
      // A queued job: the row, unless its run is stored already (then only that run's id).
      expect(await repo.jobStart(d.id, 'job-1')).toEqual({ storedRunId: null, domain: row });
      const run = await prisma().checkRun.create({ data: { domainId: d.id, trigger: 'schedule', status: 'pass', startedAt: NOW, finishedAt: NOW, durationMs: 0, idempotencyKey: 'job-1' } });
      expect(await repo.jobStart(d.id, 'job-1')).toEqual({ storedRunId: run.id, domain: row });
      await prisma().domain.update({ where: { id: d.id }, data: { enabled: false } });
      expect(await repo.findEnabledMany([d.id, other.id])).toEqual([await prisma().domain.findUnique({ where: { id: other.id } })]);
      expect(await repo.jobStart(d.id, 'job-2')).toEqual({ storedRunId: null, domain: null });
      await prisma().domain.delete({ where: { id: d.id } });
      expect(await repo.findEnabledMany([d.id])).toEqual([]);
      expect(await repo.jobStart(d.id, 'job-2')).toEqual({ storedRunId: null, domain: null });
    });

    it('should claim only enabled due domains, move their nextCheckAt one interval ahead and never pick one twice', async () => {
      await addDomain('due.example', { nextCheckAt: new Date(NOW.getTime() - 1000) });
      await addDomain('due-own-interval.example', { nextCheckAt: NOW, intervalSeconds: 3600 });
      await addDomain('later.example', { nextCheckAt: new Date(NOW.getTime() + 60_000) });
      await addDomain('disabled.example', { nextCheckAt: new Date(NOW.getTime() - 1000), enabled: false });
      await addDomain('never.example', { nextCheckAt: null });
      const svc = scheduler();

      expect(await svc.tick(NOW)).toBe(2);
      const rows = Object.fromEntries((await prisma().domain.findMany()).map((d) => [d.name, d.nextCheckAt?.toISOString() ?? null]));
      expect(rows).toEqual({
        'due.example': new Date(NOW.getTime() + 300_000).toISOString(),
        'due-own-interval.example': new Date(NOW.getTime() + 3_600_000).toISOString(),
        'later.example': new Date(NOW.getTime() + 60_000).toISOString(),
        'disabled.example': new Date(NOW.getTime() - 1000).toISOString(),
        'never.example': null,
      });
      await waitUntil(() => ran.length === 2);
      expect(ran.sort()).toEqual(['due-own-interval.example', 'due.example']);

      // An hour later every enabled domain is due again, but the two still being checked are skipped.
      expect(await svc.tick(new Date(NOW.getTime() + 3_700_000))).toBe(1);
      await waitUntil(() => ran.length === 3);
      expect(ran[2]).toBe('later.example');

      for (const r of release) r();
      await svc.onApplicationShutdown();
    });

    it('should not start a check for a domain disabled while it waited in the queue longer than a row stays fresh', async () => {
      const d = await addDomain('queued.example', { nextCheckAt: NOW });
      const svc = scheduler({ checkConcurrency: 1 });
      let now = 1_000_000;
      internals(svc).clock = () => now;
      await addDomain('first.example', { nextCheckAt: new Date(NOW.getTime() - 1000) });
      expect(await svc.tick(NOW)).toBe(2);
      await waitUntil(() => ran.length === 1);
      expect(ran).toEqual(['first.example']);
      // Disabled by another replica (no event here): seen once the claimed row is older than allowed.
      await prisma().domain.update({ where: { id: d.id }, data: { enabled: false } });
      now += ROW_FRESH_MS + 1;
      release[0]!();
      await waitUntil(() => internals(svc).inFlight.size === 0);
      expect(ran).toEqual(['first.example']);
    });

    it('should drop a queued domain at once when this process deletes or disables it, however fresh its row', async () => {
      const events = new EventBus();
      const d = await addDomain('queued.example', { nextCheckAt: NOW });
      const svc = scheduler({ checkConcurrency: 1 }, { events });
      await addDomain('first.example', { nextCheckAt: new Date(NOW.getTime() - 1000) });
      expect(await svc.tick(NOW)).toBe(2);
      await waitUntil(() => ran.length === 1);
      await prisma().domain.update({ where: { id: d.id }, data: { enabled: false } });
      await events.emit('domain.retired', { name: 'queued.example', reason: 'disabled' });
      release[0]!();
      await waitUntil(() => internals(svc).inFlight.size === 0);
      expect(ran).toEqual(['first.example']);
    });

    it('should still check a claimed domain whose row it cannot read again during a database outage, from the row it claimed', async () => {
      const repo = new ScheduleRepository(DatabaseService.over(database));
      repo.findEnabledMany = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
      const outage = { failed: (e: unknown) => isDatabaseUnavailable(e) } as unknown as DatabaseOutage;
      const svc = scheduler({ checkConcurrency: 1 }, { repo, outage });
      let now = 1_000_000;
      internals(svc).clock = () => now;
      await addDomain('first.example', { nextCheckAt: new Date(NOW.getTime() - 1000) });
      await addDomain('queued.example', { nextCheckAt: NOW });
      expect(await svc.tick(NOW)).toBe(2);
      await waitUntil(() => ran.length === 1);
      // The claim moved it an interval on: skipping it now would lose its check for that long.
      now += ROW_FRESH_MS + 1;
      release[0]!();
      await waitUntil(() => ran.length === 2);
      expect(ran).toEqual(['first.example', 'queued.example']);
      release[1]!();
      await waitUntil(() => internals(svc).inFlight.size === 0);
    });

    it('should read queued rows that got old again in one statement for the next checks in line, not one per check', async () => {
      const repo = new ScheduleRepository(DatabaseService.over(database));
      const reads: string[][] = [];
      const readMany = repo.findEnabledMany.bind(repo);
      repo.findEnabledMany = (ids) => (reads.push([...ids]), readMany(ids));
      const svc = scheduler({ checkConcurrency: 1 }, { repo });
      let now = 1_000_000;
      internals(svc).clock = () => now;
      const names = ['a', 'b', 'c', 'd'].map((n) => `${n}.example`);
      for (const [i, name] of names.entries()) await addDomain(name, { nextCheckAt: new Date(NOW.getTime() - 5000 + i) });
      expect(await svc.tick(NOW)).toBe(4);
      await waitUntil(() => ran.length === 1);
      // The first check started from the claimed row; the others waited past freshness.
      expect(reads).toEqual([]);
      const gone = (await prisma().domain.findUniqueOrThrow({ where: { name: 'c.example' } })).id;
      await prisma().domain.update({ where: { id: gone }, data: { enabled: false } });
      now += ROW_FRESH_MS + 1;
      release[0]!();
      await waitUntil(() => ran.length === 2);
      release[1]!();
      await waitUntil(() => ran.length === 3);
      release[2]!();
      await waitUntil(() => internals(svc).inFlight.size === 0);
      expect(ran).toEqual(['a.example', 'b.example', 'd.example']);
      // b's start read b, c and d together: d used that row, c was seen disabled.
      expect(reads.map((ids) => ids.length)).toEqual([3]);
    });

    it('should never let two schedulers on one database check the same domain, however their ticks interleave', async () => {
      const names = Array.from({ length: 300 }, (_, i) => `d${String(i).padStart(3, '0')}.example`);
      await prisma().domain.createMany({ data: names.map((name, i) => ({ name, nextCheckAt: new Date(NOW.getTime() - 60_000 + i * 10) })) });
      // Two replicas, each with its own connection pool, as two processes would have.
      const other = await openDatabase({ databaseUrl: testDb.url, dataDir: '/nonexistent' });
      try {
        const a = scheduler({ checkConcurrency: 8 });
        const bRan: string[] = [];
        const sink = new Writable({ write: (_c, _e, cb) => cb() });
        const b = new SchedulerService(
          {} as never,
          { run: (d: DomainRow) => (bRan.push(d.name), Promise.resolve()) } as unknown as CheckRunner,
          checks,
          new ScheduleRepository(DatabaseService.over(other)),
          new AppLogger('info', sink),
          { checkConcurrency: 8, checkIntervalSeconds: 300 } as AppConfig,
        );
        // a's checks finish at once too, so both keep ticking over the same due rows.
        const aRan = ran;
        const drain = setInterval(() => release.splice(0).forEach((r) => r()), 1);
        try {
          for (let round = 0; round < 40 && aRan.length + bRan.length < names.length; round++) {
            await Promise.all([a.tick(NOW), b.tick(NOW), a.tick(NOW), b.tick(NOW)]);
            await new Promise((r) => setTimeout(r, 5));
          }
          await waitUntil(() => aRan.length + bRan.length === names.length);
        } finally {
          clearInterval(drain);
        }
        const all = [...aRan, ...bRan];
        expect(new Set(all).size).toBe(all.length);
        expect(all.sort()).toEqual(names);
        // Both replicas took part: the test really raced two claimers.
        expect(aRan.length).toBeGreaterThan(0);
        expect(bRan.length).toBeGreaterThan(0);
        await a.onApplicationShutdown();
        await b.onApplicationShutdown();
      } finally {
        await other.close();
      }
    });

    it('should claim with SKIP LOCKED on the embedded database too', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'mxwatch-claim-'));
      const embedded = await openDatabase({ dataDir: dir });
      try {
        const repo = new ScheduleRepository(DatabaseService.over(embedded));
        const due = await embedded.prisma.domain.create({ data: { name: 'due.example', nextCheckAt: new Date(NOW.getTime() - 1000) } });
        const own = await embedded.prisma.domain.create({ data: { name: 'own.example', nextCheckAt: new Date(NOW.getTime() - 2000), intervalSeconds: 60 } });
        await embedded.prisma.domain.create({ data: { name: 'later.example', nextCheckAt: new Date(NOW.getTime() + 1000) } });
        const skipped = await embedded.prisma.domain.create({ data: { name: 'inflight.example', nextCheckAt: new Date(NOW.getTime() - 3000) } });

        const claimed = await repo.claimDue({ now: NOW, limit: 10, defaultIntervalSeconds: 300, exclude: [skipped.id] });
        expect(claimed.map(({ id, name, intervalSeconds, dueAt }) => ({ id, name, intervalSeconds, dueAt }))).toEqual([
          { id: own.id, name: 'own.example', intervalSeconds: 60, dueAt: new Date(NOW.getTime() - 2000) },
          { id: due.id, name: 'due.example', intervalSeconds: null, dueAt: new Date(NOW.getTime() - 1000) },
        ]);
        // The whole row as the claim left it, as Prisma reads it.
        expect(claimed.map(({ dueAt: _, ...row }) => row)).toEqual([await embedded.prisma.domain.findUnique({ where: { id: own.id } }), await embedded.prisma.domain.findUnique({ where: { id: due.id } })]);
        const after = Object.fromEntries((await embedded.prisma.domain.findMany()).map((d) => [d.name, d.nextCheckAt?.toISOString()]));
        expect(after['own.example']).toBe(new Date(NOW.getTime() + 60_000).toISOString());
        expect(after['due.example']).toBe(new Date(NOW.getTime() + 300_000).toISOString());
        expect(await repo.claimDue({ now: NOW, limit: 10, defaultIntervalSeconds: 300 })).toEqual([expect.objectContaining({ name: 'inflight.example' })]);
      } finally {
        await embedded.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
