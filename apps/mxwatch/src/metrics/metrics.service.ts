import { Inject, Injectable, Optional, type OnModuleInit } from '@nestjs/common';
import type { Counter } from 'prom-client';
import { flat } from '../common/kept-values.js';
import type { FleetGauge, SeriesKey } from './fleet-gauge.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.types.js';
import type { ProbeDefinition, SeriesSample } from '../probes/probe-definition.js';
import type { ProbeResult } from '../probes/probe.types.js';
import { PROBES } from '../probes/registry.js';
import { EventBus, type CheckCompletedEvent } from '../runtime/events.js';
import { AppLogger } from '../common/app-logger.js';
import { QUEUE_RECOVERY, QUEUE_STATS, type QueueRecovery, type QueueStats } from '../runtime/queue/queue-tokens.js';
import { rolePlan } from '../runtime/roles.js';
import { DatabaseOutage } from '../runtime/run-buffer.js';
import { ChecksRepository } from '../storage/checks.repository.js';
import { MetricsRepository } from '../storage/metrics.repository.js';
import { type ExpositionSink, renderPrometheusText, writePrometheusText } from './exposition.js';
import { createMetrics, keepRenderedPages, registerProbeMetrics, type Metrics, type ProbeMetric } from './metrics.js';

/**
 * Series as a flat run of pairs: the gauge, then the series' key (the very string the gauge holds
 * as its Map key, so a handle costs one slot and no string of its own; `reuse`).
 */
type SeriesPairs = Array<FleetGauge | SeriesKey>;

/**
 * What a domain's latest check set. Series are held as (gauge, key) pairs and collections are
 * arrays (entities' membership by `mark`), not sets of key strings or objects per series: at
 * 10,000 domains this bookkeeping took more memory than the series themselves. Every array is
 * stored at its exact length (`exact`): an array grown by push keeps room for 16, and at 10,000
 * domains the room alone took 10 MB.
 */
interface DomainSeries {
  /** Probes with a mxwatch_probe_success series. */
  probes: string[];
  /**
   * The domain's own series by probe, flat: each probe's name, then its series as (gauge, key)
   * pairs (`keep` reuses a probe's run of entries; `ownOf` reads it back).
   */
  own: Array<string | FleetGauge>;
  /** The host entities (probe + result target) the domain's latest check mentioned. */
  entities: HostEntity[];
  /** The fleet counts (`DomainCount` keys) this domain adds one to. */
  counted: string[];
}

/** An array at its exact length (an empty one shared), for what is kept until the next check. */
function exact<T>(items: T[]): T[] {
  return items.length === 0 ? NONE : items.slice();
}
const NONE = Object.freeze([]) as unknown as never[];

/** The series (pairs) a domain's previous check set for one probe. */
function ownOf(own: ReadonlyArray<string | FleetGauge>, probe: string): SeriesPairs {
  const out: SeriesPairs = [];
  let inProbe = false;
  for (let i = 0; i < own.length; i++) {
    const x = own[i]!;
    if (typeof x === 'string') inProbe = x === probe;
    else {
      if (inProbe) out.push(x, own[i + 1]!);
      i++;
    }
  }
  return out;
}

/** Where the pair (gauge, key) is in `pairs` (a flat run of pairs, or a domain's `own`), or -1. */
function pairAt(pairs: ReadonlyArray<string | FleetGauge>, gauge: FleetGauge, key: SeriesKey): number {
  for (let i = 0; i < pairs.length - 1; i++) if (pairs[i] === gauge && pairs[i + 1] === key) return i;
  return -1;
}

/**
 * The key string to hold for a series just set: the one held before, when `held` has it. `set`
 * returns a key built anew from the labels; the gauge keeps the string it got first, so holding
 * the new one would keep two copies of every series' text alive.
 */
function reuse(held: ReadonlyArray<string | FleetGauge> | undefined, gauge: FleetGauge, key: SeriesKey): SeriesKey {
  const at = held ? pairAt(held, gauge, key) : -1;
  return at < 0 ? key : (held![at + 1] as SeriesKey);
}

