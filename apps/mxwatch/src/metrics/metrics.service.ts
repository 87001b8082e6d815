import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { CheckRunner, type CompletedCheck } from '../runtime/check-runner.service.js';
import { ProbeRuntime } from '../runtime/probe-runtime.service.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.types.js';
import { DatabaseService } from '../database/database.service.js';
import { DomainEvents } from '../runtime/domain-events.js';
import type { ProbeName, ProbeResult } from '../probes/probe.types.js';
import { createMetrics, type Metrics } from './metrics.js';
import { renderPrometheusText } from './exposition.js';

interface DomainSeries {
  mxInfo: Array<{ mx: string; preference: string }>;
  endpoints: Set<string>;
  dnsbl: Set<string>;
  probes: Set<ProbeName>;
}

type EndpointLabels = { host: string; ip: string; port: string };

/**
 * Keeps the metrics in step with checks. Per-host and per-listing series are shared by every
 * domain that points at them and are reference-counted: they disappear when no domain's latest
 * check mentions them any more (host left every MX set, domain deleted).
 */
@Injectable()
export class MetricsService implements OnModuleInit {
  readonly m: Metrics = createMetrics();
  private readonly domains = new Map<string, DomainSeries>();
  private readonly endpointRefs = new Map<string, number>();
  private readonly dnsblRefs = new Map<string, number>();
  private readonly tlsVersions = new Map<string, string>();
  /** When a domain was last deleted or disabled: a check that started before then must not bring its series back. */
  private readonly forgottenAt = new Map<string, number>();

  constructor(
    private readonly runner: CheckRunner,
    private readonly events: DomainEvents,
    private readonly db: DatabaseService,
    private readonly runtime: ProbeRuntime,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.runner.onCompleted((c) => this.recordCheck(c));
    this.events.onDeleted((name) => this.forgetDomain(name));
  }

  recordCheck(c: CompletedCheck): void {
    const { m } = this;
    const domain = c.domain.name;
    const results = c.outcome.results;
    m.checkRuns.inc({ trigger: c.trigger, status: c.status });
    m.checkDuration.observe((c.finishedAt.getTime() - c.startedAt.getTime()) / 1000);
    for (const r of results) {
      m.probeRuns.inc({ probe: r.probe, status: r.status });
      m.probeDuration.observe({ probe: r.probe }, r.durationMs / 1000);
    }
    // A disabled domain is not monitored (a manual check of it included): its series would go stale.
    if (!c.domain.enabled) return;
    const forgotten = this.forgottenAt.get(domain);
    if (forgotten !== undefined) {
      if (c.startedAt.getTime() <= forgotten) return;
      this.forgottenAt.delete(domain);
    }
    m.lastCheck.set({ domain }, c.finishedAt.getTime() / 1000);

    const previous = this.domains.get(domain);
    const next: DomainSeries = { mxInfo: [], endpoints: new Set(), dnsbl: new Set(), probes: new Set() };

    const byProbe = new Map<ProbeName, ProbeResult[]>();
    for (const r of results) byProbe.set(r.probe, [...(byProbe.get(r.probe) ?? []), r]);
    for (const [probe, rs] of byProbe) {
      const testable = rs.filter((r) => r.status !== 'untestable');
      if (testable.length === 0) continue;
      m.probeSuccess.set({ domain, probe }, testable.some((r) => r.status === 'fail') ? 0 : 1);
      next.probes.add(probe);
    }

    const mx = c.outcome.mx;
    if (mx.status !== 'untestable') {
      m.mxRecords.set({ domain }, mx.details.implicit || mx.details.nullMx ? 0 : mx.details.hosts.length);
      for (const h of mx.details.implicit ? [] : mx.details.hosts) {
        const labels = { mx: h.host, preference: String(h.preference) };
        next.mxInfo.push(labels);
        m.domainMxInfo.set({ domain, ...labels }, 1);
      }
    } else if (previous) {
      next.mxInfo = previous.mxInfo;
    }

    const tlsTested = new Set<string>();
    for (const r of results) {
      if (r.probe === 'smtp') this.recordSmtp(r, next);
      else if (r.probe === 'starttls') tlsTested.add(this.recordStarttls(r, next));
      else if (r.probe === 'dnsbl') this.recordDnsbl(r, next);
    }
    // A session that never reached TLS (port closed, tarpit) says nothing about it: earlier TLS
    // facts would go stale and keep certificate and protocol alerts firing.
    for (const key of next.endpoints) if (!tlsTested.has(key)) this.clearTls(key);
    this.replace(domain, previous, next);
  }

