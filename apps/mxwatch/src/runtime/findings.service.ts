import { Inject, Injectable, Optional, type BeforeApplicationShutdown } from '@nestjs/common';
import { AppLogger } from '../common/app-logger.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.types.js';
import type { ProbeResult } from '../probes/probe.types.js';
import { scopeOfCode } from '../findings/finding-catalog.js';
import { planLifecycle, planMonitorLifecycle, type LifecycleChange } from '../findings/finding-lifecycle.js';
import { deriveFindings, isCovered, type FindingDraft } from '../findings/findings.rules.js';
import { FindingsRepository, type Finding, type RunBaseline } from '../storage/findings.repository.js';
import { EventBus, type FindingTransition } from './events.js';
import { MonitorSightings } from './monitor-sightings.js';

export type { FindingTransition };

/**
 * Everything one run of one domain opened and resolved (notifications group on it); `domain` null:
 * what a run changed among the findings about mxwatch itself, a message of its own.
 */
export interface RunTransitions {
  domain: { id: string; name: string; labels: Record<string, string> } | null;
  opened: Finding[];
  resolved: Finding[];
}

export interface AppliedRun {
  /** Everything the run showed, the findings about the monitor included (`scope`). */
  drafts: FindingDraft[];
  /** The domain's own findings that opened and resolved. */
  opened: Finding[];
  resolved: Finding[];
  /** Findings about mxwatch itself this run opened or resolved (kept once, without a domain). */
  monitor: { opened: Finding[]; resolved: Finding[] };
  /** The domain's last policy states, read with its findings (the check passes them on in `check.completed`). */
  policyStates: ReadonlyMap<string, unknown>;
}

@Injectable()
export class FindingsService implements BeforeApplicationShutdown {
  /** Steady-state sightings of open findings about the monitor: one write per finding per second, not one per check. */
  private readonly sightings: MonitorSightings;

  constructor(
    private readonly repo: FindingsRepository,
    private readonly events: EventBus,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Optional() logger?: AppLogger,
  ) {
    this.sightings = new MonitorSightings(
      (id, draft, count, at) => this.repo.seenAboutMonitor(id, draft, at, count),
      1000,
      (err) => logger?.pino.warn({ context: 'Findings', err: err instanceof Error ? err.message : String(err) }, 'could not record sightings of a finding about the monitor; the next sighting tries again'),
    );
  }

  /**
   * Subscribers (notifications, metrics) learn of every finding that opens or resolves. The run
   * awaits them, so a listener that stores something (a notification row) has stored it when the
   * check returns; a listener must catch its own errors and leave slow work (delivery) in the background.
   */
  onTransition(listener: (t: FindingTransition) => void | Promise<void>): void {
    this.events.on('finding.opened', listener);
    this.events.on('finding.resolved', listener);
  }

  /**
   * Like `onTransition`, once per run that opened or resolved anything, with all of it together:
   * the domain's findings once the run completed, and separately (`domain` null) the findings about
   * mxwatch itself the run moved.
   */
  onRunTransitions(listener: (r: RunTransitions) => void | Promise<void>): void {
    this.events.on('check.completed', async (c) => {
      if (c.opened.length === 0 && c.resolved.length === 0) return;
      await listener({ domain: { id: c.domain.id, name: c.domain.name, labels: c.domain.labels as Record<string, string> }, opened: c.opened, resolved: c.resolved });
    });
    this.events.on('monitor.transitions', (m) => listener({ domain: null, opened: m.opened, resolved: m.resolved }));
  }