/**
 * Removes from their gauges the series `held` holds (a run of pairs, or a domain's `own`, whose
 * probe names are skipped) that `kept` does not hold; every one of them when `kept` is null.
 */
function removePairs(held: ReadonlyArray<string | FleetGauge>, kept: ReadonlyArray<string | FleetGauge> | null): void {
  for (let i = 0; i < held.length; i++) {
    const gauge = held[i]!;
    if (typeof gauge === 'string') continue;
    const key = held[++i] as SeriesKey;
    if (kept === null || pairAt(kept, gauge, key) < 0) gauge.removeSeries(key);
  }
}

/** Adds the pair unless it is there already. */
function addPair(pairs: SeriesPairs, gauge: FleetGauge, key: SeriesKey): void {
  if (pairAt(pairs, gauge, key) < 0) pairs.push(gauge, key);
}

/** A count of domains in one state (probe passed or failed, an MTA-STS mode, ...) and the series showing it. */
interface DomainCount {
  key: string;
  gauge: FleetGauge;
  labels: Record<string, string>;
  n: number;
  /** The probe whose series this counts, which a `keep` carries over; null for the run's own pass/fail count. */
  keptBy: string | null;
}

interface HostEntity {
  id: string;
  /** Domains whose latest check mentions the entity (events). */
  refs: number;
  /** Its series, as (gauge, key) pairs. */
  series: SeriesPairs;
  mark: number;
  /**
   * Database feed only: the time of each referring domain's result about the entity, and the
   * (time, domain) of the result whose series are shown; `at` is -Infinity once that domain let go.
   */
  cands?: Map<string, number>;
  at: number;
  by: string;
}

/**
 * Where this process's fleet series (per domain, per host, findings, domain counts) come from:
 * `events` from the checks this process runs (the single process: it runs every check);
 * `database` from the runs stored by whichever process ran them (MetricsFeedService), so every
 * replica serving /metrics shows the same series (an `api` replica, or `all` with Redis, where
 * workers run most checks); `none` on a worker, whose /metrics are its own process series only.
 */
export type FleetSource = 'events' | 'database' | 'none';

export function fleetSource(config: Pick<AppConfig, 'role' | 'redisUrl' | 'scheduler'> | undefined): FleetSource {
  const plan = rolePlan({ role: config?.role ?? 'all', redisUrl: config?.redisUrl, scheduler: config?.scheduler ?? true });
  if (plan.http === 'health') return 'none';
  return config?.role === 'api' || plan.checks === 'queue' ? 'database' : 'events';
}

/** A stored run as the database feed applies it. */
export interface FleetRun {
  domain: string;
  startedAt: Date;
  finishedAt: Date;
  results: ProbeResult[];
}

/** BullMQ job states worth a series (no flows here: `waiting-children` is always 0). */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'paused', 'failed', 'completed'] as const;


/** Whether the result (at, domain) replaces the one shown (curAt, curBy): later wins, then the greater name. */
const wins = (at: number, domain: string, curAt: number, curBy: string): boolean => at > curAt || (at === curAt && domain >= curBy);

/**
 * Keeps /metrics in step with checks, generically: each registered probe says which series a result
 * sets. A domain's own series are replaced by its next check. Host series (keyed by host/ip/port
 * or address/zone) belong to the entity a result is about (probe + target): the latest result
 * about it, from whichever domain, replaces its series, and they disappear when no domain's latest
 * check mentions the entity any more (host left every MX set, domain deleted).
 *
 * Fed by this process's `check.completed` events (`events`), or by the stored runs
 * (`database`, `applyRun`). Fed from the database, "latest" is decided by the results' times,
 * not by arrival, so replicas that read the same runs in another order show the same series: a
 * host series is the one from the latest result about it among the domains' applied checks.
 */
