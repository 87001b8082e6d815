import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { databaseBackends } from '../../../../test/support/database-backends.js';
import type { AppConfig } from '../config/config.types.js';
import { DatabaseService } from '../database/database.service.js';
import type { Database } from '../database/open-database.js';
import type { ProbeResult } from '../probes/probe.types.js';
import { FindingsRepository } from '../storage/findings.repository.js';
import { EventBus, type MonitorTransitionsEvent } from './events.js';
import { FindingsService } from './findings.service.js';

const CODE = 'MONITOR_RESOLVER_NOT_VALIDATING';

/**
 * Two backends; on PostgreSQL the domains' runs go through two services on two connection pools,
 * as two workers sharing one database would.
 */
const backends = databaseBackends('mxwatch_monitor_findings', 2);

/** One domain's DNSSEC result: the resolver validates, or not (the monitor observation, untestable). */
function dnssec(domain: string, validating: boolean, startedAt: Date): ProbeResult {
  return {
    probe: 'dnssec',
    target: domain,
    status: validating ? 'pass' : 'untestable',
    ...(validating ? {} : { reason: 'resolver_not_validating' }),
    startedAt,
    durationMs: 1,
    details: { domain, state: validating ? 'insecure' : null, answers: [], mxHosts: [], resolverValidating: validating, error: validating ? null : 'no AD bit' },
    observations: validating ? [] : [{ code: CODE, target: 'resolver', params: { why: 'no AD bit' } }],
  };
}