  /**
   * Turns one run's results into findings and moves their lifecycle; returns what the run showed.
   * Findings about the monitor itself (codes `MONITOR_*`) are kept once, without a domain: every
   * domain's run counts as a sighting or, when it could have seen them, a miss. `baseline`: the
   * findings and policy states as read in the statement that stored the run (read here otherwise).
   */
  async applyRun(domain: { id: string; name: string; labels: Record<string, string> }, results: ProbeResult[], now: Date, baseline?: RunBaseline): Promise<AppliedRun> {
    const drafts = deriveFindings(results);
    const { domain: active, monitor: monitorActive, policyStates } = baseline ?? (await this.repo.activeWithMonitor(domain.id));
    const own = active.filter((f) => scopeOfCode(f.code) === 'domain');
    const byId = new Map(own.map((f) => [f.id, f]));
    const changes: LifecycleChange[] = [
      ...planLifecycle(
        own.map((f) => ({ id: f.id, code: f.code, target: f.target, status: f.status as 'pending' | 'open', seenCount: f.seenCount, missCount: f.missCount })),
        drafts.filter((d) => d.scope === 'domain'),
        (f) => isCovered(byId.get(f.id)!, results),
        this.config.alertAfter,
      ),
      // Stored per domain by an earlier version: the finding about the monitor takes over, without a
      // notification per domain (the condition did not go away, it moved).
      ...active.filter((f) => scopeOfCode(f.code) === 'monitor').map((f): LifecycleChange => (f.status === 'open' ? { kind: 'retire', id: f.id } : { kind: 'drop', id: f.id })),
    ];
    const { opened, resolved } = changes.length > 0 ? await this.repo.apply(domain.id, changes, now) : { opened: [], resolved: [] };

    const monitorDrafts = drafts.filter((d) => d.scope === 'monitor');
    const monitor = (await this.seenAgain(monitorActive, monitorDrafts, results, now)) ? { opened: [], resolved: [] } : await this.applyMonitor(monitorDrafts, results, now);

    const transitions: FindingTransition[] = [
      ...opened.map((finding) => ({ kind: 'opened' as const, finding, domain })),
      ...resolved.map((finding) => ({ kind: 'resolved' as const, finding, domain })),
      ...monitor.opened.map((finding) => ({ kind: 'opened' as const, finding, domain: null })),
      ...monitor.resolved.map((finding) => ({ kind: 'resolved' as const, finding, domain: null })),
    ];
    for (const t of transitions) await this.events.emit(t.kind === 'opened' ? 'finding.opened' : 'finding.resolved', t);
    if (monitor.opened.length > 0 || monitor.resolved.length > 0) await this.events.emit('monitor.transitions', { ...monitor, at: now });
    return { drafts, opened, resolved, monitor, policyStates };
  }

  /**
   * The steady state, without a transaction: everything this run shows about the monitor is open
   * already, and nothing else active about the monitor could have been seen by it (no miss to
   * count). True when that held and the sightings were recorded; false: plan under the lock.
   */
  private async seenAgain(active: Finding[], drafts: FindingDraft[], results: readonly ProbeResult[], now: Date): Promise<boolean> {
    const key = (f: { code: string; target: string }) => `${f.code}\u0000${f.target}`;
    const byKey = new Map(active.map((f) => [key(f), f]));
    const shown = new Set(drafts.map(key));
    if (drafts.some((d) => byKey.get(key(d))?.status !== 'open')) return false;
    if (active.some((f) => !shown.has(key(f)) && isCovered(f, results))) return false;
    for (const d of drafts) if (!(await this.sightings.seen(byKey.get(key(d))!.id, d, now))) return false;
    return true;
  }

  /** Writes the sightings of findings about the monitor held back (`MonitorSightings`) now. */
  flushSightings(): Promise<void> {
    return this.sightings.flushAll();
  }

  /** Writes the sightings held back; later ones are written at once (the database closes after this hook). */
  async beforeApplicationShutdown(): Promise<void> {
    await this.sightings.close();
  }