@Injectable()
export class MetricsService implements OnModuleInit {
  readonly m: Metrics = createMetrics();
  readonly source: FleetSource;
  private readonly ordered: boolean;
  /** Whether this process runs probes: their process-wide series (`global`) are about this process. */
  private readonly runsChecks: boolean;
  private readonly probeMetrics: Map<string, ProbeMetric>;
  private readonly defs: Map<string, ProbeDefinition>;
  private readonly domains = new Map<string, DomainSeries>();
  private readonly entities = new Map<string, HostEntity>();
  /**
   * Domains per state, kept whatever MXWATCH_METRICS_PER_DOMAIN says: the fleet panels' view of
   * what per-domain series show one by one (mxwatch_probe_success_domains, `domainCount` specs).
   */
  private readonly counts = new Map<string, DomainCount>();
  /** Per-domain metric -> the gauge counting its domains (`MetricSpec.domainCount`). */
  private readonly countOf = new Map<string, FleetGauge>();
  /** When a domain was last deleted or disabled: a check that started before then must not bring its series back. */
  private readonly forgottenAt = new Map<string, number>();
  /** Database feed: domains whose stored run must be applied again (they hold the best remaining result about a host). */
  private readonly reapply = new Set<string>();
  private beforeScrape: ((deadline: number) => Promise<void>) | null = null;
  /** Marks the entities kept by the check being applied (see DomainSeries). */
  private stamp = 0;

  constructor(
    private readonly events: EventBus,
    private readonly repo: MetricsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Optional() private readonly outage?: DatabaseOutage,
    @Optional() @Inject(QUEUE_STATS) private readonly queue?: QueueStats,
    @Optional() private readonly checks?: ChecksRepository,
    @Optional() @Inject(QUEUE_RECOVERY) private readonly recovery?: QueueRecovery,
    @Optional() private readonly logger?: AppLogger,
  ) {
    this.probeMetrics = registerProbeMetrics(this.m.registry, PROBES);
    this.defs = new Map(PROBES.map((p) => [p.name, p]));
    for (const spec of PROBES.flatMap((p) => p.metrics?.specs ?? [])) if (spec.domainCount) this.countOf.set(spec.name, this.probeMetrics.get(spec.domainCount.name) as FleetGauge);
    this.source = fleetSource(config);
    this.ordered = this.source === 'database';
    this.runsChecks = rolePlan({ role: config?.role ?? 'all', redisUrl: config?.redisUrl, scheduler: config?.scheduler ?? true }).checks !== 'none';
    // A worker has no fleet view: a lag it could only read from the database is the api's to show.
    if (this.source === 'none') this.m.registry.removeSingleMetric('mxwatch_scheduler_lag_seconds');
    // A replica that only answers scrapes keeps each page of the fleet's series rendered: at
    // 100,000 domains a scrape rendered 1.36 M series anew, nearly all unchanged since the last
    // one. A process that runs checks keeps its memory.
    if (!this.runsChecks) keepRenderedPages(this.m, this.probeMetrics);
  }

  onModuleInit(): void {
    this.events.on('check.completed', (c) => this.recordCheck(c));
    // From the database, a retired domain is dropped by the feed (which also hears of it from the database).
    if (this.source === 'events') this.events.on('domain.retired', (e) => this.forgetDomain(e.name));
    this.outage?.onDropped((reason) => this.m.checkRunsDropped.inc({ reason }));
    this.checks?.onConflictRetry((reason) => this.m.checkRunsStoreRetries.inc({ reason }));
    this.recovery?.onRecovered((jobs) => this.m.queueJobsRecovered.inc(jobs));
    this.events.on('policy.changed', (e) => {
      for (const c of e.changes) this.m.policyChanges.inc({ kind: c.kind, weakening: String(c.weakening) });
    });
  }

  /** The database feed brings its series up to date before each scrape (bounded by the deadline, ms since the epoch). */
  setBeforeScrape(hook: (deadline: number) => Promise<void>): void {
    this.beforeScrape = hook;
  }

  private get perDomain(): boolean {
    return this.config?.metricsPerDomain !== false;
  }

