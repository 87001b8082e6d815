/**
 * SPF as published policy: the record, its `all` qualifier, the includes of the evaluated tree
 * and the DNS lookups it costs a receiver. "SPF include _spf.vendor.example added; DNS lookups
 * 7 → 11". Loosening `all`, removing the record, or crossing the 10-lookup limit weakens it.
 */
import type { PolicyChange, PolicyContract } from '../probe-definition.js';
import type { ProbeResult } from '../probe.types.js';
import type { SpfNode } from './spf-evaluator.js';
import type { SpfDetails } from './spf.probe.js';

export type SpfPolicyState = { record: string | null; all: string | null; includes: string[]; lookups: number };

/** Strictest first: `-all` fails strangers, `+all` lets anyone send. No `all` behaves like `?all`. */
const ALL_RANK: Record<string, number> = { '-': 0, '~': 1, '?': 2, none: 2, '+': 3 };
const ALL_TEXT: Record<string, string> = { '-': '-all', '~': '~all', '?': '?all', '+': '+all', none: 'no all' };

export function allQualifier(record: string | null): string | null {
  if (record === null) return null;
  const m = /(?:^|\s)([+\-~?]?)all(?=\s|$)/i.exec(record);
  if (!m) return /(?:^|\s)redirect=/i.test(record) ? 'redirect' : 'none';
  return m[1] || '+';
}

function includes(node: SpfNode | null): string[] {
  if (!node) return [];
  const out = new Set<string>();
  const walk = (n: SpfNode) => {
    for (const c of n.children) {
      out.add(c.domain);
      walk(c);
    }
  };
  walk(node);
  return [...out].sort();
}

export const spfPolicy: PolicyContract<SpfPolicyState> = {
  state(results: readonly ProbeResult[]): SpfPolicyState | undefined {
    const r = results.find((x) => x.probe === 'spf');
    if (!r || r.status === 'untestable') return undefined;
    const d = r.details as SpfDetails;
    return { record: d.record, all: allQualifier(d.record), includes: includes(d.tree), lookups: d.lookups };
  },

  diff(before: SpfPolicyState, after: SpfPolicyState): PolicyChange[] {
    if (before.record === null && after.record !== null) return [{ kind: 'spf.published', weakening: false, text: `SPF record published: ${after.record}` }];
    if (before.record !== null && after.record === null) return [{ kind: 'spf.removed', weakening: true, text: 'SPF record removed' }];
    if (before.record === after.record && before.lookups === after.lookups && before.includes.join() === after.includes.join()) return [];
    const changes: PolicyChange[] = [];
    const b = before.all ?? 'none';
    const a = after.all ?? 'none';
    if (b !== a && b !== 'redirect' && a !== 'redirect') {
      const looser = (ALL_RANK[a] ?? 2) > (ALL_RANK[b] ?? 2);
      changes.push({ kind: looser ? 'spf.all_loosened' : 'spf.all_tightened', weakening: looser, text: `SPF ${ALL_TEXT[b] ?? b} → ${ALL_TEXT[a] ?? a}` });
    }
    const added = after.includes.filter((i) => !before.includes.includes(i));
    const removed = before.includes.filter((i) => !after.includes.includes(i));
    const lookups = before.lookups !== after.lookups ? `DNS lookups ${before.lookups} → ${after.lookups}` : null;
    // Crossing the limit makes receivers answer permerror: the whole policy stops working.
    const overLimit = before.lookups <= 10 && after.lookups > 10;
    const parts = [...added.map((i) => `SPF include ${i} added`), ...removed.map((i) => `SPF include ${i} removed`)];
    if (parts.length > 0) {
      changes.push({
        kind: added.length > 0 ? 'spf.include_added' : 'spf.include_removed',
        weakening: overLimit,
        text: [parts.join('; '), lookups].filter(Boolean).join('; '),
      });
    } else if (lookups) {
      changes.push({ kind: 'spf.lookups_changed', weakening: overLimit, text: `SPF ${lookups}` });
    }
    if (changes.length === 0) changes.push({ kind: 'spf.record_changed', weakening: false, text: `SPF record changed: ${before.record} → ${after.record}` });
    return changes;
  },
};
