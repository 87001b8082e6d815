import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { databaseBackends } from '../../../../test/support/database-backends.js';
import { DatabaseService } from '../database/database.service.js';
import type { Database } from '../database/open-database.js';
import type { ProbeResult } from '../probes/probe.types.js';
import { ChangesRepository } from './changes.repository.js';
import { ChecksRepository, DomainGoneError, DuplicateRunError, joinHostDetails, WITH_HOST_DETAILS } from './checks.repository.js';
import { FindingsRepository } from './findings.repository.js';

const backends = databaseBackends('mxwatch_checks_repo');

/** A run as JSON (bigint ids as text): what the API would send. */
const json = (v: unknown) => JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x))) as unknown;

/** Medium tier: the real repository on a real database. */
describe.each(backends)(`${ChecksRepository.name} on $name`, (backend) => {
  let database: Database;
  let close: () => Promise<void>;
  let repo: ChecksRepository;

  beforeAll(async () => {
    ({ database, close } = await backend.open());
    repo = new ChecksRepository(DatabaseService.over(database));
  });

  afterAll(async () => {
    await close?.();
  });

  beforeEach(async () => {
    await database.prisma.domain.deleteMany();
    await database.prisma.hostResult.deleteMany();
  });

  const T = new Date('2026-06-15T12:00:00.123Z');
  const results: ProbeResult[] = [
    {
      probe: 'mx',
      target: 'a.example',
      status: 'warn',
      reason: 'mx_missing',
      startedAt: T,
      durationMs: 12.6,
      details: { domain: 'a.example', when: new Date(0), text: 'quote " backslash \\ newline \n é' },
      observations: [{ code: 'MX_MISSING', target: 'a.example', params: { domain: 'a.example', fallback: 'x' } }],
    },
    { probe: 'smtp', target: 'mx.a.example[192.0.2.1]:25', status: 'pass', startedAt: new Date(T.getTime() + 7), durationMs: 3, details: { open: true }, observations: [] },
    { probe: 'dnsbl', target: '192.0.2.1@zen.spamhaus.org', status: 'pass', startedAt: new Date(T.getTime() + 9), durationMs: 1, details: {}, observations: [] },
  ];

  it('should store the run, its results in order and the schedule, returning what a read returns', async () => {
    const d = await database.prisma.domain.create({ data: { name: 'a.example', nextCheckAt: T } });
    const finishedAt = new Date(T.getTime() + 250);
    const next = new Date(T.getTime() + 300_000);
    const stored = await repo.storeRun({ domainId: d.id, trigger: 'schedule', status: 'warn', startedAt: T, finishedAt, results, nextCheckAt: next });

    const run = (await repo.latestRun(d.id))!;
    expect(json(stored)).toEqual(json(run));
    expect(run).toMatchObject({ domainId: d.id, trigger: 'schedule', status: 'warn', startedAt: T, finishedAt, durationMs: 250 });
    expect(run.results.map((r) => r.probe)).toEqual(['mx', 'smtp', 'dnsbl']);
    expect(run.results[0]).toMatchObject({
      runId: run.id,
      domainId: d.id,
      target: 'a.example',
      status: 'warn',
      reason: 'mx_missing',
      startedAt: T,
      durationMs: 13,
      details: { domain: 'a.example', when: '1970-01-01T00:00:00.000Z', text: 'quote " backslash \\ newline \n é', observations: results[0]!.observations },
    });
    expect(run.results[1]!.reason).toBeNull();
    expect(typeof run.results[0]!.id).toBe('bigint');

    const domain = await database.prisma.domain.findUniqueOrThrow({ where: { id: d.id } });
    expect(domain.lastCheckAt).toEqual(finishedAt);
    expect(domain.nextCheckAt).toEqual(next);
    expect(domain.updatedAt.getTime()).toBeGreaterThan(d.updatedAt.getTime() - 1);
  });

  it('should read, in the statement that stores a run, the findings and policy states the run is compared with, as they were before it', async () => {
    const d = await database.prisma.domain.create({ data: { name: 'a.example', nextCheckAt: T } });
    const findings = new FindingsRepository(DatabaseService.over(database));
    const changes = new ChangesRepository(DatabaseService.over(database));
    const draft = { code: 'MX_MISSING', severity: 'warning' as const, probe: 'mx', target: 'a.example', message: 'm', remediation: 'r', evidence: {}, scope: 'domain' as const };
    await findings.apply(d.id, [{ kind: 'create', draft, status: 'pending' }], T);
    await changes.record(d.id, [{ probe: 'mx', state: { hosts: ['mx.a.example'] } }], [], T);
    const before = await findings.activeWithMonitor(d.id);
    expect(before.domain).toHaveLength(1);

    const { run, baseline } = await repo.storeRunWithBaseline({ domainId: d.id, trigger: 'schedule', status: 'warn', startedAt: T, finishedAt: T, results, nextCheckAt: T });
    expect(baseline).toEqual(before);
    expect(json(run)).toEqual(json(await repo.latestRun(d.id)));
    // Without findings or states: an empty baseline, and still every result's id.
    const e = await database.prisma.domain.create({ data: { name: 'e.example', nextCheckAt: T } });
    const empty = await repo.storeRunWithBaseline({ domainId: e.id, trigger: 'schedule', status: 'pass', startedAt: T, finishedAt: T, results: results.slice(1), nextCheckAt: T });
    expect(empty.baseline).toEqual({ domain: [], monitor: [], policyStates: new Map() });
    expect(json(empty.run)).toEqual(json(await repo.latestRun(e.id)));
  });

  it('should store a run whose results carry NUL bytes from the network, with the NUL shown as U+2400', async () => {
    const d = await database.prisma.domain.create({ data: { name: 'nul.example', nextCheckAt: T } });
    const mx = 'mx\u0000evil.nul.example';
    const hostile: ProbeResult[] = [
      {
        probe: 'mx',
        target: 'nul.example',
        status: 'fail',
        reason: `unresolvable ${mx}`,
        startedAt: T,
        durationMs: 1,
        details: { hosts: [{ host: mx, [`key${'\u0000'}`]: ['\u0000', 'half \ud800 surrogate'] }] },
        observations: [{ code: 'MX_TARGET_UNRESOLVABLE', target: mx, params: { mx } }],
      },
      { probe: 'smtp', target: `${mx}[192.0.2.1]:25`, status: 'fail', startedAt: T, durationMs: 1, details: { banner: '220 a\u0000b' }, observations: [] },
    ];
    const stored = await repo.storeRun({ domainId: d.id, trigger: 'schedule', status: 'fail', startedAt: T, finishedAt: T, results: hostile, nextCheckAt: T });
    const run = (await repo.runsWithResults([stored.id]))[0]!;
    const shown = 'mx\u2400evil.nul.example';
    expect(run.results.map((r) => r.target)).toEqual(['nul.example', `${shown}[192.0.2.1]:25`]);
    expect(run.results[0]!.reason).toBe(`unresolvable ${shown}`);
    expect(run.results[0]!.details).toEqual({
      hosts: [{ host: shown, 'key\u2400': ['\u2400', 'half \ufffd surrogate'] }],
      observations: [{ code: 'MX_TARGET_UNRESOLVABLE', target: shown, params: { mx: shown } }],
    });
    expect(run.results[1]!.details).toEqual({ banner: '220 a\u2400b', observations: [] });
  });

  it('should store a host-level result once for every run that used it, and keep closed-not-required ports as facts', async () => {
    const a = await database.prisma.domain.create({ data: { name: 'shared-a.example', nextCheckAt: T } });
    const b = await database.prisma.domain.create({ data: { name: 'shared-b.example', nextCheckAt: T } });
    // The same SMTP session and DNSBL answer (one object, as SharedWork hands it to every domain on that MX).
    const smtp = results[1]!;
    const dnsbl = results[2]!;
    const closed: ProbeResult = {
      probe: 'smtp', target: 'mx.a.example[192.0.2.1]:587', status: 'pass', reason: 'port_closed_not_required', startedAt: T, durationMs: 2,
      details: { host: 'mx.a.example', ip: '192.0.2.1', port: 587, role: 'mx', open: false }, observations: [],
    };
    const mxOf = (name: string): ProbeResult => ({ ...results[0]!, target: name, details: { domain: name }, observations: [] });
    // The domain's own name on a domain list: its alone (the probe says so), stored with the run.
    const own: ProbeResult = {
      probe: 'dnsbl', target: 'shared-a.example@dbl.example', status: 'pass', startedAt: T, durationMs: 3,
      details: { subject: 'shared-a.example', subjectKind: 'domain', zone: 'dbl.example', state: 'clean' }, observations: [],
    };
    const runA = await repo.storeRun({ domainId: a.id, trigger: 'schedule', status: 'pass', startedAt: T, finishedAt: T, results: [mxOf('shared-a.example'), smtp, closed, dnsbl, own], nextCheckAt: T });
    // Another process (a second worker) with its own copy of the same result: no digest cache, same row.
    const other = new ChecksRepository(DatabaseService.over(database));
    const copy = structuredClone(smtp);
    const runB = await other.storeRun({ domainId: b.id, trigger: 'schedule', status: 'pass', startedAt: T, finishedAt: T, results: [mxOf('shared-b.example'), copy, dnsbl], nextCheckAt: T });

    expect(await database.prisma.hostResult.count()).toBe(2);
    const refs = await database.prisma.probeResult.findMany({ where: { hostResultId: { not: null } } });
    expect(refs).toHaveLength(4);
    expect(refs.every((r) => r.details === null)).toBe(true);
    // Not a row: a line of the run.
    expect(runA.facts).toEqual(['smtp mx.a.example[192.0.2.1]:587 port_closed_not_required']);
    expect(await database.prisma.probeResult.count({ where: { target: closed.target } })).toBe(0);
    const ownRow = await database.prisma.probeResult.findFirstOrThrow({ where: { target: own.target } });
    expect(ownRow).toMatchObject({ hostResultId: null, details: { ...own.details, observations: [] } });
    // Reads give the shape the history always had, details joined in.
    for (const [domain, run] of [[a, runA], [b, runB]] as const) {
      const read = (await repo.latestRun(domain.id))!;
      expect(read.facts).toEqual(run.facts);
      expect(read.results.map((r) => [r.probe, r.details])).toEqual([
        ['mx', { domain: domain.name, observations: [] }],
        ['smtp', { open: true, observations: [] }],
        ['dnsbl', { observations: [] }],
        ...(domain === a ? [['dnsbl', { ...own.details, observations: [] }]] : []),
      ]);
      const page = await repo.history({ domainId: domain.id, probe: 'smtp', limit: 10 });
      expect(page.map((r) => r.details)).toEqual([{ open: true, observations: [] }]);
      // The metrics feed's read (its own SQL, host details kept between reads) gives the same run,
      // read cold by a fresh process and again from what this one holds.
      expect(await new ChecksRepository(DatabaseService.over(database)).runsWithResults([run.id])).toEqual([read]);
      expect(await repo.runsWithResults([run.id, run.id])).toEqual([read]);
    }

    // A later probing of the same endpoint is a new HostResult.
    const runC = await repo.storeRun({ domainId: a.id, trigger: 'schedule', status: 'pass', startedAt: T, finishedAt: T, results: [{ ...smtp, startedAt: new Date(T.getTime() + 60_000) }], nextCheckAt: T });
    expect(await database.prisma.hostResult.count()).toBe(3);
    // Held details are bounded; a read that needs more than the bound, some held and some not,
    // still gets them all, as Prisma reads them.
    const small = new ChecksRepository(DatabaseService.over(database));
    small.hostDetailsLimit = 1;
    for (const ids of [[runA.id], [runA.id, runC.id], [runB.id, runC.id], [runC.id]]) {
      for (const run of await small.runsWithResults(ids)) {
        const viaPrisma = await database.prisma.checkRun.findUniqueOrThrow({ where: { id: run.id }, include: { results: { orderBy: { id: 'asc' }, include: WITH_HOST_DETAILS } } });
        expect(run).toEqual({ ...viaPrisma, results: viaPrisma.results.map(joinHostDetails) });
      }
    }
  });

  it('should prune old runs first, then the host-level results no run references any more', async () => {
    const d = await database.prisma.domain.create({ data: { name: 'prune.example', nextCheckAt: T } });
    const old = new Date(T.getTime() - 40 * 86_400_000);
    const at = (t: Date): ProbeResult[] => results.map((r) => ({ ...r, startedAt: t }));
    await repo.storeRun({ domainId: d.id, trigger: 'schedule', status: 'pass', startedAt: old, finishedAt: old, results: at(old), nextCheckAt: T });
    // The old probing still referenced by a recent run (a shared result reused within its max age).
    const reused = at(old)[1]!;
    await repo.storeRun({ domainId: d.id, trigger: 'schedule', status: 'pass', startedAt: T, finishedAt: T, results: [reused], nextCheckAt: T });
    expect(await database.prisma.hostResult.count()).toBe(2);
    const before = new Date(T.getTime() - 30 * 86_400_000);
    let pruned = 0;
    for (let n = await repo.pruneBatch(before, 500); n > 0; n = await repo.pruneBatch(before, 500)) pruned += n;
    expect(pruned).toBe(2); // the old run, then the old dnsbl answer nobody references
    expect(await database.prisma.checkRun.count({ where: { domainId: d.id } })).toBe(1);
    expect((await database.prisma.hostResult.findMany()).map((h) => h.probe)).toEqual(['smtp']);
    expect((await repo.latestRun(d.id))!.results[0]!.details).toEqual({ open: true, observations: [] });
  });

  it('should keep the schedule of a manual run and store a run without results', async () => {
    const d = await database.prisma.domain.create({ data: { name: 'b.example', nextCheckAt: T } });
    const stored = await repo.storeRun({ domainId: d.id, trigger: 'manual', status: 'pass', startedAt: T, finishedAt: T, results: [], nextCheckAt: null });
    expect(stored.results).toEqual([]);
    expect(await database.prisma.checkRun.count({ where: { id: stored.id } })).toBe(1);
    expect((await repo.runsWithResults([stored.id, randomUUID()])).map((r) => [r.id, r.results])).toEqual([[stored.id, []]]);
    const domain = await database.prisma.domain.findUniqueOrThrow({ where: { id: d.id } });
    expect(domain).toMatchObject({ nextCheckAt: T, lastCheckAt: T });
  });

  it('should say the domain is gone when it was deleted during the check, and store nothing', async () => {
    await expect(repo.storeRun({ domainId: randomUUID(), trigger: 'schedule', status: 'pass', startedAt: T, finishedAt: T, results, nextCheckAt: T })).rejects.toBeInstanceOf(DomainGoneError);
    await expect(repo.storeRun({ domainId: randomUUID(), trigger: 'manual', status: 'pass', startedAt: T, finishedAt: T, results: [], nextCheckAt: null })).rejects.toBeInstanceOf(DomainGoneError);
    expect(await database.prisma.checkRun.count()).toBe(0);
    expect(await database.prisma.probeResult.count()).toBe(0);
  });

  it('should store a queued run once per idempotency key, and find it by that key', async () => {
    const d = await database.prisma.domain.create({ data: { name: 'c.example', nextCheckAt: T } });
    const first = await repo.storeRun({ domainId: d.id, trigger: 'schedule', status: 'warn', startedAt: T, finishedAt: T, results, nextCheckAt: T, idempotencyKey: 's-job-1' });
    expect(await repo.runIdByKey('s-job-1')).toBe(first.id);
    expect(await repo.runIdByKey('s-job-2')).toBeNull();
    // The same job run again (its worker died after storing): nothing of the second run is kept.
    await expect(repo.storeRun({ domainId: d.id, trigger: 'schedule', status: 'pass', startedAt: T, finishedAt: T, results, nextCheckAt: T, idempotencyKey: 's-job-1' })).rejects.toBeInstanceOf(DuplicateRunError);
    expect(await database.prisma.checkRun.count({ where: { domainId: d.id } })).toBe(1);
    expect(await database.prisma.probeResult.count({ where: { domainId: d.id } })).toBe(results.length);
    // Runs without a key (manual, in-process) never collide.
    await repo.storeRun({ domainId: d.id, trigger: 'manual', status: 'pass', startedAt: T, finishedAt: T, results: [], nextCheckAt: null });
    await repo.storeRun({ domainId: d.id, trigger: 'manual', status: 'pass', startedAt: T, finishedAt: T, results: [], nextCheckAt: null });
    expect(await database.prisma.checkRun.count({ where: { domainId: d.id } })).toBe(3);
  });

  it('should send the run statement again when PostgreSQL ended it over a deadlock or a serialization failure, and give up on anything else', async () => {
    const [d1, d2] = await Promise.all(['retry.example', 'other.example'].map((name) => database.prisma.domain.create({ data: { name, nextCheckAt: T } })));
    const db = DatabaseService.over(database);
    let failNext: string[] = [];
    const flaky = {
      prisma: database.prisma,
      sql: (q: Parameters<typeof db.sql>[0]) => {
        const code = failNext.shift();
        return code ? Promise.reject(Object.assign(new Error(code === '40P01' ? 'deadlock detected' : `failed with ${code}`), { code })) : db.sql(q);
      },
    } as unknown as DatabaseService;
    let told: string[] = [];
    const repoTelling = () => {
      const repo = new ChecksRepository(flaky);
      told = [];
      repo.onConflictRetry((reason) => told.push(reason));
      return repo;
    };
    let flakyRepo = repoTelling();
    const store = (domainId: string) => flakyRepo.storeRun({ domainId, trigger: 'schedule', status: 'warn', startedAt: T, finishedAt: T, results, nextCheckAt: T });
    failNext = ['40P01', '40001'];
    await store(d1!.id);
    expect(told).toHaveLength(2);
    expect(told).toEqual(['deadlock', 'serialization']);
    expect(await database.prisma.checkRun.count({ where: { domainId: d1!.id } })).toBe(1);
    expect(await database.prisma.probeResult.count({ where: { domainId: d1!.id } })).toBe(results.length);
    // Three conflicts in a row: the error is the caller's; any other error is not retried. (A
    // process that trusts some of the run's host results as stored would try once more without.)
    flakyRepo = repoTelling();
    failNext = ['40P01', '40P01', '40P01'];
    await expect(store(d2!.id)).rejects.toThrow('deadlock detected');
    failNext = ['22P02'];
    await expect(store(d2!.id)).rejects.toThrow('failed with 22P02');
    expect(told).toHaveLength(2);
    expect(await database.prisma.checkRun.count({ where: { domainId: d2!.id } })).toBe(0);
  });

  // Only PostgreSQL runs statements side by side (PGlite has one connection).
  it.runIf(backend.name.startsWith('PostgreSQL'))('should store two runs that bring the same new host-level results in opposite orders at the same moment: no deadlock, each referencing the rows the other stored', async () => {
    // Each HostResult row takes 0.3 s to insert, so the two statements interleave row by row.
    await database.prisma.$executeRawUnsafe(`CREATE FUNCTION slow_host_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NEW; END $$`);
    await database.prisma.$executeRawUnsafe(`CREATE TRIGGER slow_host_insert BEFORE INSERT ON "HostResult" FOR EACH ROW EXECUTE FUNCTION slow_host_insert()`);
    try {
      const [a, b] = await Promise.all(['d1.example', 'd2.example'].map((name) => database.prisma.domain.create({ data: { name, nextCheckAt: T } })));
      const smtp = (host: string): ProbeResult => ({ probe: 'smtp', target: `${host}[192.0.2.7]:25`, status: 'pass', startedAt: T, durationMs: 3, details: { open: true }, observations: [] });
      const pair = [smtp('mx1.shared.example'), smtp('mx2.shared.example')];
      // Two workers (each with its own knowledge of stored digests); two domains listing the same MX pair the other way round.
      const other = new ChecksRepository(DatabaseService.over(database));
      const store = (r: ChecksRepository, domainId: string, rs: ProbeResult[]) => r.storeRun({ domainId, trigger: 'schedule', status: 'pass', startedAt: T, finishedAt: T, results: rs, nextCheckAt: T });
      const outcomes = await Promise.allSettled([store(repo, a!.id, pair), store(other, b!.id, [...pair].reverse())]);
      expect(outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : 'stored'))).toEqual(['stored', 'stored']);
      expect(await database.prisma.hostResult.count()).toBe(2);
      expect(await database.prisma.probeResult.count({ where: { hostResultId: { not: null } } })).toBe(4);
    } finally {
      await database.prisma.$executeRawUnsafe(`DROP TRIGGER slow_host_insert ON "HostResult"`);
      await database.prisma.$executeRawUnsafe(`DROP FUNCTION slow_host_insert()`);
    }
  });

  // Seen at 100 checks at once in one process (just after it forgot its stored digests) and
  // between workers: the run that trusted a row as stored checked its reference to it (a KEY SHARE
  // row lock) while a run that sent the row again held it for ON CONFLICT DO UPDATE and waited for
  // a new row the first had inserted. The trusting run is retried without trust when its statement
  // fails, so the deadlock shows only as an error of the statement (and a run failed outright when
  // neither side trusted anything, as at 100 checks at once).
  it.runIf(backend.name.startsWith('PostgreSQL'))('should store a run that references a known host result while another run upserts it: no deadlock between the reference check and the upsert', async () => {
    const smtp = (host: string, ms: number): ProbeResult => ({ probe: 'smtp', target: `${host}[192.0.2.8]:25`, status: 'pass', startedAt: T, durationMs: ms, details: { open: true }, observations: [] });
    const digestOf = (r: ProbeResult) => (repo as unknown as { toStored(x: ProbeResult): { digest: string } }).toStored(r).digest;
    // R (known) sorts before Y (new): the upserting run takes R first.
    let known: ProbeResult | undefined;
    let fresh: ProbeResult | undefined;
    for (let ms = 1; !known; ms++) {
      const [a, b] = [smtp('mx-known.example', ms), smtp('mx-new.example', ms)];
      if (digestOf(a) < digestOf(b)) [known, fresh] = [a, b];
    }
    const domains = await Promise.all(['r.example', 'c.example', 'e.example'].map((name) => database.prisma.domain.create({ data: { name, nextCheckAt: T } })));
    const errors: string[] = [];
    const db = DatabaseService.over(database);
    const watched = { prisma: database.prisma, sql: (q: Parameters<typeof db.sql>[0]) => db.sql(q).catch((e: unknown) => Promise.reject((errors.push(String(e)), e))) } as unknown as DatabaseService;
    const store = (r: ChecksRepository, domainId: string, rs: ProbeResult[]) => r.storeRun({ domainId, trigger: 'schedule', status: 'pass', startedAt: T, finishedAt: T, results: rs, nextCheckAt: T });
    // `trusting` stored R and sends only its reference; `upserting` (another worker) sends R again.
    const trusting = new ChecksRepository(watched);
    await store(trusting, domains[0]!.id, [known!]);
    const upserting = new ChecksRepository(watched);
    // Each proposed HostResult row takes 0.5 s: `upserting` takes R at ~0.5 s and reaches Y at
    // ~1.0 s; `trusting` inserts Y at ~0.7 s and then checks its reference to R.
    await database.prisma.$executeRawUnsafe(`CREATE FUNCTION slow_host_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.5); RETURN NEW; END $$`);
    await database.prisma.$executeRawUnsafe(`CREATE TRIGGER slow_host_insert BEFORE INSERT ON "HostResult" FOR EACH ROW EXECUTE FUNCTION slow_host_insert()`);
    try {
      const outcomes = await Promise.allSettled([
        store(upserting, domains[1]!.id, [known!, fresh!]),
        new Promise((r) => setTimeout(r, 200)).then(() => store(trusting, domains[2]!.id, [known!, fresh!])),
      ]);
      expect(outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : 'stored'))).toEqual(['stored', 'stored']);
      expect(errors).toEqual([]);
      expect(await database.prisma.hostResult.count()).toBe(2);
      expect(await database.prisma.probeResult.count({ where: { hostResultId: { not: null } } })).toBe(5);
    } finally {
      await database.prisma.$executeRawUnsafe(`DROP TRIGGER slow_host_insert ON "HostResult"`);
      await database.prisma.$executeRawUnsafe(`DROP FUNCTION slow_host_insert()`);
    }
  });
});