  /**
   * A check this process ran: the process-wide counters (checks, probe runs and durations, probe
   * counters) always; the fleet series only when they come from this process's events.
   */
  recordCheck(c: Pick<CheckCompletedEvent, 'domain' | 'trigger' | 'results' | 'startedAt' | 'finishedAt' | 'status'>): void {
    const { m } = this;
    m.checkRuns.inc({ trigger: c.trigger, status: c.status });
    m.checkDuration.observe((c.finishedAt.getTime() - c.startedAt.getTime()) / 1000);
    for (const r of c.results) {
      m.probeRuns.inc({ probe: r.probe, status: r.status });
      m.probeDuration.observe({ probe: r.probe }, r.durationMs / 1000);
      for (const inc of this.defs.get(r.probe)?.metrics?.counters?.(r) ?? []) (this.probeMetrics.get(inc.metric) as Counter<string>).inc(inc.labels, inc.by ?? 1);
    }
    if (this.source !== 'events') return;
    const domain = c.domain.name;
    // A disabled domain is not monitored (a manual check of it included): its series would go stale.
    if (!c.domain.enabled) return;
    const forgotten = this.forgottenAt.get(domain);
    if (forgotten !== undefined) {
      if (c.startedAt.getTime() <= forgotten) return;
      this.forgottenAt.delete(domain);
    }
    this.applySeries(domain, c.finishedAt, c.results);
  }

  /**
   * Database feed: a stored run of an enabled domain sets its series (no counters: the process
   * that ran it counted it). The feed decides which run is the domain's latest. Returns the probes
   * whose results said `keep` (their previous series stay).
   */
  applyRun(run: FleetRun): Set<string> {
    return this.applySeries(run.domain, run.finishedAt, run.results);
  }

  /** The probes whose results in this run keep the series of an earlier run (`'keep'`). */
  keepProbes(run: Pick<FleetRun, 'domain' | 'results'>): Set<string> {
    const out = new Set<string>();
    for (const r of run.results) if (this.defs.get(r.probe)?.metrics?.series?.(r, run.domain) === 'keep') out.add(r.probe);
    return out;
  }

  /** Database feed: the domains whose applied run must be applied again (see HostEntity). */
  takeReapply(): Set<string> {
    const out = new Set(this.reapply);
    this.reapply.clear();
    return out;
  }

  /**
   * A probe's series of one result. A result of a shape the probe does not know (stored by an
   * earlier version, or written by hand) keeps the series as they were, said once per probe:
   * one such row must not stop the database feed, which would retry it on every read.
   */
  private seriesOf(series: (r: ProbeResult, domain: string) => SeriesSample[] | 'keep', r: ProbeResult, domain: string): SeriesSample[] | 'keep' {
    try {
      return series(r, domain);
    } catch (e) {
      if (!this.seriesFaults.has(r.probe)) {
        this.seriesFaults.add(r.probe);
        this.logger?.pino.warn({ context: 'Metrics', probe: r.probe, domain, err: (e as Error).message }, "a stored result's series could not be derived (a result of another shape?): that domain's series of this probe stay as they were");
      }
      return 'keep';
    }
  }

  /** Probes whose series failed once (logged once each). */
  private readonly seriesFaults = new Set<string>();