  private recordSmtp(r: ProbeResult, next: DomainSeries): void {
    const d = r.details as { host: string; ip: string; port: number; open: boolean };
    const labels = endpointLabels(d);
    const key = JSON.stringify(labels);
    next.endpoints.add(key);
    if (r.status === 'untestable' && !d.open) this.m.smtpPortOpen.remove(labels);
    else this.m.smtpPortOpen.set(labels, d.open ? 1 : 0);
  }

  private recordStarttls(r: ProbeResult, next: DomainSeries): string {
    const d = r.details as { host: string; ip: string; port: number; offered: boolean; handshakeOk: boolean; tlsVersion: string | null; cert: { notAfter: string } | null };
    const labels = endpointLabels(d);
    const key = JSON.stringify(labels);
    next.endpoints.add(key);
    if (r.status === 'untestable') {
      this.m.starttlsSupported.remove(labels);
    } else {
      this.m.starttlsSupported.set(labels, d.offered && d.handshakeOk ? 1 : 0);
    }
    if (d.cert?.notAfter) this.m.certNotAfter.set(labels, Date.parse(d.cert.notAfter) / 1000);
    else this.m.certNotAfter.remove(labels);
    const oldVersion = this.tlsVersions.get(key);
    if (oldVersion && oldVersion !== d.tlsVersion) this.m.tlsVersionInfo.remove({ ...labels, version: oldVersion });
    if (d.tlsVersion) {
      this.m.tlsVersionInfo.set({ ...labels, version: d.tlsVersion }, 1);
      this.tlsVersions.set(key, d.tlsVersion);
    } else {
      this.tlsVersions.delete(key);
    }
    return key;
  }

  private recordDnsbl(r: ProbeResult, next: DomainSeries): void {
    const d = r.details as { subject: string; zone: string; state: 'listed' | 'clean' | 'error'; errorReason?: string | null };
    const labels = { ip: d.subject, zone: d.zone };
    next.dnsbl.add(JSON.stringify(labels));
    if (d.state === 'listed') this.m.dnsblListed.set(labels, 1);
    else if (d.state === 'clean') this.m.dnsblListed.set(labels, 0);
    else {
      this.m.dnsblListed.remove(labels);
      // The list's own machine reason (query_refused_by_list, timeout, ...): what the README and alert rules select on.
      this.m.dnsblErrors.inc({ zone: d.zone, reason: d.errorReason ?? r.reason ?? 'error' });
    }
  }

  /** Swaps a domain's old series for its new ones, dropping shared series nobody references any more. */
  private replace(domain: string, previous: DomainSeries | undefined, next: DomainSeries): void {
    for (const key of next.endpoints) this.endpointRefs.set(key, (this.endpointRefs.get(key) ?? 0) + 1);
    for (const key of next.dnsbl) this.dnsblRefs.set(key, (this.dnsblRefs.get(key) ?? 0) + 1);
    if (previous) this.release(domain, previous, next);
    this.domains.set(domain, next);
  }

