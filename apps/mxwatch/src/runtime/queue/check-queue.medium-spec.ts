import { Writable } from 'node:stream';
import { NotFoundException } from '@nestjs/common';
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../../test/support/postgres.js';
import { AppLogger } from '../../common/app-logger.js';
import type { AppConfig } from '../../config/config.types.js';
import { DatabaseService } from '../../database/database.service.js';
import { openDatabase, type Database } from '../../database/open-database.js';
import { ChecksRepository } from '../../storage/checks.repository.js';
import type { DomainRow } from '../../storage/domains.repository.js';
import { ScheduleRepository } from '../../storage/schedule.repository.js';
import { ManualQueueFullError, type CheckRunner } from '../check-runner.service.js';
import type { ChecksService } from '../checks.service.js';
import type { DomainsService } from '../domains.service.js';
import { CHECK_QUEUE, scheduledJobId, type CheckJobData, type CheckQueueOptions, type ScheduledCheckJob } from './check-jobs.js';
import { CheckWorkerService } from './check-worker.service.js';
import { DomainChangesPublisher } from './domain-changes.js';
import { EventBus } from '../events.js';
import { QueueSchedulerService } from './queue-scheduler.service.js';
import { TEST_REDIS_URL, testRedisPrefix } from './redis-test-keys.js';
import { RemoteChecksService } from './remote-checks.service.js';
import type { DatabaseOutage } from '../run-buffer.js';
import { isDatabaseUnavailable } from '../../storage/database-errors.js';

const NOW = new Date('2026-06-15T12:00:00.000Z');

/**
 * Medium tier on the machine's real PostgreSQL and Redis (own database, own key prefix): the
 * real queue, scheduler, worker and repositories; only the probes are replaced by a runner that
 * stores a run through the real repository and counts the notifications it would send.
 */