  private applySeries(domain: string, finishedAt: Date, results: ProbeResult[]): Set<string> {
    const { m } = this;
    const keeps = new Set<string>();
    if (this.perDomain) m.lastCheck.set({ domain }, finishedAt.getTime() / 1000);

    const previous = this.domains.get(domain);
    // Built in scratch arrays, then kept at their exact lengths (see DomainSeries).
    const next: DomainSeries = { probes: [], own: [], entities: [], counted: [] };
    const stamp = ++this.stamp;

    const byProbe = new Map<string, ProbeResult[]>();
    for (const r of results) {
      let list = byProbe.get(r.probe);
      if (!list) byProbe.set(r.probe, (list = []));
      list.push(r);
    }
    for (const [probe, rs] of byProbe) {
      const testable = rs.filter((r) => r.status !== 'untestable');
      const counted = next.counted;
      if (testable.length > 0) {
        const failed = testable.some((r) => r.status === 'fail');
        counted.push(this.countKey(m.probeSuccessDomains, { probe, result: failed ? 'fail' : 'pass' }, null));
        if (this.perDomain) {
          m.probeSuccess.set({ domain, probe }, failed ? 0 : 1);
          next.probes.push(probe);
        }
      }
      const def = this.defs.get(probe);
      const series = def?.metrics?.series;
      if (!series) continue;
      const domainScoped = def.scope === 'domain';
      const own: SeriesPairs = [];
      let keep = false;
      for (const r of rs) {
        const samples = this.seriesOf(series, r, domain);
        if (samples === 'keep') {
          keep = true;
          continue;
        }
        const host: SeriesSample[] = [];
        for (const s of samples) {
          const count = s.value === 1 ? this.countOf.get(s.metric) : undefined;
          if (count) {
            const { domain: _, ...rest } = s.labels;
            const key = this.countKey(count, rest, probe);
            if (!counted.includes(key)) counted.push(key);
          }
          if (s.owner === 'host') host.push(s);
          else if (this.perDomain) {
            const gauge = this.gauge(s.metric);
            addPair(own, gauge, reuse(previous?.own, gauge, gauge.set(s.labels, s.value)));
          }
        }
        const id = `${probe}\u0000${r.target}`;
        // A result about the domain itself that sets no host series: only this domain could ever
        // refer to that entity, so there is nothing to track (40,000 empty entities at 10,000 domains).
        if (host.length === 0 && domainScoped && !this.entities.has(id)) continue;
        const entity = this.updateEntity(id, domain, r.startedAt.getTime(), host);
        if (entity.mark !== stamp) next.entities.push(entity);
        entity.mark = stamp;
      }
      if (keep) {
        keeps.add(probe);
        const kept = previous ? ownOf(previous.own, probe) : [];
        for (let i = 0; i < kept.length; i += 2) addPair(own, kept[i] as FleetGauge, kept[i + 1] as SeriesKey);
        // The states it counted in stay with the series that show them (the pass/fail count is this run's).
        for (const key of previous?.counted ?? []) if (this.counts.get(key)?.keptBy === probe && !counted.includes(key)) counted.push(key);
      }
      if (own.length > 0) next.own.push(probe, ...own);
    }
    next.probes = exact(next.probes);
    next.own = exact(next.own);
    next.entities = exact(next.entities);
    next.counted = exact(next.counted);
    this.replace(domain, previous, next, stamp);
    return keeps;
  }

  /** The key of the count of domains with these labels on `gauge` (created at 0; `bump` counts). */
  private countKey(gauge: FleetGauge, labels: Record<string, string>, keptBy: string | null): string {
    let key = gauge.name;
    for (const name of gauge.labelNames) key += `\u0000${labels[name] ?? ''}`;
    const known = this.counts.get(key);
    if (known) return known.key;
    this.counts.set(key, { key, gauge, labels, n: 0, keptBy });
    return key;
  }

  private bump(key: string, by: 1 | -1): void {
    const c = this.counts.get(key);
    if (!c) return;
    c.n += by;
    if (c.n > 0) c.gauge.set(c.labels, c.n);
    else {
      c.gauge.remove(c.labels);
      this.counts.delete(key);
    }
  }

  private gauge(metric: string): FleetGauge {
    return this.probeMetrics.get(metric) as FleetGauge;
  }