/** Medium tier: findings about the monitor on a real database, many domains' runs at once. */
describe.each(backends)(`${FindingsService.name}: findings about the monitor itself on $name`, (backend) => {
  let databases: Database[];
  let close: () => Promise<void>;
  let services: FindingsService[];
  let repo: FindingsRepository;
  let monitorEvents: MonitorTransitionsEvent[];
  let domains: Array<{ id: string; name: string; labels: Record<string, string> }>;
  const N = 12;

  beforeAll(async () => {
    ({ databases, close } = await backend.open());
    const config = { alertAfter: 2 } as AppConfig;
    services = databases.map((d) => {
      const events = new EventBus();
      events.on('monitor.transitions', (e) => void monitorEvents.push(e));
      return new FindingsService(new FindingsRepository(DatabaseService.over(d)), events, config);
    });
    repo = new FindingsRepository(DatabaseService.over(databases[0]!));
  });

  afterAll(async () => {
    await close?.();
  });

  beforeEach(async () => {
    const prisma = databases[0]!.prisma;
    await prisma.finding.deleteMany();
    await prisma.domain.deleteMany();
    monitorEvents = [];
    domains = [];
    for (let i = 0; i < N; i++) {
      const d = await prisma.domain.create({ data: { name: `d${i}.example` } });
      domains.push({ id: d.id, name: d.name, labels: {} });
    }
  });

  /** Every domain's run at once, spread over the services. */
  const cycle = async (validating: boolean, startedAt: Date, now: Date) => {
    const runs = await Promise.all(domains.map((d, i) => services[i % services.length]!.applyRun(d, [dnssec(d.name, validating, startedAt)], now)));
    // Sightings within a second are written together (MonitorSightings): write them before reading the row.
    await Promise.all(services.map((s) => s.flushSightings()));
    return runs;
  };

  const rows = () => databases[0]!.prisma.finding.findMany({ where: { code: CODE }, orderBy: { firstSeenAt: 'asc' } });

  it('should keep one finding, without a domain, for N domains reporting at once; open it once; give no domain one', async () => {
    const first = await cycle(false, new Date('2026-06-01T12:00:00Z'), new Date('2026-06-01T12:00:05Z'));
    // Every run showed it (the check's answer says so), none as a finding of its domain.
    expect(first.every((r) => r.drafts.some((d) => d.code === CODE && d.scope === 'monitor'))).toBe(true);
    expect(first.flatMap((r) => [...r.opened, ...r.resolved])).toEqual([]);
    const stored = await rows();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ domainId: null, status: 'open', seenCount: N, target: 'resolver', evidence: { why: 'no AD bit' } });
    // Opened exactly once, by the run that made the second sighting, and told once.
    expect(first.flatMap((r) => r.monitor.opened)).toHaveLength(1);
    expect(monitorEvents.map((e) => [e.opened.length, e.resolved.length])).toEqual([[1, 0]]);

    await cycle(false, new Date('2026-06-01T12:05:00Z'), new Date('2026-06-01T12:05:05Z'));
    expect(await rows()).toMatchObject([{ status: 'open', seenCount: 2 * N }]);
    expect(monitorEvents).toHaveLength(1);

    expect(await repo.list({ scope: 'monitor', limit: 10 })).toMatchObject([{ code: CODE, domain: null }]);
    expect(await repo.list({ scope: 'domain', limit: 10 })).toEqual([]);
    expect(await repo.openAboutMonitor()).toHaveLength(1);
  });

  it('should record the sightings of an open finding without a transaction, sharing the lock, and plan under it once one is needed', async () => {
    await cycle(false, new Date('2026-06-01T12:00:00Z'), new Date('2026-06-01T12:00:05Z'));
    let transactions = 0;
    const counting = databases.map((d) => {
      const prisma = new Proxy(d.prisma, { get: (target, prop, receiver) => (prop === '$transaction' ? (...args: unknown[]) => (transactions++, (target.$transaction as (...a: unknown[]) => unknown)(...args)) : Reflect.get(target, prop, receiver)) });
      return new FindingsService(new FindingsRepository({ prisma } as DatabaseService), new EventBus(), { alertAfter: 2 } as AppConfig);
    });
    const at = new Date('2026-06-01T12:05:00Z');
    await Promise.all(domains.map((d, i) => counting[i % counting.length]!.applyRun(d, [dnssec(d.name, false, at)], new Date('2026-06-01T12:05:05Z'))));
    await Promise.all(counting.map((s) => s.flushSightings()));
    // Only the domains' own findings would need one (none here), never the monitor's steady state.
    expect(transactions).toBe(0);
    expect(await rows()).toMatchObject([{ status: 'open', seenCount: 2 * N, missCount: 0, lastSeenAt: new Date('2026-06-01T12:05:05Z') }]);

    // A finding resolved meanwhile is not "seen again": the repository says so and the run plans under the lock.
    const [open] = await rows();
    await databases[0]!.prisma.finding.update({ where: { id: open!.id }, data: { status: 'resolved', resolvedAt: new Date('2026-06-01T12:05:06Z') } });
    const draft = { code: CODE, severity: 'warning' as const, probe: 'dnssec', target: 'resolver', message: 'm', remediation: 'r', evidence: {}, scope: 'monitor' as const };
    expect(await repo.seenAboutMonitor(open!.id, draft, new Date('2026-06-01T12:05:07Z'))).toBe(false);
    await counting[0]!.applyRun(domains[0]!, [dnssec(domains[0]!.name, false, new Date('2026-06-01T12:05:10Z'))], new Date('2026-06-01T12:05:11Z'));
    expect(transactions).toBe(1);
    expect((await rows()).map((r) => r.status)).toEqual(['resolved', 'pending']);
  });

  it('should resolve once when the runs no longer show it, and not reopen for a slow run that looked before', async () => {
    await cycle(false, new Date('2026-06-01T12:00:00Z'), new Date('2026-06-01T12:00:05Z'));
    const fixedAt = new Date('2026-06-01T12:05:00Z');
    const fixed = await cycle(true, fixedAt, new Date('2026-06-01T12:05:05Z'));
    expect(fixed.flatMap((r) => r.monitor.resolved)).toHaveLength(1);
    expect(monitorEvents.map((e) => [e.opened.length, e.resolved.length])).toEqual([
      [1, 0],
      [0, 1],
    ]);
    // A run of some domain that started before the fix and finishes only now still shows the old state.
    const slow = await services[0]!.applyRun(domains[0]!, [dnssec(domains[0]!.name, false, new Date('2026-06-01T12:04:59Z'))], new Date('2026-06-01T12:05:10Z'));
    expect(slow.monitor).toEqual({ opened: [], resolved: [] });
    expect(await rows()).toMatchObject([{ status: 'resolved' }]);

    // Broken again, seen by later runs: a new episode, opened once.
    await cycle(false, new Date('2026-06-01T12:10:00Z'), new Date('2026-06-01T12:10:05Z'));
    expect((await rows()).map((r) => r.status)).toEqual(['resolved', 'open']);
    expect(monitorEvents).toHaveLength(3);
  });

  it('should not count a run that started before the last sighting as a miss (no flap at MXWATCH_ALERT_AFTER=1)', async () => {
    const once = new FindingsService(new FindingsRepository(DatabaseService.over(databases[0]!)), new EventBus(), { alertAfter: 1 } as AppConfig);
    await once.applyRun(domains[0]!, [dnssec(domains[0]!.name, false, new Date('2026-06-01T12:00:02Z'))], new Date('2026-06-01T12:00:03Z'));
    // Another domain's run looked at 12:00:01, while the resolver still validated, and finished later.
    const late = await once.applyRun(domains[1]!, [dnssec(domains[1]!.name, true, new Date('2026-06-01T12:00:01Z'))], new Date('2026-06-01T12:00:04Z'));
    expect(late.monitor).toEqual({ opened: [], resolved: [] });
    expect(await rows()).toMatchObject([{ status: 'open', missCount: 0 }]);
  });

  it('should leave the finding alone in a run that did not test (no DNSSEC result), and retire the per-domain rows an earlier version stored', async () => {
    await cycle(false, new Date('2026-06-01T12:00:00Z'), new Date('2026-06-01T12:00:05Z'));
    const prisma = databases[0]!.prisma;
    const at = new Date('2026-06-01T11:00:00Z');
    const legacy = { code: CODE, severity: 'warning', probe: 'dnssec', target: 'resolver', message: 'm', remediation: 'r', firstSeenAt: at, lastSeenAt: at };
    await prisma.finding.create({ data: { ...legacy, domainId: domains[0]!.id, status: 'open', openedAt: at } });
    await prisma.finding.create({ data: { ...legacy, domainId: domains[1]!.id, status: 'pending' } });

    const mxOnly: ProbeResult = { probe: 'mx', target: domains[0]!.name, status: 'pass', startedAt: new Date('2026-06-01T12:06:00Z'), durationMs: 1, details: {}, observations: [] };
    for (const d of domains.slice(0, 2)) {
      const r = await services[0]!.applyRun(d, [{ ...mxOnly, target: d.name }], new Date('2026-06-01T12:06:05Z'));
      // Closed without a transition (so without a notification per domain): the monitor's finding carries it.
      expect([...r.opened, ...r.resolved, ...r.monitor.opened, ...r.monitor.resolved]).toEqual([]);
    }
    const all = await rows();
    expect(all.map((f) => [f.domainId === null ? 'monitor' : f.domainId === domains[0]!.id ? 'd0' : 'other', f.status, f.missCount])).toEqual([
      ['d0', 'resolved', 0],
      ['monitor', 'open', 0],
    ]);
  });
});
