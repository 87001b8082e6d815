import { SEVERITIES, type FindingSpec, type ProbeDefinition, type Severity } from '../probes/probe-definition.js';
import { PROBES } from '../probes/registry.js';

export { SEVERITIES, type Severity };

/**
 * What a finding is about: a domain (one row per domain, code and target), or the monitor itself
 * (its resolver does not validate DNSSEC, its DNSBL queries go through a public resolver): one row
 * per code and target however many domains' runs report it, stored without a domain.
 */
export type FindingScope = 'domain' | 'monitor';
export const FINDING_SCOPES: readonly FindingScope[] = ['domain', 'monitor'];

/**
 * Codes about the monitor itself start with this: the public name says what the finding is about,
 * so an operator's alert rule or filter on `code` can tell them apart without another field.
 */
export const MONITOR_CODE_PREFIX = 'MONITOR_';

export function scopeOfCode(code: string): FindingScope {
  return code.startsWith(MONITOR_CODE_PREFIX) ? 'monitor' : 'domain';
}

export interface CatalogEntry extends FindingSpec {
  /** The probe that owns (raises) the code. */
  probe: string;
  scope: FindingScope;
}

export type FindingCode = string;

/**
 * Every finding code mxwatch can raise, assembled from the registered probes' definitions (each
 * probe owns its codes). Codes are part of the public contract (REST, metrics, alert rules).
 */
export function buildCatalog(probes: readonly ProbeDefinition[]): Readonly<Record<string, CatalogEntry>> {
  const catalog: Record<string, CatalogEntry> = {};
  for (const def of probes) {
    for (const [code, spec] of Object.entries(def.findings)) {
      const owner = catalog[code];
      if (owner) throw new Error(`bug: finding code ${code} is declared by both ${owner.probe} and ${def.name}`);
      if (!/^[A-Z][A-Z0-9_]*$/.test(code)) throw new Error(`bug: finding code ${code} of ${def.name} is not UPPER_SNAKE`);
      const scope = scopeOfCode(code);
      // A fact about our own path is reported whatever the result says about the domain.
      if (scope === 'monitor' && spec.reportWhenUntestable !== true) throw new Error(`bug: finding code ${code} of ${def.name} is about the monitor, so it must be reportWhenUntestable`);
      catalog[code] = { probe: def.name, ...spec, scope };
    }
  }
  return Object.freeze(catalog);
}

export const FINDING_CATALOG = buildCatalog(PROBES);

export function isFindingCode(code: string): boolean {
  return Object.prototype.hasOwnProperty.call(FINDING_CATALOG, code);
}

/** Fills `{name}` placeholders; a missing value is left visible rather than silently blank. */
export function renderTemplate(template: string, params: Record<string, unknown>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const v = params[key];
    return v === undefined || v === null ? whole : String(v);
  });
}
