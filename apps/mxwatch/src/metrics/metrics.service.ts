import { Inject, Injectable, Optional, type OnModuleInit } from '@nestjs/common';
import type { Counter } from 'prom-client';
import type { FleetGauge } from './fleet-gauge.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.types.js';
import type { ProbeDefinition, SeriesSample } from '../probes/probe-definition.js';
import type { ProbeResult } from '../probes/probe.types.js';
import { PROBES } from '../probes/registry.js';
import { EventBus, type CheckCompletedEvent } from '../runtime/events.js';
import { DatabaseOutage } from '../runtime/run-buffer.js';
import { MetricsRepository } from '../storage/metrics.repository.js';
import { renderPrometheusText } from './exposition.js';
import { createMetrics, registerProbeMetrics, type Metrics, type ProbeMetric } from './metrics.js';

/** `metric \0 JSON(labels)`: one series. */
type SeriesKey = string;

interface DomainSeries {
  probes: Set<string>;
  /** The domain's own series, by probe (`keep` reuses a probe's entry). */
  own: Map<string, Set<SeriesKey>>;
  /** The host entities (probe + result target) the domain's latest check mentioned. */
  entities: Set<string>;
}

interface HostEntity {
  refs: number;
  keys: Set<SeriesKey>;
}

const seriesKey = (s: { metric: string; labels: Record<string, string> }): SeriesKey => `${s.metric}\u0000${JSON.stringify(s.labels)}`;
const parseKey = (key: SeriesKey): { metric: string; labels: Record<string, string> } => {
  const i = key.indexOf('\u0000');
  return { metric: key.slice(0, i), labels: JSON.parse(key.slice(i + 1)) as Record<string, string> };
};

/**
 * Keeps /metrics in step with checks, generically: each registered probe says which series a result
 * sets. A domain's own series are replaced by its next check. Host series (keyed by host/ip/port
 * or address/zone) belong to the entity a result is about (probe + target): the latest result
 * about it, from whichever domain, replaces its series, and they disappear when no domain's latest
 * check mentions the entity any more (host left every MX set, domain deleted).
 */
@Injectable()
export class MetricsService implements OnModuleInit {
  readonly m: Metrics = createMetrics();
  private readonly probeMetrics: Map<string, ProbeMetric>;
  private readonly defs: Map<string, ProbeDefinition>;
  private readonly domains = new Map<string, DomainSeries>();
  private readonly entities = new Map<string, HostEntity>();
  /** When a domain was last deleted or disabled: a check that started before then must not bring its series back. */
  private readonly forgottenAt = new Map<string, number>();

  constructor(
    private readonly events: EventBus,
    private readonly repo: MetricsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Optional() private readonly outage?: DatabaseOutage,
  ) {
    this.probeMetrics = registerProbeMetrics(this.m.registry, PROBES);
    this.defs = new Map(PROBES.map((p) => [p.name, p]));
  }

  onModuleInit(): void {
    this.events.on('check.completed', (c) => this.recordCheck(c));
    this.events.on('domain.retired', (e) => this.forgetDomain(e.name));
    this.outage?.onDropped((reason) => this.m.checkRunsDropped.inc({ reason }));
    this.events.on('policy.changed', (e) => {
      for (const c of e.changes) this.m.policyChanges.inc({ kind: c.kind, weakening: String(c.weakening) });
    });
  }

  private get perDomain(): boolean {
    return this.config?.metricsPerDomain !== false;
  }

