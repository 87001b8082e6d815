/**
 * The MX set as published policy: which hosts receive the domain's mail, at which preference,
 * and whether it publishes a null MX. A host leaving the set is a weakening (mail has fewer
 * places to go, or a provider was dropped); a host appearing is worth knowing about.
 */
import type { PolicyChange, PolicyContract } from '../probe-definition.js';
import type { ProbeResult } from '../probe.types.js';
import type { MxDetails } from './mx.probe.js';

export type MxPolicyState = { nullMx: boolean; implicit: boolean; hosts: Array<{ host: string; preference: number }> };

export const mxPolicy: PolicyContract<MxPolicyState> = {
  state(results: readonly ProbeResult[]): MxPolicyState | undefined {
    const r = results.find((x) => x.probe === 'mx');
    if (!r || r.status === 'untestable') return undefined;
    const d = r.details as MxDetails;
    // A cut answer (MXWATCH_MAX_MX_HOSTS) is not the whole set: comparing it would invent removals.
    if (d.truncated) return undefined;
    return {
      nullMx: d.nullMx,
      implicit: d.implicit,
      hosts: [...d.hosts].map((h) => ({ host: h.host, preference: h.preference })).sort((a, b) => a.host.localeCompare(b.host)),
    };
  },

  diff(before: MxPolicyState, after: MxPolicyState): PolicyChange[] {
    const changes: PolicyChange[] = [];
    if (before.nullMx !== after.nullMx) {
      changes.push(
        after.nullMx
          ? { kind: 'mx.null_mx_published', weakening: true, text: 'Null MX published: the domain now says it receives no mail' }
          : { kind: 'mx.null_mx_removed', weakening: false, text: 'Null MX removed' },
      );
    }
    const was = new Map(before.hosts.map((h) => [h.host, h.preference]));
    const now = new Map(after.hosts.map((h) => [h.host, h.preference]));
    for (const [host, preference] of now) {
      if (!was.has(host)) changes.push({ kind: 'mx.host_added', weakening: false, text: `MX ${host} added (preference ${preference})` });
      else if (was.get(host) !== preference) changes.push({ kind: 'mx.preference_changed', weakening: false, text: `MX ${host} preference ${was.get(host)} → ${preference}` });
    }
    for (const host of was.keys()) if (!now.has(host)) changes.push({ kind: 'mx.host_removed', weakening: true, text: `MX ${host} removed` });
    if (before.implicit !== after.implicit && !after.nullMx && !before.nullMx) {
      changes.push(after.implicit ? { kind: 'mx.records_removed', weakening: true, text: 'MX records removed: senders fall back to the domain\'s own address' } : { kind: 'mx.records_published', weakening: false, text: 'MX records published' });
    }
    return changes;
  },
};