  /** One domain's run against the findings about the monitor: planned and applied under the repository's lock. */
  private applyMonitor(drafts: FindingDraft[], results: readonly ProbeResult[], now: Date) {
    // When this run looked, per probe: a result reused from another domain's check looked when it was obtained.
    const observed = new Map<string, Date>();
    for (const r of results) {
      const at = observed.get(r.probe);
      if (!at || r.startedAt > at) observed.set(r.probe, r.startedAt);
    }
    return this.repo.applyMonitor(
      (active, lastResolvedAt) =>
        planMonitorLifecycle(
          active.map((f) => ({ id: f.id, code: f.code, target: f.target, probe: f.probe, status: f.status as 'pending' | 'open', seenCount: f.seenCount, missCount: f.missCount, lastSeenAt: f.lastSeenAt })),
          drafts,
          (f) => isCovered(active.find((a) => a.id === f.id)!, results),
          this.config.alertAfter,
          (probe) => observed.get(probe) ?? now,
          lastResolvedAt,
        ),
      now,
    );
  }

  /**
   * Findings seen but not yet MXWATCH_ALERT_AFTER times in a row: not open, not notified. A new
   * user's first check of a broken domain shows only these, so they are shown with how many runs
   * they still need.
   */
  async pending(domainId: string): Promise<PendingFindingDto[]> {
    const active = await this.repo.active(domainId);
    return active
      .filter((f) => f.status === 'pending' && scopeOfCode(f.code) === 'domain')
      .sort((a, b) => a.code.localeCompare(b.code) || a.target.localeCompare(b.target))
      .map((f) => pendingFindingToDto(f, this.config.alertAfter));
  }

  /** One plain sentence for a check's answer: what is pending and why; null when nothing is. */
  explainPending(pending: readonly PendingFindingDto[]): string | null {
    return explainPending(pending, this.config.alertAfter);
  }
}

export type PendingFindingDto = ReturnType<typeof pendingFindingToDto>;

export function pendingFindingToDto(f: Finding, alertAfter: number) {
  return { ...findingToDto(f), seenRuns: f.seenCount, alertAfter, runsUntilOpen: Math.max(1, alertAfter - f.seenCount) };
}

export function explainPending(pending: readonly Pick<PendingFindingDto, 'code' | 'seenRuns' | 'runsUntilOpen'>[], alertAfter: number): string | null {
  if (pending.length === 0) return null;
  const codes = [...new Set(pending.map((p) => p.code))];
  const soonest = Math.min(...pending.map((p) => p.runsUntilOpen));
  const what = pending.length === 1 ? `1 finding is pending (${codes[0]})` : `${pending.length} findings are pending (${codes.join(', ')})`;
  return (
    `${what}: a finding opens, and is notified, only once ${alertAfter} consecutive checks have seen it (MXWATCH_ALERT_AFTER=${alertAfter}), ` +
    `so one bad answer never pages anyone. ${soonest === 1 ? 'The next check' : `${soonest} more checks`} seeing ${pending.length === 1 ? 'it' : 'them'} will open ${pending.length === 1 ? 'it' : 'them'}; ` +
    'until then they are listed under findings.pending here, in GET /domains/{name}/status (pendingFindings) and in GET /findings?status=pending.'
  );
}

/**
 * `domainName`: given when the list spans domains (GET /findings): the domain's name, or null for a
 * finding about mxwatch itself; absent when the caller already names the domain.
 */
export function findingToDto(f: Finding, domainName?: string | null) {
  return {
    id: f.id,
    ...(domainName !== undefined ? { domain: domainName } : {}),
    scope: f.domainId === null ? ('monitor' as const) : ('domain' as const),
    code: f.code,
    severity: f.severity,
    probe: f.probe,
    target: f.target,
    message: f.message,
    remediation: f.remediation,
    evidence: f.evidence,
    status: f.status,
    firstSeenAt: f.firstSeenAt.toISOString(),
    lastSeenAt: f.lastSeenAt.toISOString(),
    openedAt: f.openedAt?.toISOString() ?? null,
    resolvedAt: f.resolvedAt?.toISOString() ?? null,
  };
}