  recordCheck(c: Pick<CheckCompletedEvent, 'domain' | 'trigger' | 'results' | 'startedAt' | 'finishedAt' | 'status'>): void {
    const { m } = this;
    const domain = c.domain.name;
    const results = c.results;
    m.checkRuns.inc({ trigger: c.trigger, status: c.status });
    m.checkDuration.observe((c.finishedAt.getTime() - c.startedAt.getTime()) / 1000);
    for (const r of results) {
      m.probeRuns.inc({ probe: r.probe, status: r.status });
      m.probeDuration.observe({ probe: r.probe }, r.durationMs / 1000);
      for (const inc of this.defs.get(r.probe)?.metrics?.counters?.(r) ?? []) (this.probeMetrics.get(inc.metric) as Counter<string>).inc(inc.labels, inc.by ?? 1);
    }
    // A disabled domain is not monitored (a manual check of it included): its series would go stale.
    if (!c.domain.enabled) return;
    const forgotten = this.forgottenAt.get(domain);
    if (forgotten !== undefined) {
      if (c.startedAt.getTime() <= forgotten) return;
      this.forgottenAt.delete(domain);
    }
    if (this.perDomain) m.lastCheck.set({ domain }, c.finishedAt.getTime() / 1000);

    const previous = this.domains.get(domain);
    const next: DomainSeries = { probes: new Set(), own: new Map(), entities: new Set() };

    const byProbe = new Map<string, ProbeResult[]>();
    for (const r of results) {
      let list = byProbe.get(r.probe);
      if (!list) byProbe.set(r.probe, (list = []));
      list.push(r);
    }
    for (const [probe, rs] of byProbe) {
      const testable = rs.filter((r) => r.status !== 'untestable');
      if (testable.length > 0 && this.perDomain) {
        m.probeSuccess.set({ domain, probe }, testable.some((r) => r.status === 'fail') ? 0 : 1);
        next.probes.add(probe);
      }
      const series = this.defs.get(probe)?.metrics?.series;
      if (!series) continue;
      const own = new Set<SeriesKey>();
      let keep = false;
      for (const r of rs) {
        const samples = series(r, domain);
        if (samples === 'keep') {
          keep = true;
          continue;
        }
        const host: SeriesSample[] = [];
        for (const s of samples) {
          if (s.owner === 'host') host.push(s);
          else if (this.perDomain) {
            this.set(s);
            own.add(seriesKey(s));
          }
        }
        this.updateEntity(`${probe}\u0000${r.target}`, host);
        next.entities.add(`${probe}\u0000${r.target}`);
      }
      const kept = keep ? previous?.own.get(probe) : undefined;
      next.own.set(probe, kept ? new Set([...kept, ...own]) : own);
    }
    this.replace(domain, previous, next);
  }

  private set(s: SeriesSample): void {
    (this.probeMetrics.get(s.metric) as FleetGauge).set(s.labels, s.value);
  }

  private remove(key: SeriesKey): void {
    const { metric, labels } = parseKey(key);
    this.probeMetrics.get(metric)?.remove(labels);
  }

  /** The latest result about a host entity replaces its series, whichever domain it came from. */
  private updateEntity(id: string, samples: SeriesSample[]): void {
    let entity = this.entities.get(id);
    if (!entity) this.entities.set(id, (entity = { refs: 0, keys: new Set() }));
    const keys = new Set(samples.map(seriesKey));
    for (const old of entity.keys) if (!keys.has(old)) this.remove(old);
    for (const s of samples) this.set(s);
    entity.keys = keys;
  }

  /** Swaps a domain's old series for its new ones, dropping host series nobody mentions any more. */
  private replace(domain: string, previous: DomainSeries | undefined, next: DomainSeries): void {
    for (const id of next.entities) this.entities.get(id)!.refs++;
    if (previous) this.release(domain, previous, next);
    this.domains.set(domain, next);
  }

  private release(domain: string, previous: DomainSeries, next: DomainSeries | null): void {
    for (const probe of previous.probes) if (!next?.probes.has(probe)) this.m.probeSuccess.remove({ domain, probe });
    for (const [probe, keys] of previous.own) {
      const now = next?.own.get(probe);
      for (const key of keys) if (!now?.has(key)) this.remove(key);
    }
    for (const id of previous.entities) {
      const entity = this.entities.get(id);
      if (!entity) continue;
      entity.refs--;
      if (entity.refs <= 0) this.dropEntity(id);
    }
  }

  private dropEntity(id: string): void {
    const entity = this.entities.get(id);
    if (!entity) return;
    for (const key of entity.keys) this.remove(key);
    this.entities.delete(id);
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
  }

  /** Facts that live in the database are read at scrape time, so they are right after a restart too. */
  async scrape(): Promise<{ contentType: string; body: Buffer }> {
    const now = new Date();
    const facts = await this.repo.scrapeFacts(now);
    const { m } = this;
    m.findingsOpen.reset();
    for (const f of facts.findingsBySeverityCode) m.findingsOpen.set({ severity: f.severity, code: f.code }, f.count);
    m.domainFindingsOpen.reset();
    if (this.perDomain) for (const f of facts.findingsByDomainSeverity) m.domainFindingsOpen.set({ domain: f.domain, severity: f.severity }, f.count);
    m.domains.set({ state: 'enabled' }, facts.domains.enabled);
    m.domains.set({ state: 'disabled' }, facts.domains.disabled);
    const lag = facts.mostOverdue ? Math.max(0, (now.getTime() - facts.mostOverdue.getTime()) / 1000) : 0;
    m.schedulerLag.set(this.config.scheduler ? lag : 0);
    for (const def of this.defs.values()) for (const s of def.metrics?.global?.() ?? []) this.set(s);
    return { contentType: m.registry.contentType, body: await renderPrometheusText(m.registry) };
  }
}
