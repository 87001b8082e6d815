import { SEVERITIES, type FindingSpec, type ProbeDefinition, type Severity } from '../probes/probe-definition.js';
import { PROBES } from '../probes/registry.js';

export { SEVERITIES, type Severity };

export interface CatalogEntry extends FindingSpec {
  /** The probe that owns (raises) the code. */
  probe: string;
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
      catalog[code] = { probe: def.name, ...spec };
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
