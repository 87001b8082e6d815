import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AppLogger } from '../common/app-logger.js';
import { EventBus } from '../runtime/events.js';
import { MetricsFeedRepository, type StoredRun } from '../storage/metrics-feed.repository.js';
import { MetricsService } from './metrics.service.js';

/** Timings of the database feed; tests shorten them. */
export interface MetricsFeedOptions {
  /** How often runs stored since the last read are read (besides before every scrape). */
  pollMs: number;
  /** How often the whole picture is checked against the database: every enabled domain's latest run, deleted and disabled domains. */
  reconcileMs: number;
  /** Runs read with their results at once. */
  batch: number;
  /** Runs listed by one read at most; beyond it the feed reconciles instead. */
  pollLimit: number;
  /** Earlier runs of a domain read at most to find what its latest run's `keep` keeps. */
  lookBack: number;
}

export const METRICS_FEED_OPTIONS = Symbol('METRICS_FEED_OPTIONS');

/**
 * A read at rest is two index lookups (the read point, then nothing stored since), so the feed
 * reads every second: a scrape during a cycle then waits for a second's runs, not five seconds'.
 */
export function defaultFeedOptions(): MetricsFeedOptions {
  return { pollMs: 1_000, reconcileMs: 60_000, batch: 200, pollLimit: 50_000, lookBack: 24 };
}

/** A run's place in a domain's history: startedAt, then id (what "latest" means everywhere here). */
interface Order {
  at: number;
  id: string;
}

