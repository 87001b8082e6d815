import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/support/postgres.js';
import type { AppConfig } from '../config/config.types.js';
import { DatabaseService } from '../database/database.service.js';
import { openDatabase, type Database } from '../database/open-database.js';
import type { ProbeResult, ProbeStatus } from '../probes/probe.types.js';
import { EventBus } from '../runtime/events.js';
import type { DomainRow } from '../storage/domains.repository.js';
import { ChecksRepository } from '../storage/checks.repository.js';
import { MetricsFeedRepository } from '../storage/metrics-feed.repository.js';
import { MetricsRepository } from '../storage/metrics.repository.js';
import { MetricsFeedService } from './metrics-feed.service.js';
import { MetricsService } from './metrics.service.js';

interface Host {
  host: string;
  ip: string;
}

const MX1 = { host: 'mx1.shared.test', ip: '127.0.0.11' };
const MX2 = { host: 'mx2.gamma.test', ip: '127.0.0.12' };
const MX3 = { host: 'mx3.delta.test', ip: '127.0.0.13' };
const MX4 = { host: 'mx4.alpha.test', ip: '127.0.0.14' };
const MX5 = { host: 'mx5.eps.test', ip: '127.0.0.15' };

/** One check: MX lookup, then SMTP and STARTTLS on port 25 of each host (the TLS version says which run a host series came from). */
function check(domain: string, at: Date, hosts: Host[], opts: { mx?: ProbeStatus; tls?: string } = {}): ProbeResult[] {
  const mxStatus = opts.mx ?? 'pass';
  const base = { startedAt: at, durationMs: 4, observations: [] };
  const out: ProbeResult[] = [
    {
      ...base,
      probe: 'mx',
      target: domain,
      status: mxStatus,
      ...(mxStatus === 'untestable' ? { reason: 'resolver_timeout' } : {}),
      details: { domain, nullMx: false, implicit: false, hosts: mxStatus === 'untestable' ? [] : hosts.map((h, i) => ({ host: h.host, preference: 10 * (i + 1), addresses: [h.ip], cname: null, ipLiteral: false, resolveError: null })) },
    },
  ];
  if (mxStatus === 'untestable') return out;
  for (const h of hosts) {
    const target = `${h.host}[${h.ip}]:25`;
    out.push({ ...base, probe: 'smtp', target, status: 'pass', details: { host: h.host, ip: h.ip, port: 25, role: 'mx', open: true } });
    out.push({ ...base, probe: 'starttls', target, status: 'pass', details: { host: h.host, ip: h.ip, port: 25, offered: true, handshakeOk: true, tlsVersion: opts.tls ?? 'TLSv1.3', cert: { notAfter: '2027-01-01T00:00:00.000Z' } } });
  }
  return out;
}

interface Step {
  /** seconds after T0 the check started */
  at: number;
  domain: string;
  hosts: Host[];
  mx?: ProbeStatus;
  tls?: string;
}

const T0 = Date.now() - 120_000;
const when = (s: number) => new Date(T0 + s * 1000);

/**
 * The checks of the scenario, by start time. Stored in another order below: late commits of
 * earlier runs (of the same domain, and about a host another domain saw later), a run whose
 * untestable MX keeps the MX series of an earlier one that commits late, and a domain that lets
 * go of a shared host whose series it set.
 */
const CHECKS: Step[] = [
  { at: 0, domain: 'alpha.test', hosts: [MX1] },
  { at: 1, domain: 'beta.test', hosts: [MX1] },
  { at: 2, domain: 'delta.test', hosts: [MX3, MX1] },
  { at: 3, domain: 'eps.test', hosts: [MX5] },
  { at: 5, domain: 'gamma.test', hosts: [MX2] },
  { at: 10, domain: 'alpha.test', hosts: [MX1], tls: 'TLSv1.1' },
  { at: 20, domain: 'beta.test', hosts: [MX1], tls: 'TLSv1.3' },
  { at: 25, domain: 'gamma.test', hosts: [MX1, MX2] },
  { at: 30, domain: 'alpha.test', hosts: [MX1], tls: 'TLSv1.2' },
  { at: 40, domain: 'gamma.test', hosts: [MX1, MX2], mx: 'untestable' },
  { at: 50, domain: 'alpha.test', hosts: [MX4] },
];

