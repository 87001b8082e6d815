import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FINDING_CATALOG } from '../../apps/mxwatch/src/findings/finding-catalog.js';
import { PROBES } from '../../apps/mxwatch/src/probes/registry.js';

const README = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../README.md'), 'utf8');

/** `| \`CODE\` | probe | severity | ...` rows of the README's findings tables. */
function documentedFindings(): Map<string, { probe: string; severity: string }> {
  const out = new Map<string, { probe: string; severity: string }>();
  for (const m of README.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| ([a-z-]+) \| (critical|warning|info)[^|]* \|/gm)) out.set(m[1]!, { probe: m[2]!, severity: m[3]! });
  return out;
}

describe('README', () => {
  it('should document every finding code a registered probe can raise, with its probe and severity', () => {
    const documented = documentedFindings();
    const problems: string[] = [];
    for (const [code, entry] of Object.entries(FINDING_CATALOG)) {
      const row = documented.get(code);
      if (!row) problems.push(`${code} (${entry.probe}) is missing from the README findings table`);
      else if (row.probe !== entry.probe || row.severity !== entry.severity) problems.push(`${code}: README says ${row.probe}/${row.severity}, the probe says ${entry.probe}/${entry.severity}`);
    }
    expect(problems).toEqual([]);
  });

  it('should document every metric a registered probe contributes', () => {
    const missing = PROBES.flatMap((p) => (p.metrics?.specs ?? []).flatMap((s) => [s.name, ...(s.domainCount ? [s.domainCount.name] : [])])).filter((name) => !README.includes(`\`${name}`));
    expect(missing).toEqual([]);
  });
});
