import type { AppConfig } from '../config/config.types.js';
import { FindingRules } from '../findings/findings.rules.js';
import type { DomainInput, ProbeDefinition } from '../probes/probe-definition.js';
import type { ProbeResult } from '../probes/probe.types.js';
import { runDomainCheck } from '../runtime/domain-check.js';
import { ProbeRuntime } from '../runtime/probe-runtime.service.js';
import type { CliFinding } from './cli-report.schema.js';

export interface CheckProgress {
  /** Probe runs (one per subject) started so far, and finished. */
  started: number;
  finished: number;
  /** Probes with a run in flight. */
  running: string[];
}

/** The check did not come back within its deadline plus a grace period. */
export class CheckDeadlineError extends Error {}

/** How long after the check's own deadline the CLI stops waiting (the probes should have given up). */
const GRACE_MS = 5_000;

/**
 * Counts runs for the progress line without changing what a probe does: the planner gets the
 * same definitions, each `run` wrapped.
 */
function observed(probes: readonly ProbeDefinition[], progress: CheckProgress, onProgress: (p: CheckProgress) => void): ProbeDefinition[] {
  const inFlight = new Map<string, number>();
  const update = (name: string, delta: number) => {
    inFlight.set(name, (inFlight.get(name) ?? 0) + delta);
    progress.running = [...inFlight].filter(([, n]) => n > 0).map(([p]) => p);
    onProgress(progress);
  };
  return probes.map((def) => ({
    ...def,
    run: async (ctx, subject, env) => {
      progress.started++;
      update(def.name, 1);
      try {
        return await def.run(ctx, subject, env);
      } finally {
        progress.finished++;
        update(def.name, -1);
      }
    },
  }));
}

/**
 * One domain, the service's probes, with the service's own runtime (resolver, dialer, address
 * policy, limits) and planner, then the service's own findings rules. Nothing is stored.
 */
export async function runCliCheck(
  config: AppConfig,
  domain: DomainInput,
  onProgress: (p: CheckProgress) => void = () => {},
): Promise<{ probes: readonly ProbeDefinition[]; results: ProbeResult[]; findings: CliFinding[]; startedAt: Date; finishedAt: Date }> {
  const runtime = new ProbeRuntime(config);
  // The service's selection: every registered probe, or MXWATCH_PROBES (--probes) and what they need.
  const probes = runtime.probes;
  const startedAt = new Date();
  const { ctx, dispose } = runtime.context();
  const progress: CheckProgress = { started: 0, finished: 0, running: [] };
  let timer: NodeJS.Timeout | undefined;
  const hardStop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckDeadlineError(`the check did not finish within its deadline of ${config.checkTimeoutSeconds} s`)), config.checkTimeoutSeconds * 1000 + GRACE_MS);
  });
  try {
    const outcome = await Promise.race([
      runDomainCheck(ctx, domain, {
        probes: observed(probes, progress, onProgress),
        shared: runtime.shared,
        perAddress: runtime.perAddress,
        connections: runtime.connections,
        // A one-off check always probes afresh.
        maxAgeMs: 0,
      }),
      hardStop,
    ]);
    const finishedAt = new Date();
    const rules = new FindingRules(probes);
    const findings = rules.derive(outcome.results).map((d) => ({ code: d.code, severity: d.severity, probe: d.probe, target: d.target, message: d.message, remediation: d.remediation, scope: d.scope }));
    return { probes, results: outcome.results, findings, startedAt, finishedAt };
  } finally {
    clearTimeout(timer);
    dispose();
  }
}

