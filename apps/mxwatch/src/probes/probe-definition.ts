/**
 * The one shape every probe has. A probe is a folder under probes/ that exports one
 * `ProbeDefinition` (built with `defineProbe`), and one line in probes/registry.ts lists it.
 * The runner, the findings rules, the metrics service and the REST layer only ever see
 * definitions: none of them names a probe.
 */
import type { ProbeContext, ProbeObservation, ProbeResult, ProbeStatus } from './probe.types.js';

export type Severity = 'critical' | 'warning' | 'info';
export const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];

/** One finding code a probe may raise. Codes are UPPER_SNAKE and part of the public contract. */
export interface FindingSpec {
  severity: Severity;
  /** One line; `{name}` placeholders are filled from the observation's params. */
  message: string;
  remediation: string;
  /**
   * Raised even when the result is `untestable`: a fact about our own path (the list refuses our
   * resolver, the zone fails its test points, our resolver does not validate), never a verdict on
   * the domain.
   */
  reportWhenUntestable?: boolean;
}

export type FindingSpecs = Record<string, FindingSpec>;

/** What a probe runs on; tells people (docs, CLI, status page) how its targets are shaped. */
export type ProbeScope = 'domain' | 'mx-host' | 'endpoint' | 'address' | 'zone';

/** A monitored domain as the probes see it. */
export interface DomainInput {
  name: string;
  submissionHosts: string[];
  sendingIps: string[];
  /** DKIM selectors the operator named (selectors cannot be discovered). */
  dkimSelectors: string[];
}