/** Storage orders: by time, and with late commits (a poll of the incremental feed between every two). */
const ORDERS: Record<string, number[]> = {
  'in time order': CHECKS.map((_, i) => i),
  'with late commits': [4, 9, 8, 0, 2, 6, 1, 10, 3, 5, 7],
};

const CONFIG = { role: 'api', scheduler: true, metricsPerDomain: true, checkTimeoutSeconds: 60 } as AppConfig;

/** The fleet part of a scrape: every mxwatch_ sample but the scheduler lag (it depends on the time of the scrape). */
async function fleet(svc: MetricsService): Promise<string[]> {
  const text = (await svc.scrape()).body.toString('utf8');
  return text
    .split('\n')
    .filter((l) => l.startsWith('mxwatch_') && !l.startsWith('mxwatch_scheduler_lag_seconds'))
    .sort();
}

const sample = (lines: string[], metric: string) => lines.filter((l) => l.startsWith(`${metric}{`) || l.startsWith(`${metric} `));

/** Medium tier: feeds on a real PostgreSQL database, each as an api replica would run it. */
describe(MetricsFeedService.name, () => {
  const finals = new Map<string, string[]>();
  const closers: Array<() => Promise<void>> = [];

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
  });

  async function openDb(): Promise<Database> {
    const db = await createTestDatabase('mxwatch_metrics_feed');
    const database = await openDatabase({ databaseUrl: db.url, dataDir: '/nonexistent' });
    closers.push(async () => (await database.close(), await db.drop()));
    return database;
  }

  function replica(database: Database): { svc: MetricsService; feed: MetricsFeedService; events: EventBus } {
    const dbs = DatabaseService.over(database);
    const events = new EventBus();
    const svc = new MetricsService(events, new MetricsRepository(dbs), CONFIG);
    svc.onModuleInit();
    const feed = new MetricsFeedService(svc, new MetricsFeedRepository(dbs, new ChecksRepository(dbs)), events, undefined, { pollMs: 3_600_000, reconcileMs: 3_600_000 });
    feed.onApplicationBootstrap();
    closers.push(async () => feed.onApplicationShutdown());
    return { svc, feed, events };
  }

  it.each(Object.keys(ORDERS))('should converge with a replica started afterwards, runs stored %s', async (order) => {
    const database = await openDb();
    const checks = new ChecksRepository(DatabaseService.over(database));
    const ids = new Map<string, string>();
    for (const name of new Set(CHECKS.map((c) => c.domain))) ids.set(name, (await database.prisma.domain.create({ data: { name } })).id);
    const finding = { code: 'MX_MISSING', probe: 'mx', target: 'x', message: 'm', remediation: 'r', firstSeenAt: when(0), lastSeenAt: when(0) };
    await database.prisma.finding.createMany({
      data: [
        { ...finding, domainId: ids.get('beta.test')!, severity: 'warning', status: 'open' },
        { ...finding, domainId: ids.get('beta.test')!, severity: 'warning', status: 'resolved' },
        // About mxwatch itself: counted by code, no domain.
        { ...finding, domainId: null, code: 'MONITOR_DNSBL_RESOLVER_PUBLIC', severity: 'warning', status: 'open' },
      ],
    });

    // Running from the start: reads after every stored run.
    const a = replica(database);
    await a.feed.reconcile();
    for (const i of ORDERS[order]!) {
      const c = CHECKS[i]!;
      const results = check(c.domain, when(c.at), c.hosts, c);
      await checks.storeRun({ domainId: ids.get(c.domain)!, trigger: 'schedule', status: 'pass', startedAt: when(c.at), finishedAt: when(c.at + 1), results, nextCheckAt: null });
      await a.feed.poll();
    }
    // delta.test deleted and eps.test disabled, by another replica: only the database says so.
    await database.prisma.domain.delete({ where: { name: 'delta.test' } });
    await database.prisma.domain.update({ where: { name: 'eps.test' }, data: { enabled: false } });
    await a.feed.reconcile();
    const seenByA = await fleet(a.svc);

    // Started afterwards: rebuilt from each domain's latest run.
    const b = replica(database);
    const seenByB = await fleet(b.svc);
    expect(seenByB).toEqual(seenByA);

    // What the runs say, whatever the order they were stored in.
    expect(sample(seenByA, 'mxwatch_last_check_timestamp_seconds')).toEqual(
      [
        `{domain="alpha.test"} ${when(51).getTime() / 1000}`,
        `{domain="beta.test"} ${when(21).getTime() / 1000}`,
        `{domain="gamma.test"} ${when(41).getTime() / 1000}`,
      ].map((s) => `mxwatch_last_check_timestamp_seconds${s}`),
    );
    // alpha.test left MX1 (whose TLS series its TLSv1.2 run set): the latest remaining result is beta's.
    // gamma.test's latest run probed no host (its MX lookup was untestable), so MX2 is gone.
    expect(sample(seenByA, 'mxwatch_tls_version_info')).toEqual([
      `mxwatch_tls_version_info{host="mx1.shared.test",ip="127.0.0.11",port="25",version="TLSv1.3"} 1`,
      `mxwatch_tls_version_info{host="mx4.alpha.test",ip="127.0.0.14",port="25",version="TLSv1.3"} 1`,
    ]);
    // gamma.test's untestable MX lookup keeps the MX set of its run at 25 s, even when that run came in late.
    expect(sample(seenByA, 'mxwatch_domain_mx_info').filter((l) => l.includes('gamma.test'))).toEqual([
      `mxwatch_domain_mx_info{domain="gamma.test",mx="mx1.shared.test",preference="10"} 1`,
      `mxwatch_domain_mx_info{domain="gamma.test",mx="mx2.gamma.test",preference="20"} 1`,
    ]);
    // Deleted and disabled domains, and the hosts only they used, are gone.
    expect(seenByA.filter((l) => /delta\.test|eps\.test|mx3\.|mx5\./.test(l))).toEqual([]);
    expect(sample(seenByA, 'mxwatch_domain_findings_open')).toEqual(['mxwatch_domain_findings_open{domain="beta.test",severity="warning"} 1']);
    expect(sample(seenByA, 'mxwatch_findings_open').sort()).toEqual([
      'mxwatch_findings_open{severity="warning",code="MONITOR_DNSBL_RESOLVER_PUBLIC"} 1',
      'mxwatch_findings_open{severity="warning",code="MX_MISSING"} 1',
    ]);
    // No counters: the processes that ran the checks counted them.
    expect(sample(seenByA, 'mxwatch_check_runs_total')).toEqual([]);

    // The process that ran the checks, in time order, shows the same series.
    const ran = new MetricsService(new EventBus(), new MetricsRepository(DatabaseService.over(database)), { ...CONFIG, role: 'all' });
    for (const c of [...CHECKS].sort((x, y) => x.at - y.at)) {
      ran.recordCheck({ domain: { name: c.domain, enabled: true } as DomainRow, trigger: 'schedule', status: 'pass', startedAt: when(c.at), finishedAt: when(c.at + 1), results: check(c.domain, when(c.at), c.hosts, c) });
    }
    ran.forgetDomain('delta.test');
    ran.forgetDomain('eps.test');
    const series = (lines: string[]) => lines.filter((l) => !/^mxwatch_(check_runs_total|check_duration_seconds|probe_runs_total|probe_duration_seconds|smtp_outbound_blocked)/.test(l));
    // One difference, by design: that process cannot read the run of a domain it checked before,
    // so MX1 shows alpha's last result about it until a domain still on MX1 is checked again.
    const mx1Tls = (v: string) => `mxwatch_tls_version_info{host="mx1.shared.test",ip="127.0.0.11",port="25",version="${v}"} 1`;
    expect(series(await fleet(ran))).toEqual(series(seenByA).map((l) => (l === mx1Tls('TLSv1.3') ? mx1Tls('TLSv1.2') : l)).sort());

    finals.set(order, seenByA);
  });

  it('should show the same series whatever the order the runs were stored in', () => {
    const [first, ...others] = [...finals.values()];
    expect(others.length).toBe(Object.keys(ORDERS).length - 1);
    for (const o of others) expect(o).toEqual(first);
  });

  it('should read a stored run back as the probe returned it: observations apart, NULs from the network restored, host results joined', async () => {
    const database = await openDb();
    const dbs = DatabaseService.over(database);
    const checks = new ChecksRepository(dbs);
    const d = await database.prisma.domain.create({ data: { name: 'nul.test' } });
    const evil = { host: 'mx\u0000evil.nul.test', ip: '127.0.0.66' };
    const results = check('nul.test', when(0), [evil, MX1]);
    results[0]!.observations = [{ code: 'MX_MISSING', target: 'nul.test', params: { host: evil.host, u2400: '\u2400 stays' } }];
    const stored = await checks.storeRun({ domainId: d.id, trigger: 'manual', status: 'pass', startedAt: when(0), finishedAt: when(1), results, nextCheckAt: null });
    const [run] = await new MetricsFeedRepository(dbs, checks).runs([stored.id]);
    expect(run).toEqual({ id: stored.id, domainId: d.id, startedAt: when(0), finishedAt: when(1), results: JSON.parse(JSON.stringify(results), (k, v: unknown) => (k === 'startedAt' ? new Date(v as string) : v)) });
  });

  it('should read at the next poll a run whose transaction was open during a read, and a run stored long after it started', async () => {
    const database = await openDb();
    const checks = new ChecksRepository(DatabaseService.over(database));
    const r = replica(database);
    await r.feed.reconcile();
    const shown = async () => sample(await fleet(r.svc), 'mxwatch_last_check_timestamp_seconds');

    // A worker's transaction begun before the feed reads and committed after: not visible to that
    // read, listed by the next one however its start time compares with the reads.
    const slow = await database.prisma.domain.create({ data: { name: 'slow.test' } });
    await database.prisma.$transaction(async (tx) => {
      await tx.checkRun.create({ data: { domainId: slow.id, trigger: 'schedule', status: 'pass', startedAt: when(30), finishedAt: when(31), durationMs: 1 } });
      await r.feed.poll();
      expect(await shown()).toEqual([]);
    });
    await r.feed.poll();
    expect(await shown()).toEqual([`mxwatch_last_check_timestamp_seconds{domain="slow.test"} ${when(31).getTime() / 1000}`]);

    // A run kept by a worker through a database outage, stored hours after its check started:
    // a read by start time with any fixed overlap would leave it to the next reconciliation.
    const kept = await database.prisma.domain.create({ data: { name: 'kept.test' } });
    const hoursAgo = new Date(Date.now() - 5 * 3_600_000);
    await checks.storeRun({ domainId: kept.id, trigger: 'schedule', status: 'pass', startedAt: hoursAgo, finishedAt: new Date(hoursAgo.getTime() + 1000), results: check('kept.test', hoursAgo, [MX1]), nextCheckAt: null });
    await r.feed.poll();
    expect(await shown()).toContain(`mxwatch_last_check_timestamp_seconds{domain="kept.test"} ${(hoursAgo.getTime() + 1000) / 1000}`);
  });

  it('should drop a domain retired on this replica at once, and one re-created under the same name keeps its series', async () => {
    const database = await openDb();
    const checks = new ChecksRepository(DatabaseService.over(database));
    const r = replica(database);
    const first = await database.prisma.domain.create({ data: { name: 'again.test' } });
    await checks.storeRun({ domainId: first.id, trigger: 'manual', status: 'pass', startedAt: when(0), finishedAt: when(1), results: check('again.test', when(0), [MX1]), nextCheckAt: null });
    await r.feed.poll();
    expect(sample(await fleet(r.svc), 'mxwatch_smtp_port_open')).toHaveLength(1);

    await database.prisma.domain.delete({ where: { id: first.id } });
    await r.events.emit('domain.retired', { name: 'again.test', reason: 'deleted' });
    expect((await fleet(r.svc)).filter((l) => l.includes('again.test') || l.includes('mx1.'))).toEqual([]);

    const second = await database.prisma.domain.create({ data: { name: 'again.test' } });
    await checks.storeRun({ domainId: second.id, trigger: 'manual', status: 'pass', startedAt: when(5), finishedAt: when(6), results: check('again.test', when(5), [MX2]), nextCheckAt: null });
    await r.feed.poll();
    await r.feed.reconcile();
    const lines = await fleet(r.svc);
    expect(sample(lines, 'mxwatch_domain_mx_info')).toEqual([`mxwatch_domain_mx_info{domain="again.test",mx="mx2.gamma.test",preference="10"} 1`]);
  });
});