  /**
   * The latest result about a host entity replaces its series, whichever domain it came from:
   * the latest to arrive (events), or the latest by its time (database feed).
   */
  private updateEntity(id: string, domain: string, at: number, samples: SeriesSample[]): HostEntity {
    let entity = this.entities.get(id);
    // Kept as the entity's id and the Map's key: flat (`flat`).
    if (!entity) this.entities.set(flat(id), (entity = { id, refs: 0, series: NONE, mark: 0, at: -Infinity, by: '', ...(this.ordered ? { cands: new Map<string, number>() } : {}) }));
    if (entity.cands) {
      entity.cands.set(domain, at);
      // The domain whose result is shown may now bring an older one: then the best is found again.
      if (!wins(at, domain, entity.at, entity.by) && (entity.by !== domain || this.orphan(entity, domain) !== domain)) return entity;
    }
    if (this.showsAlready(entity, samples)) {
      // The same series with the same values (a provider's MX, asked about by every domain on it):
      // nothing to build or look up again.
      entity.at = at;
      entity.by = domain;
      return entity;
    }
    const series: SeriesPairs = [];
    for (const s of samples) {
      const gauge = this.gauge(s.metric);
      addPair(series, gauge, reuse(entity.series, gauge, gauge.set(s.labels, s.value)));
    }
    removePairs(entity.series, series);
    entity.series = exact(series);
    entity.at = at;
    entity.by = domain;
    return entity;
  }

