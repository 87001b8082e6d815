/**
 * DANE as published policy and as presented: the TLSA set of every MX host and the key each MX
 * address presents. "TLSA 3 1 1 ab12… removed from _25._tcp.mx.example.net", "mx.example.net
 * (192.0.2.1) presents a new key". A removed record or a new key no TLSA matches weakens it.
 */
import type { PolicyChange, PolicyContract } from '../probe-definition.js';
import type { ProbeResult } from '../probe.types.js';
import type { DaneDetails } from './dane.probe.js';

export type DanePolicyState = {
  /** host -> TLSA records as "usage selector matching data" (sorted). */
  tlsa: Record<string, string[]>;
  /** "host[ip]" -> SPKI sha256 of the leaf presented, and whether a TLSA matched it. */
  keys: Record<string, { spki: string; match: boolean | null }>;
};

const short = (rr: string) => (rr.length > 40 ? `${rr.slice(0, 40)}…` : rr);

export const danePolicy: PolicyContract<DanePolicyState> = {
  state(results: readonly ProbeResult[]): DanePolicyState | undefined {
    const mine = results.filter((x) => x.probe === 'dane');
    if (mine.length === 0 || mine.some((r) => r.status === 'untestable')) return undefined;
    const state: DanePolicyState = { tlsa: {}, keys: {} };
    for (const r of mine) {
      const d = r.details as DaneDetails;
      state.tlsa[d.host] = d.tlsa.map((t) => `${t.usage} ${t.selector} ${t.matchingType} ${t.data}`).sort();
      for (const a of d.addresses) if (a.checked && a.leafSpkiSha256) state.keys[`${d.host}[${a.ip}]`] = { spki: a.leafSpkiSha256, match: a.match };
    }
    return state;
  },

  diff(before: DanePolicyState, after: DanePolicyState): PolicyChange[] {
    const changes: PolicyChange[] = [];
    for (const [host, records] of Object.entries(after.tlsa)) {
      const old = before.tlsa[host];
      if (!old) continue;
      for (const rr of records) if (!old.includes(rr)) changes.push({ kind: 'dane.tlsa_added', weakening: false, text: `TLSA ${short(rr)} added at _25._tcp.${host}` });
      for (const rr of old) if (!records.includes(rr)) changes.push({ kind: 'dane.tlsa_removed', weakening: true, text: `TLSA ${short(rr)} removed from _25._tcp.${host}` });
    }
    for (const [where, key] of Object.entries(after.keys)) {
      const old = before.keys[where];
      if (!old || old.spki === key.spki) continue;
      const unmatched = key.match === false;
      changes.push({ kind: unmatched ? 'dane.key_changed_unmatched' : 'dane.key_changed', weakening: unmatched, text: `${where} presents a new key (${key.spki.slice(0, 12)}…)${unmatched ? ' that no TLSA record matches' : ''}` });
    }
    return changes;
  },
};
