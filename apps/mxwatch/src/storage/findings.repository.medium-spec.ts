import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/support/postgres.js';
import { DatabaseService } from '../database/database.service.js';
import { openDatabase, type Database } from '../database/open-database.js';
import type { FindingDraft } from '../findings/findings.rules.js';
import { databaseBackends } from '../../../../test/support/database-backends.js';
import { ChangesRepository } from './changes.repository.js';
import { FindingsRepository } from './findings.repository.js';

/** Medium tier: the real repository on real PostgreSQL. */
describe(FindingsRepository.name, () => {
  let database: Database;
  let drop: () => Promise<void>;
  let repo: FindingsRepository;

  beforeAll(async () => {
    const db = await createTestDatabase('mxwatch_findings_repo');
    database = await openDatabase({ databaseUrl: db.url, dataDir: '/nonexistent' });
    drop = db.drop;
    repo = new FindingsRepository(DatabaseService.over(database));
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
  });
  beforeEach(async () => {
    await database.prisma.domain.deleteMany();
  });

  const mx = 'mx\u0000evil.example';
  const draft: FindingDraft = {
    code: 'MX_TARGET_UNRESOLVABLE',
    severity: 'critical',
    probe: 'mx',
    target: mx,
    message: `MX target ${mx} does not resolve`,
    remediation: 'fix it',
    evidence: { mx, [`k\u0000`]: ['\u0000'] },
    scope: 'domain',
  };

  it('should store a finding whose target, message and evidence hold a NUL, and give the target back as reported', async () => {
    const d = await database.prisma.domain.create({ data: { name: 'evil.example' } });
    const now = new Date('2026-06-15T12:00:00Z');
    const { opened } = await repo.apply(d.id, [{ kind: 'create', draft, status: 'open' }], now);
    expect(opened[0]).toMatchObject({ target: 'mx\u2400evil.example', message: 'MX target mx\u2400evil.example does not resolve', evidence: { mx: 'mx\u2400evil.example', 'k\u2400': ['\u2400'] } });

    const [active] = await repo.active(d.id);
    expect(active!.target).toBe(mx);
    await repo.apply(d.id, [{ kind: 'seen', id: active!.id, draft, seenCount: 2, opens: false }], now);
    expect(await repo.openFor(d.id)).toMatchObject([{ target: 'mx\u2400evil.example', seenCount: 2 }]);
  });

  it('should list only the findings of domains that carry every label asked for', async () => {
    const now = new Date('2026-06-15T12:00:00Z');
    const mail = await database.prisma.domain.create({ data: { name: 'mail.example', labels: { team: 'mail', env: 'prod' } } });
    const web = await database.prisma.domain.create({ data: { name: 'web.example', labels: { team: 'web', env: 'prod' } } });
    for (const d of [mail, web]) await repo.apply(d.id, [{ kind: 'create', draft: { ...draft, target: d.name }, status: 'open' }], now);
    const domains = async (labels: Record<string, string>) => (await repo.list({ labels, limit: 10 })).map((f) => f.domain?.name).sort();
    expect(await domains({})).toEqual(['mail.example', 'web.example']);
    expect(await domains({ env: 'prod' })).toEqual(['mail.example', 'web.example']);
    expect(await domains({ team: 'mail' })).toEqual(['mail.example']);
    expect(await domains({ team: 'web', env: 'prod' })).toEqual(['web.example']);
    expect(await domains({ team: 'mail', env: 'dev' })).toEqual([]);
  });
});