/** What the planner knows while it plans one domain's check. */
export interface PlanView {
  domain: DomainInput;
  /** This run's results of a probe named in `needs` (empty for a probe not needed or not registered). */
  results(probe: string): ProbeResult[];
  /** Memoised for this one check: a value several probes derive the same way (e.g. the endpoints). */
  once<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

/** What the runtime lends a probe while it runs one subject. */
export interface ProbeEnv {
  /**
   * Work another domain's check may already have done (an SMTP session with a shared MX, a DNSBL
   * answer for a shared address): reused while younger than this check tolerates (a manual check
   * always does it afresh), one in flight per key, and once per key within this check.
   * `minAgeMs` lets a result be reused for at least that long even by manual checks (zone health).
   */
  shared<T>(key: string, fn: () => Promise<T>, options?: { minAgeMs?: number }): Promise<T>;
  /** At most one task at a time per key (one connection at a time per address), under the global connection limit. */
  exclusive<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

/** A metric a probe contributes to /metrics. Label values must be bounded: never free text. */
export interface MetricSpec {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  labelNames: readonly string[];
  /**
   * A per-domain gauge whose series are 1 for the state a domain is in (`*_info`): also export the
   * number of domains in each state, by the other labels, under this name. It stays when
   * MXWATCH_METRICS_PER_DOMAIN=false drops the per-domain series, so fleet panels keep working.
   */
  domainCount?: { name: string; help: string };
}

export interface SeriesSample {
  metric: string;
  labels: Record<string, string>;
  value: number;
  /**
   * `host`: keyed by host/ip/port (or address/zone), shared by every domain that uses it and
   * removed when no domain's latest check sets it any more. `domain` (default): the domain's own.
   */
  owner?: 'domain' | 'host';
}

export interface CounterIncrement {
  metric: string;
  labels: Record<string, string>;
  by?: number;
}

export interface MetricContribution<D> {
  specs: readonly MetricSpec[];
  /**
   * The gauges this result sets. What this domain set before and does not set now is removed.
   * `'keep'` keeps what this probe set for the domain before (an untestable run teaches nothing).
   */
  series?(result: ProbeResult<D>, domain: string): SeriesSample[] | 'keep';
  /** Counters this result increments (once per result recorded). */
  counters?(result: ProbeResult<D>): CounterIncrement[];
  /** Facts about the monitor itself, read at scrape time (e.g. our own outbound port 25 is blocked). */
  global?(): SeriesSample[];
}

/** A finding as stored, for coverage decisions. */
export interface FindingRef {
  probe: string;
  code: string;
  target: string;
  evidence: unknown;
}

/** One semantic change of a published policy: `MX mx2.example.net removed`, `DMARC policy reject → none`. */
export interface PolicyChange {
  /** Bounded vocabulary, a metric label: `mx.host_removed`, `dmarc.policy_lowered`, ... */
  kind: string;
  /** Lowers protection (policy lowered, `all` loosened, MX removed, key weakened): a warning, else info. */
  weakening: boolean;
  text: string;
}

/**
 * What a probe contributes to "what changed": the policy state it observed in one run (JSON,
 * stored per domain and probe) and the semantic difference between two states.
 */
export interface PolicyContract<T extends object = any> {
  /** This run's state from this probe's results; undefined when untestable (never a change: a resolver blip must not read as "SPF removed"). */
  state(results: readonly ProbeResult[]): T | undefined;
  diff(before: T, after: T): PolicyChange[];
}

export interface ProbeDefinition<D = any, S = any> {
  /** The same string everywhere: database, metric label, REST (`spf`, `mta-sts`, ...). */
  name: string;
  scope: ProbeScope;
  /** One line for people (README, CLI, status page). */
  title: string;
  /** Probes whose results this one's subjects are derived from; they run first. */
  needs: readonly string[];
  /** The subjects to run on in this check, derived from the domain and the needed probes' results. */
  subjects(plan: PlanView, ctx: ProbeContext): S[] | Promise<S[]>;
  /** Runs on one subject. Returns null when the subject turned out to have nothing to report. */
  run(ctx: ProbeContext, subject: S, env: ProbeEnv): Promise<ProbeResult<D> | null>;
  findings: FindingSpecs;
  metrics?: MetricContribution<D>;
  /**
   * Sees all of this probe's results of one run, with memory across runs, and may reclassify
   * them: when every recent port-25 attempt timed out, the fault is our own network, not the MX.
   */
  reviewRun?(results: ProbeResult<D>[]): ProbeResult<D>[];
  /**
   * Whether this run could have seen `finding` (only then may its absence resolve it). Default:
   * a result of this probe with the finding's result target was testable; or there is none and
   * every needed probe was testable (the target is gone).
   */
  covers?(finding: FindingRef, results: readonly ProbeResult[]): boolean | undefined;
  /** Published policy this probe reads, compared between conclusive runs (runtime/policy-changes). */
  policy?: PolicyContract;
  /**
   * A result that is worth no row of its own in the history (a port that is closed and not
   * required): the one line kept on the run instead, e.g. `mx1.example.net[192.0.2.1]:587
   * port_closed_not_required`. Such a result must set no series and raise nothing. Default: every
   * result is stored.
   */
  fact?(result: ProbeResult<D>): string | null;
  /**
   * Whether a result is about something other domains may share (an MX endpoint, an address's
   * listing): stored once and referenced from every run that used it. A result about the checked
   * domain alone (its own name on a domain blocklist) is stored with its run, as a domain-scoped
   * probe's are. Default: every result of a probe whose scope is not `domain`.
   */
  hostLevel?(result: ProbeResult<D>): boolean;
}

/** Keeps the definition's types (details, subject) checked without widening them. */
export function defineProbe<D, S>(definition: ProbeDefinition<D, S>): ProbeDefinition<D, S> {
  return definition;
}

/**
 * A probe's status from its own observations: any critical -> fail, any warning -> warn, else pass.
 * An observation may carry its own severity (a closed 587 is critical on a submission host only).
 */
export function statusFromObservations(observations: readonly ProbeObservation[], findings: FindingSpecs): ProbeStatus {
  let status: ProbeStatus = 'pass';
  for (const o of observations) {
    const severity = o.severity ?? findings[o.code]?.severity;
    if (severity === 'critical') return 'fail';
    if (severity === 'warning') status = 'warn';
  }
  return status;
}

/**
 * The `finish(status, reason)` a probe ends with: one result about `target`, timed from `startedAt`,
 * with the observations gathered so far; an untestable result carries none (it accuses nobody).
 */
export function resultFinisher<D>(ctx: ProbeContext, probe: string, target: string, startedAt: Date, details: D, observations: ProbeObservation[]) {
  return (status: ProbeStatus, reason?: string): ProbeResult<D> => ({
    probe,
    target,
    status,
    ...(reason ? { reason } : {}),
    startedAt,
    durationMs: Math.max(0, ctx.now().getTime() - startedAt.getTime()),
    details,
    observations: status === 'untestable' ? [] : observations,
  });
}