describe('check queue', () => {
  let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let database: Database;
  let keys: ReturnType<typeof testRedisPrefix>;
  let checks: ChecksRepository;
  let schedule: ScheduleRepository;
  const closers: Array<() => Promise<unknown>> = [];
  /** domain name -> how many times its findings/notifications were applied */
  let notified: Map<string, number>;
  let probing: Map<string, number>;
  /** domain name -> the row its last check ran on */
  let ranOn: Map<string, DomainRow>;

  const config = (overrides: Partial<AppConfig> = {}) =>
    ({ redisUrl: TEST_REDIS_URL, checkConcurrency: 4, checkIntervalSeconds: 300, schedulerTickSeconds: 3600, retentionDays: 30, checkTimeoutSeconds: 30, role: 'all', ...overrides }) as AppConfig;
  const options = (overrides: Partial<CheckQueueOptions> = {}): CheckQueueOptions => ({
    prefix: keys.prefix,
    // Long enough that a slow machine never lets it lapse mid-test (the tests call tick() without the renewal timer).
    leaderTtlMs: 10_000,
    lockDurationMs: 1_000,
    stalledIntervalMs: 300,
    maxWaiting: 10_000,
    manualDeadlineMs: 5_000,
    recoverAfterMs: 60_000,
    ...overrides,
  });
  const logger = () => new AppLogger('error', new Writable({ write: (_c, _e, cb) => cb() }));

  function queue(): Queue<CheckJobData> {
    const q = new Queue<CheckJobData>(CHECK_QUEUE, { connection: { url: TEST_REDIS_URL }, prefix: keys.prefix });
    closers.push(() => q.close());
    return q;
  }

  function scheduler(q = queue(), o = options()): QueueSchedulerService {
    const s = new QueueSchedulerService(q as never, schedule, checks, logger(), config(), o);
    closers.push(() => s.onApplicationShutdown());
    return s;
  }

  /** A runner like the real one: probes (here: waits), stores the run, then applies findings (here: counts). */
  function runner(opts: { probeMs?: number; afterStore?: (d: DomainRow) => Promise<void> } = {}): CheckRunner {
    return {
      run: async (d: DomainRow, trigger: 'manual' | 'schedule', runOptions: { idempotencyKey?: string } = {}) => {
        probing.set(d.name, (probing.get(d.name) ?? 0) + 1);
        ranOn.set(d.name, d);
        await new Promise((r) => setTimeout(r, opts.probeMs ?? 5));
        const t = new Date();
        const run = await checks.storeRun({ domainId: d.id, trigger, status: 'pass', startedAt: t, finishedAt: t, results: [], nextCheckAt: trigger === 'schedule' ? new Date(t.getTime() + 300_000) : null, idempotencyKey: runOptions.idempotencyKey });
        await opts.afterStore?.(d);
        notified.set(d.name, (notified.get(d.name) ?? 0) + 1);
        return { run, findings: { drafts: [], opened: [], resolved: [] } };
      },
    } as unknown as CheckRunner;
  }

  function worker(r: CheckRunner, o = options(), concurrency = 4, checksService?: Partial<ChecksService>, extras: { schedule?: ScheduleRepository; outage?: DatabaseOutage } = {}): CheckWorkerService {
    const w = new CheckWorkerService(r, checks, extras.schedule ?? schedule, (checksService ?? {}) as ChecksService, logger(), config({ checkConcurrency: concurrency }), o, extras.outage);
    closers.push(() => w.onApplicationShutdown());
    w.onApplicationBootstrap();
    return w;
  }

  async function addDue(count: number, prefix = 'd'): Promise<string[]> {
    const names = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(3, '0')}.example`);
    await database.prisma.domain.createMany({ data: names.map((name, i) => ({ name, nextCheckAt: new Date(NOW.getTime() - 60_000 + i) })) });
    return names;
  }

  async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await cond())) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  beforeAll(async () => {
    testDb = await createTestDatabase('mxwatch_queue');
    database = await openDatabase({ databaseUrl: testDb.url, dataDir: '/nonexistent' });
    const db = DatabaseService.over(database);
    checks = new ChecksRepository(db);
    schedule = new ScheduleRepository(db);
  });

  afterAll(async () => {
    await database?.close();
    await testDb?.drop();
  });

  beforeEach(async () => {
    keys = testRedisPrefix('check-queue');
    await database.prisma.domain.deleteMany();
    notified = new Map();
    probing = new Map();
    ranOn = new Map();
  });

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
    await keys.cleanup();
  });

  it('should let only the replica holding the scheduler role enqueue, one job per domain and due slot', async () => {
    const names = await addDue(50);
    const q = queue();
    const a = scheduler(q);
    const b = scheduler(q);
    const added = await Promise.all([a.tick(NOW), b.tick(NOW), a.tick(NOW), b.tick(NOW)]);
    expect(added.reduce((x, y) => x + y, 0)).toBe(50);
    expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);
    const jobs = await q.getJobs(['waiting']);
    expect(jobs.map((j) => j.data.name).sort()).toEqual(names);
    const rows = await database.prisma.domain.findMany();
    for (const row of rows) {
      const job = jobs.find((j) => j.data.domainId === row.id)!;
      // The job id is the domain and the slot it was due for; its claim moved the domain one interval on.
      expect(job.id).toBe(scheduledJobId(row.id, new Date((job.data as ScheduledCheckJob).dueAt)));
      expect(row.nextCheckAt).toEqual(new Date(NOW.getTime() + 300_000));
    }
    // Nothing is due any more: further ticks add nothing.
    expect(await a.tick(NOW)).toBe(0);
    expect(await b.tick(NOW)).toBe(0);
    expect(await q.getJobCountByTypes('waiting')).toBe(50);
  });

  it('should make a second enqueue of the same domain and slot a no-op', async () => {
    await addDue(3);
    const q = queue();
    const claimed = await schedule.claimDue({ now: NOW, limit: 10, defaultIntervalSeconds: 300 });
    const job = (d: (typeof claimed)[number]) => ({ name: 'check', data: { trigger: 'schedule' as const, domainId: d.id, name: d.name, dueAt: d.dueAt.toISOString() }, opts: { jobId: scheduledJobId(d.id, d.dueAt) } });
    await q.addBulk(claimed.map(job));
    await q.addBulk(claimed.map(job));
    expect(await q.getJobCountByTypes('waiting')).toBe(3);
  });

  it('should leave domains due when Redis refuses the jobs, so the next leader enqueues them', async () => {
    await addDue(5);
    const q = queue();
    const s = scheduler(q);
    const addBulk = q.addBulk.bind(q);
    q.addBulk = () => Promise.reject(new Error('Connection is closed.'));
    expect(await s.tick(NOW)).toBe(0);
    // The claim rolled back with the failed enqueue.
    expect(await database.prisma.domain.count({ where: { nextCheckAt: { lte: NOW } } })).toBe(5);
    q.addBulk = addBulk;
    expect(await s.tick(NOW)).toBe(5);
    expect(await q.getJobCountByTypes('waiting')).toBe(5);
  });

  it('should enqueue again, once, the checks Redis lost after their claim committed, and run each of them once', async () => {
    const names = await addDue(20);
    const q = queue();
    const s = scheduler(q);
    const told: number[] = [];
    s.onRecovered((n) => told.push(n));
    expect(await s.tick(NOW)).toBe(20);
    const slots = await database.prisma.domain.findMany({ select: { id: true, queuedSlot: true, queuedAt: true } });
    expect(slots.every((d) => d.queuedSlot !== null && d.queuedAt?.getTime() === NOW.getTime())).toBe(true);
    // Redis restarts without persistence: every key is gone, the scheduler role and the jobs with them.
    await keys.cleanup();
    expect(await q.getJobCountByTypes('waiting')).toBe(0);
    // The role comes back with the next tick; nothing is due, so the claim adds nothing.
    expect(await s.tick(new Date(NOW.getTime() + 30_000))).toBe(0);
    // Within recoverAfterMs (60 s) of the claim a job may still be running on a worker: nothing yet.
    expect(await s.recover(new Date(NOW.getTime() + 30_000))).toBe(0);
    expect(await s.recover(new Date(NOW.getTime() + 120_000))).toBe(20);
    const jobs = await q.getJobs(['waiting']);
    expect(jobs.map((j) => j.data.name).sort()).toEqual(names);
    for (const job of jobs) {
      const data = job.data as ScheduledCheckJob;
      // The same job id as the lost job: whichever of the two runs, the run is stored once.
      expect(job.id).toBe(scheduledJobId(data.domainId, slots.find((d) => d.id === data.domainId)!.queuedSlot!));
      expect(data.recovered).toBe(true);
    }
    // Found in Redis now: the next passes add nothing.
    expect(await s.recover(new Date(NOW.getTime() + 120_000))).toBe(0);
    expect(await s.recover(new Date(NOW.getTime() + 240_000))).toBe(0);
    // What mxwatch_queue_jobs_recovered_total counts.
    expect(told).toEqual([20]);
    const w = worker(runner());
    await waitUntil(() => w.outcomes.stored === 20);
    expect([...probing.values()].every((n) => n === 1)).toBe(true);
    expect([...notified.values()].every((n) => n === 1)).toBe(true);
    // A recovered job reads its row and looks for a stored run first.
    expect(w.outcomes.rowsRead).toBe(20);
    // Each stored run clears its slot: nothing is left for a later pass.
    expect(await database.prisma.domain.count({ where: { queuedSlot: { not: null } } })).toBe(0);
    expect(await s.recover(new Date(NOW.getTime() + 290_000))).toBe(0);
  });

  it('should leave alone the jobs Redis holds, the slots that stored their run and the domains due again', async () => {
    await addDue(6, 'ran');
    const q = queue();
    const s = scheduler(q);
    expect(await s.tick(NOW)).toBe(6);
    const w = worker(runner());
    await waitUntil(() => w.outcomes.stored === 6);
    await w.onApplicationShutdown();
    await addDue(4, 'waits');
    expect(await s.tick(NOW)).toBe(4);
    const later = new Date(NOW.getTime() + 120_000);
    // Stored runs cleared their slots; the waiting jobs are in Redis.
    expect(await s.recover(later)).toBe(0);
    // Two jobs vanish (evicted), and one more domain's lost job is due again anyway (a new claim takes it).
    const waiting = (await q.getJobs(['waiting'])).sort((a, b) => (a.data.name < b.data.name ? -1 : 1));
    for (const job of waiting.slice(0, 3)) await q.remove(job.id!);
    // The pass above marked the four as found: the next looks at them recoverAfterMs later.
    const next = new Date(later.getTime() + 60_000);
    expect(await s.recover(new Date(next.getTime() - 1))).toBe(0);
    await database.prisma.domain.update({ where: { id: waiting[2]!.data.domainId }, data: { nextCheckAt: new Date(next.getTime() - 1) } });
    expect(await s.recover(next)).toBe(2);
    const recovered = (await q.getJobs(['waiting'])).filter((j) => (j.data as ScheduledCheckJob).recovered);
    expect(recovered.map((j) => j.id).sort()).toEqual(waiting.slice(0, 2).map((j) => j.id).sort());
  });

  it('should store nothing twice when a recovered job finds the run its lost job stored', async () => {
    const [name] = await addDue(1);
    const q = queue();
    const s = scheduler(q);
    // Listening before the claims: a plain first attempt would start from the row its job carries.
    const w = await listeningWorker(runner());
    await s.tick(NOW);
    await waitUntil(() => w.outcomes.stored === 1);
    expect(w.outcomes.rowsRead).toBe(0);
    const [done] = await q.getJobs(['completed']);
    // As if the pass had read the slot just before the run was stored, and Redis had lost the job.
    await database.prisma.domain.updateMany({ data: { queuedSlot: new Date(NOW.getTime() - 60_000), queuedAt: NOW } });
    await q.remove(done!.id!);
    expect(await s.recover(new Date(NOW.getTime() + 120_000))).toBe(1);
    await waitUntil(() => w.outcomes.duplicate === 1);
    expect(w.outcomes.rowsRead).toBe(1);
    expect(probing.get(name!)).toBe(1);
    expect(await database.prisma.checkRun.count()).toBe(1);
  });

  it('should run a job on the row it carries when the database cannot be read before the check, instead of failing it', async () => {
    const [name] = await addDue(1);
    const q = queue();
    await scheduler(q).tick(NOW);
    const away = new ScheduleRepository(DatabaseService.over(database));
    away.jobStart = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
    const outage = { failed: (e: unknown) => isDatabaseUnavailable(e) } as unknown as DatabaseOutage;
    // Started after the claim: it would read the row before the check.
    const w = worker(runner(), options(), 1, undefined, { schedule: away, outage });
    await waitUntil(() => w.outcomes.stored === 1);
    expect(w.outcomes.rowsRead).toBe(1);
    expect(w.outcomes.failed).toBe(0);
    expect(probing.get(name!)).toBe(1);
  });

  it('should move the scheduler role to another replica when the leader dies, without enqueueing anything twice', async () => {
    await addDue(10, 'first');
    const q = queue();
    const a = scheduler(q, options({ leaderTtlMs: 1_000 }));
    const b = scheduler(q, options({ leaderTtlMs: 1_000 }));
    expect(await a.tick(NOW)).toBe(10);
    expect(await b.tick(NOW)).toBe(0);
    expect(b.isLeader).toBe(false);
    // a dies: its timers stop, it never renews or releases.
    (a as unknown as { stopping: boolean }).stopping = true;
    await addDue(10, 'second');
    await waitUntil(async () => (await b.tick(NOW)) === 10, 5_000);
    expect(b.isLeader).toBe(true);
    expect(await q.getJobCountByTypes('waiting')).toBe(20);
  });

  it('should run every queued check exactly once across two workers, storing each run with its job id', async () => {
    const names = await addDue(40);
    const q = queue();
    await scheduler(q).tick(NOW);
    const r = runner({ probeMs: 20 });
    const w1 = worker(r);
    const w2 = worker(r);
    await waitUntil(async () => (await database.prisma.checkRun.count()) === 40);
    await waitUntil(() => w1.outcomes.stored + w2.outcomes.stored === 40);
    expect(w1.outcomes.stored).toBeGreaterThan(0);
    expect(w2.outcomes.stored).toBeGreaterThan(0);
    expect([...probing.keys()].sort()).toEqual(names);
    expect([...probing.values()].every((n) => n === 1)).toBe(true);
    const runs = await database.prisma.checkRun.findMany({ include: { domain: true } });
    for (const run of runs) expect(run.idempotencyKey).toMatch(new RegExp(`^s-${run.domainId}-\\d+$`));
  });

  it('should pick up the job of a worker killed after it stored the run, without a second run or notification', async () => {
    const [name] = await addDue(1);
    const q = queue();
    await scheduler(q).tick(NOW);
    let stored!: () => void;
    const storedOnce = new Promise<void>((r) => (stored = r));
    // The first worker stores the run, then freezes before applying findings and acknowledging (killed).
    const dying = worker(runner({ afterStore: () => (stored(), new Promise<void>(() => {})) }), options());
    await storedOnce;
    // Kill it: its lock renewal stops with it.
    await dying.worker.close(true);
    const survivor = worker(runner(), options());
    await waitUntil(() => survivor.outcomes.duplicate === 1);
    expect(await database.prisma.checkRun.count()).toBe(1);
    expect(notified.get(name!) ?? 0).toBe(0);
    expect(probing.get(name!)).toBe(1);
  });

  it('should pick up the job of a worker killed mid-check and run it once', async () => {
    const [name] = await addDue(1);
    const q = queue();
    await scheduler(q).tick(NOW);
    let started!: () => void;
    const startedOnce = new Promise<void>((r) => (started = r));
    const dying = worker({ run: () => (started(), new Promise(() => {})) } as unknown as CheckRunner, options());
    await startedOnce;
    await dying.worker.close(true);
    const survivor = worker(runner(), options());
    await waitUntil(() => survivor.outcomes.stored === 1);
    expect(await database.prisma.checkRun.count()).toBe(1);
    expect(notified.get(name!)).toBe(1);
  });

  it('should retry a check that failed before storing its run (the database busy), and store it once', async () => {
    const [name] = await addDue(1);
    const q = queue();
    await scheduler(q).tick(NOW);
    const real = runner();
    let failures = 0;
    const flaky = {
      run: (d: DomainRow, trigger: 'manual' | 'schedule') => {
        if (failures++ === 0) return Promise.reject(new Error('Transaction API error: Unable to start a transaction in the given time.'));
        return real.run(d, trigger);
      },
    } as unknown as CheckRunner;
    const w = worker(flaky);
    await waitUntil(() => w.outcomes.stored === 1, 20_000);
    expect(w.outcomes.failed).toBe(1);
    expect(await database.prisma.checkRun.count()).toBe(1);
    expect(notified.get(name!)).toBe(1);
  });

  it('should skip a domain deleted or disabled while its job waited for a worker that was not listening yet (it reads the row)', async () => {
    const names = await addDue(2);
    const q = queue();
    await scheduler(q).tick(NOW);
    await database.prisma.domain.update({ where: { name: names[0] }, data: { enabled: false } });
    await database.prisma.domain.delete({ where: { name: names[1] } });
    const w = worker(runner());
    await waitUntil(() => w.outcomes.skipped === 2);
    expect(probing.size).toBe(0);
    expect(w.outcomes.rowsRead).toBe(2);
  });

  /** A worker that has subscribed to domain changes. */
  async function listeningWorker(r: CheckRunner, concurrency = 4): Promise<CheckWorkerService> {
    const w = worker(r, options(), concurrency);
    await waitUntil(() => w.changes.watch.listening);
    // Redis's clock has millisecond steps: a claim in the same millisecond would count as after.
    await new Promise((r) => setTimeout(r, 2));
    return w;
  }

  it('should start a first attempt from the row its job carries, with no statement before the check', async () => {
    const names = await addDue(6);
    await database.prisma.domain.update({ where: { name: names[0] }, data: { dkimSelectors: ['s1'], labels: { team: 'mail' }, intervalSeconds: 600 } });
    const w = await listeningWorker(runner());
    await scheduler(queue()).tick(NOW);
    await waitUntil(() => w.outcomes.stored === 6);
    expect(w.outcomes.rowsRead).toBe(0);
    // The row as the claim left it: settings, and times as Dates (the runner and events use them).
    const row = await database.prisma.domain.findUniqueOrThrow({ where: { name: names[0] } });
    const used = ranOn.get(names[0]!)!;
    expect({ ...used, nextCheckAt: null, lastCheckAt: null, updatedAt: null, queuedSlot: null }).toEqual({ ...row, nextCheckAt: null, lastCheckAt: null, updatedAt: null, queuedSlot: null });
    expect(used.createdAt).toBeInstanceOf(Date);
    // The claim's slot, which the stored run cleared.
    expect(used.queuedSlot).toEqual(new Date(NOW.getTime() - 60_000));
    expect(row.queuedSlot).toBeNull();
    expect(used.nextCheckAt!.getTime()).toBe(NOW.getTime() + 600_000);
    expect(await database.prisma.checkRun.count()).toBe(6);
  });

  it('should read the row again for a domain changed, disabled or deleted while its job waited, and check only what is still enabled, as it now is', async () => {
    const [first, ...names] = await addDue(5);
    // One check at a time, and the first holds the worker: the others wait in the queue.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let holding = false;
    const real = runner();
    const gated = {
      run: async (d: DomainRow, trigger: 'manual' | 'schedule', o: object) => {
        if (d.name === first) (holding = true), await held;
        return real.run(d, trigger, o);
      },
    } as unknown as CheckRunner;
    const w = await listeningWorker(gated, 1);
    await scheduler(queue()).tick(NOW);
    await waitUntil(() => holding);
    // Changed the way the API and the configuration file change them: the database, then the event.
    const events = new EventBus();
    const publisher = new DomainChangesPublisher(events, config(), logger(), options());
    closers.push(() => publisher.onApplicationShutdown());
    await database.prisma.domain.update({ where: { name: names[0] }, data: { enabled: false } });
    await database.prisma.domain.delete({ where: { name: names[1] } });
    await database.prisma.domain.update({ where: { name: names[2] }, data: { dkimSelectors: ['new'] } });
    await events.emit('domain.retired', { name: names[0]!, reason: 'disabled' });
    await events.emit('domain.retired', { name: names[1]!, reason: 'deleted' });
    await events.emit('domain.changed', { name: names[2]! });
    await publisher.settled();
    await waitUntil(() => names.slice(0, 3).every((n) => !w.changes.watch.trusts(n, Date.now())));
    release();
    await waitUntil(() => w.outcomes.stored === 3 && w.outcomes.skipped === 2);
    // The held check and the unchanged one started from their jobs' rows.
    expect(w.outcomes.rowsRead).toBe(3);
    expect([...probing.keys()].sort()).toEqual([first, names[2], names[3]].sort());
    expect(ranOn.get(names[2]!)!.dkimSelectors).toEqual(['new']);
  });

  it('should keep a domain change from waiting on a Redis that is away, and say that queued checks run on the old settings', async () => {
    const lines: string[] = [];
    const log = new AppLogger('warn', new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    const events = new EventBus();
    const publisher = new DomainChangesPublisher(events, config({ redisUrl: 'redis://127.0.0.1:1' }), log, options());
    closers.push(() => publisher.onApplicationShutdown());
    const t0 = Date.now();
    for (const name of ['a.example', 'b.example']) await events.emit('domain.changed', { name });
    expect(Date.now() - t0).toBeLessThan(1_000);
    await publisher.settled();
    const warned = lines.map((l) => JSON.parse(l) as { msg: string; domains: number }).filter((l) => l.msg.startsWith('could not announce domain changes'));
    expect(warned).toHaveLength(1);
    expect(warned[0]!.domains).toBe(2);
  });

  it('should run a manual check of an api replica on a worker and answer with what the worker returned', async () => {
    const [name] = await addDue(1);
    const q = queue();
    const row = await database.prisma.domain.findUniqueOrThrow({ where: { name } });
    const domains = { getRow: async (n: string) => (n === name ? row : Promise.reject(new Error('nope'))) } as unknown as DomainsService;
    const api = new RemoteChecksService(q as never, domains, config({ role: 'api' }), options());
    closers.push(() => api.onApplicationShutdown());
    worker(runner(), options(), 4, { checkNow: async (n: string) => ({ domain: n, ranOn: 'worker' }) } as never);
    expect(await api.checkNow(name!)).toEqual({ domain: name, ranOn: 'worker' });
  });

  it("should answer as the in-process API would when the worker refuses a manual check (its manual queue full, the domain deleted)", async () => {
    const [name] = await addDue(1);
    const q = queue();
    const row = await database.prisma.domain.findUniqueOrThrow({ where: { name } });
    const api = new RemoteChecksService(q as never, { getRow: async () => row } as unknown as DomainsService, config({ role: 'api' }), options());
    closers.push(() => api.onApplicationShutdown());
    const answers = [new ManualQueueFullError(20, 8), new NotFoundException(`domain ${name} was deleted while it was being checked`)];
    worker(runner(), options(), 4, { checkNow: async () => Promise.reject(answers.shift()) } as never);
    await expect(api.checkNow(name!)).rejects.toMatchObject({ status: 429 });
    await expect(api.checkNow(name!)).rejects.toMatchObject({ status: 404 });
  });

  it('should answer 504 when no worker runs a manual check before the deadline, and withdraw it', async () => {
    const [name] = await addDue(1);
    const q = queue();
    const row = await database.prisma.domain.findUniqueOrThrow({ where: { name } });
    const api = new RemoteChecksService(q as never, { getRow: async () => row } as unknown as DomainsService, config({ role: 'api' }), options({ manualDeadlineMs: 300 }));
    closers.push(() => api.onApplicationShutdown());
    await expect(api.checkNow(name!)).rejects.toMatchObject({ status: 504 });
    expect(await q.getJobCountByTypes('waiting')).toBe(0);
  });
});
