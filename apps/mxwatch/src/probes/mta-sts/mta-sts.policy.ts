/**
 * MTA-STS as published policy: the TXT id, the mode and the mx lines senders enforce.
 * "MTA-STS mode enforce → testing", "MTA-STS mx *.example.net removed". A lower mode, a removed
 * policy or a removed mx line weakens it; a policy body that changed under the same id is said too
 * (senders keep the old one until the id changes).
 */
import type { PolicyChange, PolicyContract } from '../probe-definition.js';
import type { ProbeResult } from '../probe.types.js';
import type { MtaStsDetails } from './mta-sts.probe.js';

export type MtaStsPolicyState = { id: string | null; mode: string | null; maxAge: number | null; mx: string[]; hash: string | null };

const RANK: Record<string, number> = { none: 0, testing: 1, enforce: 2 };

export const mtaStsPolicy: PolicyContract<MtaStsPolicyState> = {
  state(results: readonly ProbeResult[]): MtaStsPolicyState | undefined {
    const r = results.find((x) => x.probe === 'mta-sts');
    // Untestable, or a policy we could not fetch this time: no conclusion about what is published.
    if (!r || r.status === 'untestable') return undefined;
    const d = r.details as MtaStsDetails;
    if (d.state === 'unreachable' || d.state === 'txt_invalid' || d.state === 'policy_invalid') return undefined;
    return { id: d.id, mode: d.policy?.mode ?? null, maxAge: d.policy?.maxAge ?? null, mx: [...(d.policy?.mx ?? [])].sort(), hash: d.policyHash };
  },

  diff(before: MtaStsPolicyState, after: MtaStsPolicyState): PolicyChange[] {
    if (before.mode === null && after.mode !== null) return [{ kind: 'mta-sts.published', weakening: false, text: `MTA-STS policy published (mode ${after.mode}, id ${after.id})` }];
    if (before.mode !== null && after.mode === null) return [{ kind: 'mta-sts.removed', weakening: true, text: `MTA-STS policy removed (was mode ${before.mode}, id ${before.id})` }];
    const changes: PolicyChange[] = [];
    if (before.mode !== after.mode) {
      const lowered = (RANK[after.mode ?? 'none'] ?? 0) < (RANK[before.mode ?? 'none'] ?? 0);
      changes.push({ kind: lowered ? 'mta-sts.mode_lowered' : 'mta-sts.mode_raised', weakening: lowered, text: `MTA-STS mode ${before.mode} → ${after.mode}` });
    }
    for (const mx of after.mx) if (!before.mx.includes(mx)) changes.push({ kind: 'mta-sts.mx_added', weakening: false, text: `MTA-STS mx ${mx} added` });
    for (const mx of before.mx) if (!after.mx.includes(mx)) changes.push({ kind: 'mta-sts.mx_removed', weakening: true, text: `MTA-STS mx ${mx} removed` });
    if (before.maxAge !== after.maxAge) changes.push({ kind: 'mta-sts.max_age_changed', weakening: false, text: `MTA-STS max_age ${before.maxAge} → ${after.maxAge}` });
    if (before.id !== after.id) changes.push({ kind: 'mta-sts.id_changed', weakening: false, text: `MTA-STS id ${before.id} → ${after.id}` });
    else if (before.hash !== after.hash && changes.length > 0) changes.push({ kind: 'mta-sts.changed_without_new_id', weakening: true, text: `MTA-STS policy changed but its id ${after.id} did not: senders keep the old policy` });
    return changes;
  },
};