  /**
   * Whether the entity's series are exactly these samples, in order, and still in their gauges:
   * compared without building a label text or a key (FleetGauge.shows).
   */
  private showsAlready(entity: HostEntity, samples: SeriesSample[]): boolean {
    const held = entity.series;
    if (held.length !== 2 * samples.length) return false;
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i]!;
      const gauge = held[2 * i] as FleetGauge;
      const key = held[2 * i + 1] as SeriesKey;
      if (gauge !== this.probeMetrics.get(s.metric) || gauge.valueOf(key) !== s.value || !gauge.shows(key, s.labels)) return false;
    }
    return true;
  }

  /**
   * The result shown is no longer one a domain holds: the domain with the best remaining one
   * applies its run again (unless it is `applying`, which sets its series right away). Returns it.
   */
  private orphan(entity: HostEntity, applying?: string): string | null {
    let best: string | null = null;
    let bestAt = -Infinity;
    for (const [d, at] of entity.cands!) {
      if (best === null || wins(at, d, bestAt, best)) {
        best = d;
        bestAt = at;
      }
    }
    entity.at = -Infinity;
    entity.by = '';
    if (best !== null && best !== applying) this.reapply.add(best);
    return best;
  }

  /** Swaps a domain's old series for its new ones, dropping host series nobody mentions any more. */
  private replace(domain: string, previous: DomainSeries | undefined, next: DomainSeries, stamp: number): void {
    if (!this.ordered) for (const entity of next.entities) entity.refs++;
    // Counted in before `release` counts the previous states out, so a state kept is never at 0.
    for (const key of next.counted) this.bump(key, 1);
    if (previous) this.release(domain, previous, next, stamp);
    this.domains.set(domain, next);
  }

  /** Drops what `previous` set and `next` (its entities marked with `stamp`) does not set again. */
  private release(domain: string, previous: DomainSeries, next: DomainSeries | null, stamp: number): void {
    for (const probe of previous.probes) if (!next?.probes.includes(probe)) this.m.probeSuccess.remove({ domain, probe });
    for (const key of previous.counted) this.bump(key, -1);
    removePairs(previous.own, next?.own ?? null);
    for (const entity of previous.entities) {
      if (entity.cands) {
        if (entity.mark === stamp) continue;
        entity.cands.delete(domain);
        if (entity.cands.size === 0) this.dropEntity(entity);
        else if (entity.by === domain) this.orphan(entity);
        continue;
      }
      entity.refs--;
      if (entity.refs <= 0) this.dropEntity(entity);
    }
  }

  private dropEntity(entity: HostEntity): void {
    removePairs(entity.series, null);
    this.entities.delete(entity.id);
  }

  /** A domain deleted or disabled in this process (events): a check already running must not bring it back. */
  forgetDomain(domain: string): void {
    const now = Date.now();
    // No check outlives MXWATCH_CHECK_TIMEOUT (at most 600 s): older marks can no longer matter.
    for (const [name, at] of this.forgottenAt) if (now - at > 3_600_000) this.forgottenAt.delete(name);
    this.forgottenAt.set(domain, now);
    this.dropDomain(domain);
  }

  /** Drops a domain's series (the database feed decides from the database what is still monitored). */
  dropDomain(domain: string): void {
    const previous = this.domains.get(domain);
    if (previous) this.release(domain, previous, null, ++this.stamp);
    this.domains.delete(domain);
    this.m.lastCheck.remove({ domain });
  }

  /** The domains whose series are shown, for the feed's bookkeeping and tests. */
  shownDomains(): string[] {
    return [...this.domains.keys()];
  }

  /** The whole scrape as one buffer (tests); the controller streams it (`scrapeTo`). */
  async scrape(): Promise<{ contentType: string; body: Buffer }> {
    const contentType = await this.prepareScrape();
    return { contentType, body: await renderPrometheusText(this.m.registry) };
  }

  /**
   * Brings the fleet facts up to date, then writes the exposition to `sink` in chunks once
   * `start` has been told the content type (the response's headers go out before its body).
   */
  async scrapeTo(start: (contentType: string) => void, sink: ExpositionSink): Promise<void> {
    start(await this.prepareScrape());
    await writePrometheusText(this.m.registry, sink);
  }

  /**
   * Sets the series read at scrape time (findings, domain counts, lag, queue, probes' process-wide
   * series); returns the content type. Facts that live in the database are read at scrape time, so
   * they are right after a restart too; the database feed catches up, and the queue's job counts
   * are read from Redis, in parallel.
   */
  private async prepareScrape(): Promise<string> {
    const now = new Date();
    const { m } = this;
    const [facts] = await Promise.all([
      // During a database outage the scrape still answers (process metrics, what checks did,
      // mxwatch_check_runs_dropped_total): the facts keep their last values, mxwatch_database_up says so.
      this.source === 'none'
        ? null
        : this.repo.scrapeFacts(now).catch((e: unknown) => {
            if (this.outage?.failed(e, 'Metrics')) return null;
            throw e;
          }),
      this.beforeScrape?.(now.getTime() + 2_000),
      this.readQueue(),
    ]);
    if (facts) {
      m.findingsOpen.reset();
      for (const f of facts.findingsBySeverityCode) m.findingsOpen.set({ severity: f.severity, code: f.code }, f.count);
      m.domainFindingsOpen.reset();
      if (this.perDomain) for (const f of facts.findingsByDomainSeverity) m.domainFindingsOpen.set({ domain: f.domain, severity: f.severity }, f.count);
      m.domains.set({ state: 'enabled' }, facts.domains.enabled);
      m.domains.set({ state: 'disabled' }, facts.domains.disabled);
      const lag = facts.mostOverdue ? Math.max(0, (now.getTime() - facts.mostOverdue.getTime()) / 1000) : 0;
      // Fed from the database the lag is the fleet's, whoever schedules; a lone process without a scheduler has none.
      m.schedulerLag.set(this.config.scheduler || this.source === 'database' ? lag : 0);
    }
    if (this.runsChecks) for (const def of this.defs.values()) for (const s of def.metrics?.global?.() ?? []) this.gauge(s.metric).set(s.labels, s.value);
    m.databaseUp.set(this.outage?.down ? 0 : 1);
    return m.registry.contentType;
  }

  /** The shared queue's job counts: absent, not stale, when Redis does not answer within a second. */
  private async readQueue(): Promise<void> {
    if (!this.queue) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      const counts = await Promise.race([
        this.queue.getJobCounts(...QUEUE_STATES),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), 1_000))),
      ]);
      this.m.queueJobs.reset();
      for (const state of QUEUE_STATES) this.m.queueJobs.set({ state }, counts[state] ?? 0);
    } catch {
      this.m.queueJobs.reset();
    } finally {
      clearTimeout(timer);
    }
  }
}