const NONE: Order = { at: -Infinity, id: '' };
const cmp = (a: Order, b: Order): number => (a.at !== b.at ? (a.at < b.at ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const orderOf = (r: { id: string; startedAt: Date }): Order => ({ at: r.startedAt.getTime(), id: r.id });

interface Applied {
  name: string;
  run: Order;
  /** Probes whose results in the applied run kept earlier series (`keep`). */
  keeps: Set<string>;
  /** For each probe of the applied run, the run whose series for it are shown. */
  base: Map<string, Order>;
}

interface Head {
  id: string;
  domainId: string;
  domain: string;
  startedAt: Date;
}

/**
 * Fleet series from shared state, for a process that does not run (all) the checks itself
 * (MetricsService.source `database`: an `api` replica, or `all` with Redis). At start, and then
 * every `reconcileMs`, every enabled domain's latest stored run is applied and the series of
 * deleted and disabled domains dropped; in between, the runs stored since the last read (by
 * transaction id, so runs committed late are not missed) are applied every `pollMs` and before
 * every scrape.
 *
 * Every replica ends up with the same series for the same database: a domain shows its latest
 * run by (startedAt, id), never an older one that committed late; a late run that a `keep` of
 * the latest run would have kept from is applied under it again; host series are decided by the
 * results' times (MetricsService); a domain seen for the first time whose latest run keeps earlier
 * series is applied with the runs before it that those series come from (at most `lookBack`).
 */
@Injectable()
export class MetricsFeedService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly options: MetricsFeedOptions;
  private readonly applied = new Map<string, Applied>();
  private readonly idByName = new Map<string, string>();
  /** Runs already looked at, by the transaction that stored them: a later read that lists them again skips them. */
  private readonly seen = new Map<string, bigint>();
  /** Where the next read starts (a transaction id: MetricsFeedRepository.readPoint, runsStoredSince); null until the first reconciliation succeeded. */
  private pollFrom: bigint | null = null;
  private chain: Promise<void> = Promise.resolve();
  /** The one task queued and not yet started: later requests join it. */
  private pending: { kind: 'poll' | 'reconcile'; promise: Promise<void> } | null = null;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private failing = false;

  constructor(
    private readonly metrics: MetricsService,
    private readonly repo: MetricsFeedRepository,
    private readonly events: EventBus,
    @Optional() private readonly logger?: AppLogger,
    @Optional() @Inject(METRICS_FEED_OPTIONS) options?: Partial<MetricsFeedOptions>,
  ) {
    this.options = { ...defaultFeedOptions(), ...options };
  }

  onApplicationBootstrap(): void {
    if (this.metrics.source !== 'database') return;
    this.events.on('domain.retired', (e) => {
      // Gone at once here; the reconciliation that follows settles a run read just before.
      const id = this.idByName.get(e.name);
      if (id) this.forget(id);
      else this.metrics.dropDomain(e.name);
      void this.schedule('reconcile').catch(() => undefined);
    });
    this.metrics.setBeforeScrape((deadline) => this.beforeScrape(deadline));
    void this.schedule('reconcile').catch(() => undefined);
    this.timers.push(setInterval(() => void this.schedule('poll').catch(() => undefined), this.options.pollMs).unref());
    this.timers.push(setInterval(() => void this.schedule('reconcile').catch(() => undefined), this.options.reconcileMs).unref());
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  /** Reads what was stored since the last read (a reconciliation until the first one succeeded). */
  poll(): Promise<void> {
    return this.schedule('poll');
  }

  /** Checks every enabled domain's latest run and drops what is no longer monitored. */
  reconcile(): Promise<void> {
    return this.schedule('reconcile');
  }

  /** Up to date before a scrape as far as the deadline allows; a slow database leaves the series as they were. */
  private async beforeScrape(deadline: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.schedule('poll').catch(() => undefined),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now())))),
    ]);
    clearTimeout(timer);
  }

  /** One task at a time; a request while one is queued joins it (a reconciliation does what a read does). */
  private schedule(kind: 'poll' | 'reconcile'): Promise<void> {
    if (this.pending) {
      if (kind === 'reconcile') this.pending.kind = 'reconcile';
      return this.pending.promise;
    }
    const task: { kind: 'poll' | 'reconcile'; promise: Promise<void> } = { kind, promise: Promise.resolve() };
    task.promise = this.chain.then(async () => {
      if (this.pending === task) this.pending = null;
      if (this.stopped) return;
      try {
        await (task.kind === 'reconcile' || this.pollFrom === null ? this.reconcileNow() : this.pollNow());
        if (this.failing) this.logger?.pino.info({ context: 'MetricsFeed' }, 'metrics feed reads the database again');
        this.failing = false;
      } catch (e) {
        if (!this.failing && !this.stopped) {
          // A fault of the feed itself (a TypeError or RangeError, never the database's) comes with its stack: a bug to report.
          const fault = e instanceof TypeError || e instanceof RangeError ? { stack: e.stack } : {};
          this.logger?.pino.warn({ context: 'MetricsFeed', err: (e as Error).message, ...fault }, 'metrics feed cannot read the database: fleet series stay as they are until it can');
        }
        this.failing = true;
        throw e;
      }
    });
    this.chain = task.promise.catch(() => undefined);
    this.pending = task;
    return task.promise;
  }

  /**
   * Reads the runs stored since the last read: those of transactions from the last read point on
   * (the oldest transaction running at the time), so a run that took long to commit is not
   * missed and one read at rest lists only what came since (or is still being stored).
   */
  private async pollNow(): Promise<void> {
    const from = this.pollFrom!;
    const { heads, next } = await this.repo.runsStoredSince(from, this.options.pollLimit);
    if (heads.length >= this.options.pollLimit) return this.reconcileNow();
    for (const [id, txid] of this.seen) if (txid < from) this.seen.delete(id);
    const fresh: Head[] = [];
    for (const h of heads) {
      if (this.seen.has(h.id)) continue;
      this.seen.set(h.id, h.txid);
      if (h.enabled) fresh.push(h);
    }
    await this.applyHeads(fresh);
    this.pollFrom = next > from ? next : from;
  }

  private async reconcileNow(): Promise<void> {
    const start = Date.now();
    const started = this.pollFrom === null;
    // Taken before the read: a run stored after it is listed by the next poll.
    const next = await this.repo.readPoint();
    const domains = await this.repo.latestRuns();
    const latest = new Map(domains.map((d) => [d.domainId, d]));
    for (const [id, a] of this.applied) {
      const run = latest.get(id)?.run;
      // Deleted, disabled, or the run shown is gone (pruned): start again from what is stored.
      if (!run || cmp(orderOf(run), a.run) < 0) this.forget(id);
    }
    for (const name of this.metrics.shownDomains()) if (!this.idByName.has(name)) this.metrics.dropDomain(name);
    const wanted: Head[] = [];
    for (const d of domains) {
      if (!d.run) continue;
      const a = this.applied.get(d.domainId);
      if (!a || cmp(orderOf(d.run), a.run) > 0) wanted.push({ id: d.run.id, domainId: d.domainId, domain: d.domain, startedAt: d.run.startedAt });
    }
    await this.applyHeads(wanted);
    this.pollFrom = this.pollFrom !== null && this.pollFrom > next ? this.pollFrom : next;
    if (started) this.logger?.pino.info({ context: 'MetricsFeed', domains: this.applied.size, ms: Date.now() - start }, 'fleet series read from the database');
  }

  /** Applies runs found by a read: newer ones in order, late ones under the latest when a `keep` needs them, first ones with their history. */
  private async applyHeads(heads: Head[]): Promise<void> {
    if (heads.length === 0) return;
    heads.sort((a, b) => cmp(orderOf(a), orderOf(b)));
    const byDomain = new Map<string, Head[]>();
    for (const h of heads) {
      let list = byDomain.get(h.domainId);
      if (!list) byDomain.set(h.domainId, (list = []));
      list.push(h);
    }
    const newer: Head[] = [];
    const firsts: Head[] = [];
    const replays: Array<{ late: Head[]; current: Head }> = [];
    for (const [domainId, list] of byDomain) {
      const a = this.applied.get(domainId);
      if (!a) {
        firsts.push(list.at(-1)!);
        continue;
      }
      const late = list.filter((h) => cmp(orderOf(h), a.run) < 0 && this.needsReplay(a, orderOf(h)));
      if (late.length > 0) replays.push({ late, current: { id: a.run.id, domainId, domain: a.name, startedAt: new Date(a.run.at) } });
      for (const h of list) if (cmp(orderOf(h), a.run) > 0) newer.push(h);
    }
    // A late run under the latest first (as if it had come in time), then what came after.
    for (const r of replays) {
      const runs = await this.read([...r.late, r.current].map((h) => h.id));
      for (const h of [...r.late, r.current]) {
        const run = runs.get(h.id);
        if (run) this.apply(run, h.domain, true);
      }
    }
    for (let i = 0; i < newer.length; i += this.options.batch) {
      const chunk = newer.slice(i, i + this.options.batch);
      const runs = await this.read(chunk.map((h) => h.id));
      for (const h of chunk) {
        const run = runs.get(h.id);
        if (run) this.apply(run, h.domain);
      }
    }
    for (let i = 0; i < firsts.length; i += this.options.batch) {
      const chunk = firsts.slice(i, i + this.options.batch);
      const runs = await this.read(chunk.map((h) => h.id));
      const withHistory: Array<{ run: StoredRun; domain: string; keep: Set<string> }> = [];
      for (const h of chunk) {
        const run = runs.get(h.id);
        if (!run) continue;
        const keep = this.metrics.keepProbes({ domain: h.domain, results: run.results });
        if (keep.size === 0) this.apply(run, h.domain);
        else withHistory.push({ run, domain: h.domain, keep });
      }
      for (let j = 0; j < withHistory.length; j += 25) await this.applyWithHistory(withHistory.slice(j, j + 25));
    }
    await this.reapply();
  }

  /** Whether a run older than the one shown, but newer than the run some kept series come from, must be applied under it. */
  private needsReplay(a: Applied, late: Order): boolean {
    for (const p of a.keeps) if (cmp(a.base.get(p) ?? NONE, late) < 0) return true;
    return false;
  }

  /**
   * A domain seen for the first time whose latest run keeps series of earlier runs: those runs
   * are applied first, back to the one each kept probe's series come from.
   */
  private async applyWithHistory(items: Array<{ run: StoredRun; domain: string; keep: Set<string> }>): Promise<void> {
    const walks = items.map((item) => ({ ...item, unresolved: new Set(item.keep), cursor: { domainId: item.run.domainId, startedAt: item.run.startedAt, id: item.run.id }, chain: [] as StoredRun[], done: false }));
    const PAGE = 4;
    for (let depth = 0; depth < this.options.lookBack; depth += PAGE) {
      const open = walks.filter((w) => !w.done);
      if (open.length === 0) break;
      const earlier = await this.repo.runsBefore(
        open.map((w) => w.cursor),
        PAGE,
      );
      const runs = await this.read(earlier.map((e) => e.id));
      const byDomain = new Map<string, Array<{ id: string; startedAt: Date }>>();
      for (const e of earlier) {
        let list = byDomain.get(e.domainId);
        if (!list) byDomain.set(e.domainId, (list = []));
        list.push(e);
      }
      for (const w of open) {
        const list = (byDomain.get(w.run.domainId) ?? []).sort((a, b) => cmp(orderOf(b), orderOf(a)));
        for (const e of list) {
          w.cursor = { domainId: w.run.domainId, startedAt: e.startedAt, id: e.id };
          const run = runs.get(e.id);
          if (!run) continue;
          w.chain.push(run);
          const keeps = this.metrics.keepProbes({ domain: w.domain, results: run.results });
          for (const p of [...w.unresolved]) if (!keeps.has(p)) w.unresolved.delete(p);
          if (w.unresolved.size === 0) break;
        }
        if (w.unresolved.size === 0 || list.length < PAGE) w.done = true;
      }
    }
    for (const w of walks) {
      for (const run of w.chain.reverse()) this.apply(run, w.domain, true);
      this.apply(w.run, w.domain, true);
    }
  }

  /** Host series whose domain let go of them come from the domain with the best remaining result: it applies its run again. */
  private async reapply(): Promise<void> {
    for (let round = 0; round < 3; round++) {
      const ids: string[] = [];
      const names = new Map<string, string>();
      for (const name of this.metrics.takeReapply()) {
        const a = this.applied.get(this.idByName.get(name) ?? '');
        if (!a) continue;
        ids.push(a.run.id);
        names.set(a.run.id, name);
      }
      if (ids.length === 0) return;
      const runs = await this.read(ids);
      for (const [id, run] of runs) {
        const a = this.applied.get(run.domainId);
        if (a && a.run.id === id) this.apply(run, names.get(id)!, true);
      }
    }
  }

  private async read(ids: string[]): Promise<Map<string, StoredRun>> {
    const out = new Map<string, StoredRun>();
    for (let i = 0; i < ids.length; i += this.options.batch) for (const run of await this.repo.runs(ids.slice(i, i + this.options.batch))) out.set(run.id, run);
    return out;
  }

  /** Applies a run unless the domain already shows a later one (`force`: replaying under it). */
  private apply(run: StoredRun, name: string, force = false): void {
    const order = orderOf(run);
    const previous = this.applied.get(run.domainId);
    if (!force && previous && cmp(order, previous.run) <= 0) return;
    // The same name under another id: the domain was deleted and added again.
    const other = this.idByName.get(name);
    if (other !== undefined && other !== run.domainId) this.applied.delete(other);
    const keeps = this.metrics.applyRun({ domain: name, startedAt: run.startedAt, finishedAt: run.finishedAt, results: run.results });
    const base = new Map<string, Order>();
    for (const r of run.results) if (!base.has(r.probe)) base.set(r.probe, keeps.has(r.probe) ? (previous?.base.get(r.probe) ?? NONE) : order);
    this.applied.set(run.domainId, { name, run: order, keeps, base });
    this.idByName.set(name, run.domainId);
  }

  private forget(domainId: string): void {
    const a = this.applied.get(domainId);
    if (!a) return;
    this.applied.delete(domainId);
    if (this.idByName.get(a.name) === domainId) {
      this.idByName.delete(a.name);
      this.metrics.dropDomain(a.name);
    }
  }
}
