import type { ProbeName, ProbeObservation, ProbeResult } from '../probes/probe.types.js';
import { FINDING_CATALOG, isFindingCode, renderTemplate, type FindingCode, type Severity } from './finding-catalog.js';

/** A finding as one run sees it, before the lifecycle decides whether it opens. */
export interface FindingDraft {
  code: FindingCode;
  severity: Severity;
  probe: ProbeName;
  target: string;
  message: string;
  remediation: string;
  evidence: Record<string, unknown>;
}

/**
 * Observations about our own path to a DNSBL (the list refuses our resolver, the zone fails its
 * test points) are reported although the result itself is untestable: the operator must learn
 * that the list cannot be used, while the domain's listing status stays unknown.
 */
const RESOLVER_PATH_CODES = new Set<string>(['DNSBL_QUERY_REFUSED', 'DNSBL_ZONE_UNHEALTHY']);

/** Only a submission host must answer on 587/465; an MX port closed there is normal. */
function severityFor(code: FindingCode, obs: ProbeObservation): Severity {
  if (code === 'SMTP_PORT_UNREACHABLE' && obs.params.role === 'submission') return 'warning';
  return FINDING_CATALOG[code].severity;
}

/** Pure rules: the probe results of one run -> the findings that run shows, one per (code, target). */
export function deriveFindings(results: ProbeResult[]): FindingDraft[] {
  const out = new Map<string, FindingDraft>();
  for (const r of results) {
    for (const obs of r.observations) {
      if (r.status === 'untestable' && !RESOLVER_PATH_CODES.has(obs.code)) continue;
      if (!isFindingCode(obs.code)) throw new Error(`bug: probe ${r.probe} observed unknown finding code ${obs.code}`);
      const entry = FINDING_CATALOG[obs.code];
      const key = `${obs.code}\u0000${obs.target}`;
      if (out.has(key)) continue;
      out.set(key, {
        code: obs.code,
        severity: severityFor(obs.code, obs),
        probe: entry.probe,
        target: obs.target,
        message: renderTemplate(entry.message, obs.params),
        remediation: renderTemplate(entry.remediation, obs.params),
        evidence: { ...obs.params, resultTarget: r.target },
      });
    }
  }
  return [...out.values()];
}

export interface CoverageInput {
  results: ProbeResult[];
  /** Whether the MX probe itself could test the domain in this run. */
  mxTestable: boolean;
}

/**
 * Whether this run could have seen the finding: only then may its absence count towards
 * resolving it. An untestable run neither opens nor resolves. A target that left the
 * domain's MX set (or sending IPs) while the MX probe worked counts as covered: it is gone.
 */
export function isCovered(finding: { probe: string; code: string; target: string; evidence: unknown }, input: CoverageInput): boolean {
  const { results, mxTestable } = input;
  const testable = (r: ProbeResult) => r.status !== 'untestable';
  if (finding.probe === 'mx') return mxTestable;
  if (finding.code === 'DNSBL_ZONE_UNHEALTHY') {
    const ofZone = results.filter((r) => r.probe === 'dnsbl' && r.target.endsWith(`@${finding.target}`));
    return ofZone.some(testable) || (mxTestable && ofZone.length === 0);
  }
  const resultTarget = (finding.evidence as Record<string, unknown> | null)?.resultTarget ?? finding.target;
  const same = results.filter((r) => r.probe === finding.probe && r.target === resultTarget);
  if (same.length === 0) return mxTestable && !results.some((r) => r.target === resultTarget);
  return same.some(testable);
}
