/**
 * DMARC as published policy: the record in force and the policy receivers apply to this domain.
 * "DMARC policy reject → none". Lowering the policy or removing the record weakens it.
 */
import type { PolicyChange, PolicyContract } from '../probe-definition.js';
import type { ProbeResult } from '../probe.types.js';
import type { DmarcDetails } from './dmarc.probe.js';

export type DmarcPolicyState = { record: string | null; policy: string | null; recordDomain: string | null; pct: string | null };

const RANK: Record<string, number> = { none: 0, quarantine: 1, reject: 2 };

export const dmarcPolicy: PolicyContract<DmarcPolicyState> = {
  state(results: readonly ProbeResult[]): DmarcPolicyState | undefined {
    const r = results.find((x) => x.probe === 'dmarc');
    if (!r || r.status === 'untestable') return undefined;
    const d = r.details as DmarcDetails;
    return { record: d.record, policy: d.effectivePolicy, recordDomain: d.recordDomain, pct: d.tags['pct'] ?? null };
  },

  diff(before: DmarcPolicyState, after: DmarcPolicyState): PolicyChange[] {
    if (before.record === null && after.record !== null) return [{ kind: 'dmarc.published', weakening: false, text: `DMARC record published (policy ${after.policy ?? 'none'})` }];
    if (before.record !== null && after.record === null) return [{ kind: 'dmarc.removed', weakening: true, text: `DMARC record removed (was policy ${before.policy ?? 'none'})` }];
    const changes: PolicyChange[] = [];
    if (before.policy !== after.policy) {
      const lowered = (RANK[after.policy ?? 'none'] ?? 0) < (RANK[before.policy ?? 'none'] ?? 0);
      changes.push({ kind: lowered ? 'dmarc.policy_lowered' : 'dmarc.policy_raised', weakening: lowered, text: `DMARC policy ${before.policy ?? 'none'} → ${after.policy ?? 'none'}` });
    }
    if (before.pct !== after.pct) {
      const lowered = Number(after.pct ?? 100) < Number(before.pct ?? 100);
      changes.push({ kind: lowered ? 'dmarc.pct_lowered' : 'dmarc.pct_raised', weakening: lowered, text: `DMARC pct ${before.pct ?? '100'} → ${after.pct ?? '100'}` });
    }
    if (changes.length === 0 && before.record !== after.record) changes.push({ kind: 'dmarc.record_changed', weakening: false, text: `DMARC record changed: ${before.record} → ${after.record}` });
    return changes;
  },
};
