/** The BIMI record as published policy: added, removed, logo or authority changed (all info). */
import type { PolicyChange, PolicyContract } from '../probe-definition.js';
import type { ProbeResult } from '../probe.types.js';
import type { BimiDetails } from './bimi.probe.js';

export type BimiPolicyState = { record: string | null; logoUrl: string | null; authorityUrl: string | null };

export const bimiPolicy: PolicyContract<BimiPolicyState> = {
  state(results: readonly ProbeResult[]): BimiPolicyState | undefined {
    const r = results.find((x) => x.probe === 'bimi');
    if (!r || r.status === 'untestable') return undefined;
    const d = r.details as BimiDetails;
    return { record: d.record, logoUrl: d.logoUrl, authorityUrl: d.authorityUrl };
  },

  diff(before: BimiPolicyState, after: BimiPolicyState): PolicyChange[] {
    if (before.record === after.record) return [];
    if (before.record === null) return [{ kind: 'bimi.published', weakening: false, text: 'BIMI record published' }];
    if (after.record === null) return [{ kind: 'bimi.removed', weakening: false, text: 'BIMI record removed' }];
    const parts: string[] = [];
    if (before.logoUrl !== after.logoUrl) parts.push(`logo ${before.logoUrl ?? 'none'} → ${after.logoUrl ?? 'none'}`);
    if (before.authorityUrl !== after.authorityUrl) parts.push(`authority ${before.authorityUrl ?? 'none'} → ${after.authorityUrl ?? 'none'}`);
    return [{ kind: 'bimi.changed', weakening: false, text: `BIMI record changed${parts.length ? `: ${parts.join('; ')}` : ''}` }];
  },
};