  private release(domain: string, previous: DomainSeries, next: DomainSeries | null): void {
    for (const labels of previous.mxInfo) {
      if (!next?.mxInfo.some((l) => l.mx === labels.mx && l.preference === labels.preference)) this.m.domainMxInfo.remove({ domain, ...labels });
    }
    for (const probe of previous.probes) if (!next?.probes.has(probe)) this.m.probeSuccess.remove({ domain, probe });
    for (const key of previous.endpoints) {
      const n = (this.endpointRefs.get(key) ?? 1) - 1;
      if (n > 0) {
        this.endpointRefs.set(key, n);
        continue;
      }
      this.endpointRefs.delete(key);
      this.m.smtpPortOpen.remove(JSON.parse(key) as EndpointLabels);
      this.clearTls(key);
    }
    for (const key of previous.dnsbl) {
      const n = (this.dnsblRefs.get(key) ?? 1) - 1;
      if (n > 0) {
        this.dnsblRefs.set(key, n);
        continue;
      }
      this.dnsblRefs.delete(key);
      this.m.dnsblListed.remove(JSON.parse(key) as { ip: string; zone: string });
    }
  }

  private clearTls(key: string): void {
    const labels = JSON.parse(key) as EndpointLabels;
    this.m.starttlsSupported.remove(labels);
    this.m.certNotAfter.remove(labels);
    const v = this.tlsVersions.get(key);
    if (v) this.m.tlsVersionInfo.remove({ ...labels, version: v });
    this.tlsVersions.delete(key);
  }

  forgetDomain(domain: string): void {
    const now = Date.now();
    // No check outlives MXWATCH_CHECK_TIMEOUT (at most 600 s): older marks can no longer matter.
    for (const [name, at] of this.forgottenAt) if (now - at > 3_600_000) this.forgottenAt.delete(name);
    this.forgottenAt.set(domain, now);
    const previous = this.domains.get(domain);
    if (previous) this.release(domain, previous, null);
    this.domains.delete(domain);
    this.m.lastCheck.remove({ domain });
    this.m.mxRecords.remove({ domain });
  }

  /** Facts that live in the database are read at scrape time, so they are right after a restart too. */
  async scrape(): Promise<{ contentType: string; body: Buffer }> {
    const prisma = this.db.prisma;
    const [findings, byDomain, domainStates, overdue] = await Promise.all([
      prisma.finding.groupBy({ by: ['severity', 'code'], where: { status: 'open' }, _count: { _all: true } }),
      prisma.finding.groupBy({ by: ['domainId', 'severity'], where: { status: 'open' }, _count: { _all: true } }),
      prisma.domain.groupBy({ by: ['enabled'], _count: { _all: true } }),
      prisma.domain.findFirst({ where: { enabled: true, nextCheckAt: { lt: new Date() } }, orderBy: { nextCheckAt: 'asc' }, select: { nextCheckAt: true } }),
    ]);
    const names = new Map((await prisma.domain.findMany({ where: { id: { in: [...new Set(byDomain.map((f) => f.domainId))] } }, select: { id: true, name: true } })).map((d) => [d.id, d.name]));
    const { m } = this;
    m.findingsOpen.reset();
    for (const f of findings) m.findingsOpen.set({ severity: f.severity, code: f.code }, f._count._all);
    m.domainFindingsOpen.reset();
    for (const f of byDomain) {
      const name = names.get(f.domainId);
      if (name) m.domainFindingsOpen.set({ domain: name, severity: f.severity }, f._count._all);
    }
    m.domains.set({ state: 'enabled' }, domainStates.find((d) => d.enabled)?._count._all ?? 0);
    m.domains.set({ state: 'disabled' }, domainStates.find((d) => !d.enabled)?._count._all ?? 0);
    const lag = overdue?.nextCheckAt ? Math.max(0, (Date.now() - overdue.nextCheckAt.getTime()) / 1000) : 0;
    m.schedulerLag.set(this.config.scheduler ? lag : 0);
    m.outboundBlocked.set(this.runtime.outbound.blocked ? 1 : 0);
    return { contentType: m.registry.contentType, body: await renderPrometheusText(m.registry) };
  }
}

function endpointLabels(d: { host: string; ip: string; port: number }): EndpointLabels {
  return { host: d.host, ip: d.ip, port: String(d.port) };
}
