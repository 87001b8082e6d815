import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/support/postgres.js';
import type { DatabaseService } from '../database/database.service.js';
import { openDatabase, type Database } from '../database/open-database.js';
import type { ProbeResult } from '../probes/probe.types.js';
import { ChecksRepository, DomainGoneError, DuplicateRunError } from './checks.repository.js';

const backends = [
  {
    name: 'PostgreSQL',
    async open() {
      const db = await createTestDatabase('mxwatch_checks_repo');
      const database = await openDatabase({ databaseUrl: db.url, dataDir: '/nonexistent' });
      return { database, close: async () => (await database.close(), await db.drop()) };
    },
  },
  {
    name: 'embedded PGlite',
    async open() {
      const dir = mkdtempSync(path.join(tmpdir(), 'mxwatch-checks-repo-'));
      const database = await openDatabase({ dataDir: dir });
      return { database, close: async () => (await database.close(), rmSync(dir, { recursive: true, force: true })) };
    },
  },
];

/** Medium tier: the real repository on a real database. */
describe.each(backends)(`${ChecksRepository.name} on $name`, (backend) => {
  let database: Database;
  let close: () => Promise<void>;
  let repo: ChecksRepository;

  beforeAll(async () => {
    ({ database, close } = await backend.open());
    repo = new ChecksRepository({ prisma: database.prisma } as DatabaseService);
  });

  afterAll(async () => {
    await close?.();
  });

  beforeEach(async () => {
    await database.prisma.domain.deleteMany();
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

    const run = await database.prisma.checkRun.findUniqueOrThrow({ where: { id: stored.id }, include: { results: { orderBy: { id: 'asc' } } } });
    expect(stored).toEqual(run);
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
    const run = await database.prisma.checkRun.findUniqueOrThrow({ where: { id: stored.id }, include: { results: { orderBy: { id: 'asc' } } } });
    const shown = 'mx\u2400evil.nul.example';
    expect(run.results.map((r) => r.target)).toEqual(['nul.example', `${shown}[192.0.2.1]:25`]);
    expect(run.results[0]!.reason).toBe(`unresolvable ${shown}`);
    expect(run.results[0]!.details).toEqual({
      hosts: [{ host: shown, 'key\u2400': ['\u2400', 'half \ufffd surrogate'] }],
      observations: [{ code: 'MX_TARGET_UNRESOLVABLE', target: shown, params: { mx: shown } }],
    });
    expect(run.results[1]!.details).toEqual({ banner: '220 a\u2400b', observations: [] });
  });

  it('should keep the schedule of a manual run and store a run without results', async () => {
    const d = await database.prisma.domain.create({ data: { name: 'b.example', nextCheckAt: T } });
    const stored = await repo.storeRun({ domainId: d.id, trigger: 'manual', status: 'pass', startedAt: T, finishedAt: T, results: [], nextCheckAt: null });
    expect(stored.results).toEqual([]);
    expect(await database.prisma.checkRun.count({ where: { id: stored.id } })).toBe(1);
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
});
