import type { ProbeDefinition, Severity } from '../probes/probe-definition.js';
import type { ProbeResult } from '../probes/probe.types.js';
import { PROBES } from '../probes/registry.js';
import { buildCatalog, FINDING_CATALOG, renderTemplate, scopeOfCode, type CatalogEntry, type FindingCode, type FindingScope } from './finding-catalog.js';

/** A finding as one run sees it, before the lifecycle decides whether it opens. */
export interface FindingDraft {
  code: FindingCode;
  severity: Severity;
  probe: string;
  target: string;
  message: string;
  remediation: string;
  evidence: Record<string, unknown>;
  /** `monitor`: about mxwatch itself, kept once (no domain) however many domains' runs show it. */
  scope: FindingScope;
}

/** The findings rules over a set of probe definitions (the registry by default). */
export class FindingRules {
  private readonly catalog: Readonly<Record<string, CatalogEntry>>;
  private readonly byName: Map<string, ProbeDefinition>;

  constructor(probes: readonly ProbeDefinition[] = PROBES) {
    // The registry's catalog is built once, at import (finding-catalog.ts).
    this.catalog = probes === PROBES ? FINDING_CATALOG : buildCatalog(probes);
    this.byName = new Map(probes.map((p) => [p.name, p]));
  }

  /** Pure: the probe results of one run -> the findings that run shows, one per (code, target). */
  derive(results: readonly ProbeResult[]): FindingDraft[] {
    const out = new Map<string, FindingDraft>();
    for (const r of results) {
      for (const obs of r.observations) {
        const entry = this.catalog[obs.code];
        if (!entry) throw new Error(`bug: probe ${r.probe} observed unknown finding code ${obs.code}`);
        // An untestable result raises nothing against the domain; only facts about our own path
        // (the list refuses our resolver) are reported, so the operator learns the list is dark.
        if (r.status === 'untestable' && !entry.reportWhenUntestable) continue;
        const key = `${obs.code}\u0000${obs.target}`;
        if (out.has(key)) continue;
        out.set(key, {
          code: obs.code,
          severity: obs.severity ?? entry.severity,
          probe: entry.probe,
          target: obs.target,
          message: renderTemplate(entry.message, obs.params),
          remediation: renderTemplate(entry.remediation, obs.params),
          // A finding about the monitor names no domain: whichever domain's run saw it last is no fact about it.
          evidence: entry.scope === 'monitor' ? { ...obs.params } : { ...obs.params, resultTarget: r.target },
          scope: entry.scope,
        });
      }
    }
    return [...out.values()];
  }

  /**
   * Whether this run could have seen the finding: only then may its absence count towards
   * resolving it. An untestable run neither opens nor resolves. A target that left the domain
   * (its MX set, its sending IPs) while the probes it is derived from worked counts as covered:
   * it is gone. A probe may decide for its own codes (`covers`).
   */
  isCovered(finding: { probe: string; code: string; target: string; evidence: unknown }, results: readonly ProbeResult[]): boolean {
    const def = this.byName.get(finding.probe);
    // A probe that is no longer registered will never see its findings again: let them resolve.
    if (!def) return true;
    const custom = def.covers?.(finding, results);
    if (custom !== undefined) return custom;
    // About the monitor: any run in which its probe could test saw the monitor's state.
    if (scopeOfCode(finding.code) === 'monitor') return results.some((r) => r.probe === finding.probe && r.status !== 'untestable');
    const resultTarget = (finding.evidence as Record<string, unknown> | null)?.resultTarget ?? finding.target;
    const same = results.filter((r) => r.probe === finding.probe && r.target === resultTarget);
    if (same.length > 0) return same.some((r) => r.status !== 'untestable');
    if (results.some((r) => r.target === resultTarget)) return false;
    return def.needs.every((need) => {
      const of = results.filter((r) => r.probe === need);
      return of.length > 0 && of.every((r) => r.status !== 'untestable');
    });
  }
}

const defaultRules = new FindingRules();

export function deriveFindings(results: readonly ProbeResult[]): FindingDraft[] {
  return defaultRules.derive(results);
}

export function isCovered(finding: { probe: string; code: string; target: string; evidence: unknown }, results: readonly ProbeResult[]): boolean {
  return defaultRules.isCovered(finding, results);
}