/** Medium tier: what every run reads and writes is raw SQL, so it runs on both databases. */
describe.each(databaseBackends('mxwatch_findings_raw'))(`${FindingsRepository.name} run statements on $name`, (backend) => {
  let close: () => Promise<void>;
  let database: Database;
  let repo: FindingsRepository;

  beforeAll(async () => {
    ({ database, close } = await backend.open());
    repo = new FindingsRepository(DatabaseService.over(database));
  });
  afterAll(async () => {
    await close?.();
  });
  beforeEach(async () => {
    await database.prisma.domain.deleteMany();
    await database.prisma.finding.deleteMany();
  });

  const t0 = new Date('2026-06-15T12:00:00.000Z');
  const t1 = new Date('2026-06-15T12:05:00.000Z');
  const draft = (target: string, o: { scope?: 'domain' | 'monitor'; severity?: 'warning' | 'critical' } = {}): FindingDraft => ({
    code: o.scope === 'monitor' ? 'MONITOR_RESOLVER_NOT_VALIDATING' : 'MX_MISSING',
    severity: o.severity ?? 'warning',
    probe: 'mx',
    target,
    message: `about ${target}`,
    remediation: 'fix it',
    evidence: { target, at: t0 },
    scope: o.scope ?? 'domain',
  });

  it('should read nothing for a domain without findings or policy states', async () => {
    const d = await database.prisma.domain.create({ data: { name: 'empty.example' } });
    const read = await repo.activeWithMonitor(d.id);
    expect(read).toEqual({ domain: [], monitor: [], policyStates: new Map() });
  });

  it("should read the domain's active findings, the monitor's, and the domain's policy states in one go, each as its own read shows them", async () => {
    const d = await database.prisma.domain.create({ data: { name: 'busy.example' } });
    const other = await database.prisma.domain.create({ data: { name: 'other.example' } });
    const changes = new ChangesRepository(DatabaseService.over(database));
    await repo.apply(d.id, [{ kind: 'create', draft: draft('mx1.busy.example'), status: 'open' }, { kind: 'create', draft: draft('mx\u0000busy.example'), status: 'pending' }], t0);
    const { opened: [gone] } = await repo.apply(d.id, [{ kind: 'create', draft: draft('old.busy.example'), status: 'open' }], t0);
    await repo.apply(d.id, [{ kind: 'miss', id: gone!.id, missCount: 1, resolves: true }], t0);
    await repo.apply(other.id, [{ kind: 'create', draft: draft('mx.other.example'), status: 'open' }], t0);
    await repo.applyMonitor(() => [{ kind: 'create', draft: draft('resolver', { scope: 'monitor' }), status: 'open' }], t0);
    await changes.record(d.id, [{ probe: 'mx', state: { hosts: ['mx1.busy.example'], at: '2026-06-15T12:00:00.000Z' } }, { probe: 'spf', state: { record: 'v=spf1 -all' } }], [], t0);
    await changes.record(other.id, [{ probe: 'mx', state: { hosts: ['mx.other.example'] } }], [], t0);

    const read = await repo.activeWithMonitor(d.id);
    const byTarget = (fs: Array<{ target: string }>) => [...fs].sort((a, b) => a.target.localeCompare(b.target));
    expect(byTarget(read.domain)).toEqual(byTarget(await repo.active(d.id)));
    expect(read.domain.map((f) => f.target).sort()).toEqual(['mx\u0000busy.example', 'mx1.busy.example']);
    expect(read.domain[0]!.firstSeenAt).toBeInstanceOf(Date);
    expect(read.monitor).toMatchObject([{ domainId: null, target: 'resolver', status: 'open' }]);
    const stored = await database.prisma.policyState.findMany({ where: { domainId: d.id } });
    expect(read.policyStates).toEqual(new Map(stored.map((r) => [r.probe, r.state])));
    expect(read.policyStates.get('mx')).toEqual({ hosts: ['mx1.busy.example'], at: '2026-06-15T12:00:00.000Z' });
  });

  it('should apply every kind of change in one go, and give back what opened and resolved in the order of the changes', async () => {
    const d = await database.prisma.domain.create({ data: { name: 'mixed.example' } });
    const first = await repo.apply(d.id, [
      { kind: 'create', draft: draft('a'), status: 'open' },
      { kind: 'create', draft: draft('b'), status: 'pending' },
      { kind: 'create', draft: draft('c'), status: 'open' },
      { kind: 'create', draft: draft('d'), status: 'open' },
      { kind: 'create', draft: draft('e'), status: 'pending' },
    ], t0);
    expect(first.opened.map((f) => f.target)).toEqual(['a', 'c', 'd']);
    expect(first.opened[0]).toMatchObject({ domainId: d.id, status: 'open', seenCount: 1, missCount: 0, firstSeenAt: t0, lastSeenAt: t0, openedAt: t0, resolvedAt: null, evidence: { target: 'a', at: t0.toISOString() } });
    const id = Object.fromEntries((await repo.active(d.id)).map((f) => [f.target, f.id]));

    const second = await repo.apply(d.id, [
      { kind: 'miss', id: id.a!, missCount: 2, resolves: true },
      { kind: 'seen', id: id.b!, draft: draft('b', { severity: 'critical' }), seenCount: 2, opens: true },
      { kind: 'miss', id: id.c!, missCount: 1, resolves: false },
      { kind: 'drop', id: id.e! },
      { kind: 'retire', id: id.d! },
      // Gone meanwhile (its domain deleted): nothing to change, and no error.
      { kind: 'seen', id: '00000000-0000-4000-8000-000000000000', draft: draft('x'), seenCount: 2, opens: true },
    ], t1);
    expect(second.opened).toMatchObject([{ target: 'b', status: 'open', severity: 'critical', seenCount: 2, openedAt: t1, lastSeenAt: t1, firstSeenAt: t0 }]);
    expect(second.resolved).toMatchObject([{ target: 'a', status: 'resolved', missCount: 2, resolvedAt: t1 }]);
    const rows = Object.fromEntries((await database.prisma.finding.findMany({ where: { domainId: d.id } })).map((f) => [f.target, f]));
    expect(Object.keys(rows).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(rows.c).toMatchObject({ status: 'open', missCount: 1, openedAt: t0, resolvedAt: null });
    expect(rows.d).toMatchObject({ status: 'resolved', resolvedAt: t1 });
  });

  it('should refuse, and change nothing, when the domain is gone', async () => {
    const d = await database.prisma.domain.create({ data: { name: 'gone.example' } });
    await database.prisma.domain.delete({ where: { id: d.id } });
    await expect(repo.apply(d.id, [{ kind: 'create', draft: draft('a'), status: 'open' }], t0)).rejects.toThrow();
    expect(await database.prisma.finding.count({ where: { domainId: d.id } })).toBe(0);
  });
});
