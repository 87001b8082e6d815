import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ProbeDefinition } from '../probes/probe-definition.js';
import { FleetGauge } from './fleet-gauge.js';

/**
 * The runner's own metrics; each registered probe adds its own from its definition
 * (`registerProbeMetrics`). Names and labels are a public contract (dashboards,
 * alert rules): see README "Metrics". Per-host facts are keyed by host/ip/port, never by
 * domain, so a provider serving thousands of domains is one series; domains join through
 * mxwatch_domain_mx_info. No label ever carries free text such as an error message.
 * Labelled gauges of the fleet are FleetGauges (Map-backed, label text kept per series).
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges named *_total break the exposition conventions (promtool check metrics fails the
  // scrape); the same counts stay available as nodejs_active_handles / _requests / _resources.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  const r = [registry];
  return {
    registry,
    probeSuccess: new FleetGauge({ name: 'mxwatch_probe_success', help: 'Whether the probe passed for the domain at its last check (1 pass or warn, 0 fail; absent when untestable)', labelNames: ['domain', 'probe'] as const, registers: r }),
    probeSuccessDomains: new FleetGauge({ name: 'mxwatch_probe_success_domains', help: 'Domains whose last check ran the probe testably, by whether it passed (result pass: pass or warn; fail)', labelNames: ['probe', 'result'] as const, registers: r }),
    probeDuration: new Histogram({ name: 'mxwatch_probe_duration_seconds', help: 'Duration of one probe on one target', labelNames: ['probe'] as const, buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: r }),
    probeRuns: new Counter({ name: 'mxwatch_probe_runs_total', help: 'Probe results recorded, by probe and status', labelNames: ['probe', 'status'] as const, registers: r }),
    findingsOpen: new FleetGauge({ name: 'mxwatch_findings_open', help: 'Open findings by severity and code', labelNames: ['severity', 'code'] as const, registers: r }),
    domainFindingsOpen: new FleetGauge({ name: 'mxwatch_domain_findings_open', help: 'Open findings of each domain by severity', labelNames: ['domain', 'severity'] as const, registers: r }),
    lastCheck: new FleetGauge({ name: 'mxwatch_last_check_timestamp_seconds', help: 'When the last check of the domain finished (unix time)', labelNames: ['domain'] as const, registers: r }),
    checkRuns: new Counter({ name: 'mxwatch_check_runs_total', help: 'Domain checks finished, by trigger and worst status', labelNames: ['trigger', 'status'] as const, registers: r }),
    checkDuration: new Histogram({ name: 'mxwatch_check_duration_seconds', help: 'Duration of one whole domain check', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: r }),
    domains: new Gauge({ name: 'mxwatch_domains', help: 'Monitored domains by state', labelNames: ['state'] as const, registers: r }),
    databaseUp: new Gauge({ name: 'mxwatch_database_up', help: 'Whether this process reaches its database (1) or is in an outage (0: finished checks are kept until it is back, fleet series and findings counts show their last values)', registers: r }),
    schedulerLag: new Gauge({ name: 'mxwatch_scheduler_lag_seconds', help: 'How overdue the most overdue enabled domain is (0 when none is due)', registers: r }),
    notifications: new Counter({ name: 'mxwatch_notifications_total', help: 'Notification deliveries by channel and final status', labelNames: ['channel', 'status'] as const, registers: r }),
    policyChanges: new Counter({ name: 'mxwatch_policy_changes_total', help: 'Changes of published policy (MX set, SPF, DMARC, DKIM keys, BIMI) between conclusive runs, by kind and whether they weaken it', labelNames: ['kind', 'weakening'] as const, registers: r }),
    queueJobs: new Gauge({ name: 'mxwatch_queue_jobs', help: 'Check jobs in the shared queue (Redis) by state, read at scrape time: the same on every replica', labelNames: ['state'] as const, registers: r }),
    checkRunsDropped: new Counter({ name: 'mxwatch_check_runs_dropped_total', help: 'Finished checks given up while the database was unavailable (reason: full = more were kept than fit, failed = storing failed for another reason)', labelNames: ['reason'] as const, registers: r }),
    queueJobsRecovered: new Counter({ name: 'mxwatch_queue_jobs_recovered_total', help: 'Queued checks Redis lost after they were claimed (a restart without persistence, a failover, an eviction) that the scheduler enqueued again; counted by the replica holding the scheduler role', registers: r }),
    checkRunsStoreRetries: new Counter({ name: 'mxwatch_check_runs_store_retries_total', help: 'Run statements PostgreSQL ended over a conflict with another transaction and that were sent again (reason: deadlock, serialization); a check is lost only after three in a row', labelNames: ['reason'] as const, registers: r }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Has the fleet gauges keep their pages rendered between scrapes (`FleetGauge.keepRendered`), for
 * a process that only answers scrapes: every one but the two findings gauges, which are rebuilt
 * at every scrape and would gain nothing. Before any series is set.
 */
export function keepRenderedPages(m: Metrics, probeMetrics: ReadonlyMap<string, ProbeMetric>): void {
  const rebuilt = new Set<unknown>([m.findingsOpen, m.domainFindingsOpen]);
  for (const g of [...Object.values(m), ...probeMetrics.values()]) if (g instanceof FleetGauge && !rebuilt.has(g)) g.keepRendered();
}

export type ProbeMetric = FleetGauge | Counter<string>;

/** Creates every metric the registered probes declare, by name. A name declared twice is a bug. */
export function registerProbeMetrics(registry: Registry, probes: readonly ProbeDefinition[]): Map<string, ProbeMetric> {
  const out = new Map<string, ProbeMetric>();
  for (const def of probes) {
    for (const spec of def.metrics?.specs ?? []) {
      if (out.has(spec.name) || registry.getSingleMetric(spec.name)) throw new Error(`bug: metric ${spec.name} of probe ${def.name} is declared twice`);
      const options = { name: spec.name, help: spec.help, labelNames: [...spec.labelNames], registers: [registry] };
      out.set(spec.name, spec.type === 'counter' ? new Counter(options) : new FleetGauge(options));
      if (spec.domainCount) {
        if (spec.type !== 'gauge' || !spec.labelNames.includes('domain')) throw new Error(`bug: ${spec.name} counts domains but is no per-domain gauge`);
        if (out.has(spec.domainCount.name) || registry.getSingleMetric(spec.domainCount.name)) throw new Error(`bug: metric ${spec.domainCount.name} of probe ${def.name} is declared twice`);
        const labelNames = spec.labelNames.filter((l) => l !== 'domain');
        out.set(spec.domainCount.name, new FleetGauge({ name: spec.domainCount.name, help: spec.domainCount.help, labelNames, registers: [registry] }));
      }
    }
  }
  return out;
}
