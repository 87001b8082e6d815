/**
 * DKIM keys as published policy, per selector the operator named: the key's fingerprint, type
 * and size. "DKIM key s1 replaced (2048 → 1024 bits)". A shorter key, a revoked or removed key
 * weakens signing. A selector no longer configured is not a change (the operator dropped it).
 */
import type { PolicyChange, PolicyContract } from '../probe-definition.js';
import type { ProbeResult } from '../probe.types.js';
import type { DkimDetails } from './dkim.probe.js';

type Key = { fingerprint: string | null; bits: number | null; keyType: string | null; revoked: boolean; present: boolean };
export type DkimPolicyState = { selectors: Record<string, Key> };

const size = (k: Key) => (k.bits !== null ? `${k.bits} bits` : (k.keyType ?? 'unknown'));

export const dkimPolicy: PolicyContract<DkimPolicyState> = {
  state(results: readonly ProbeResult[]): DkimPolicyState | undefined {
    const rs = results.filter((x) => x.probe === 'dkim');
    // One selector we could not look up makes the run say nothing about any (no half states).
    if (rs.length === 0 || rs.some((r) => r.status === 'untestable')) return undefined;
    const selectors: Record<string, Key> = {};
    for (const r of rs) {
      const d = r.details as DkimDetails;
      selectors[d.selector] = { fingerprint: d.fingerprint, bits: d.bits, keyType: d.keyType, revoked: d.revoked, present: d.record !== null };
    }
    return { selectors };
  },

  diff(before: DkimPolicyState, after: DkimPolicyState): PolicyChange[] {
    const changes: PolicyChange[] = [];
    for (const [selector, now] of Object.entries(after.selectors).sort(([a], [b]) => a.localeCompare(b))) {
      const was = before.selectors[selector];
      if (!was) continue;
      if (was.present && !now.present) changes.push({ kind: 'dkim.key_removed', weakening: true, text: `DKIM key ${selector} removed` });
      else if (!was.present && now.present) changes.push({ kind: 'dkim.key_published', weakening: false, text: `DKIM key ${selector} published (${size(now)})` });
      else if (!was.revoked && now.revoked) changes.push({ kind: 'dkim.key_revoked', weakening: true, text: `DKIM key ${selector} revoked` });
      else if (was.fingerprint !== now.fingerprint) {
        const weaker = was.bits !== null && now.bits !== null && now.bits < was.bits;
        changes.push({ kind: weaker ? 'dkim.key_weakened' : 'dkim.key_replaced', weakening: weaker, text: `DKIM key ${selector} replaced (${was.bits !== null && now.bits !== null ? `${was.bits} → ${now.bits} bits` : `${size(was)} → ${size(now)}`})` });
      }
    }
    return changes;
  },
};
