import type { FindingDraft } from './findings.rules.js';

export interface ActiveFinding {
  id: string;
  code: string;
  target: string;
  status: 'pending' | 'open';
  seenCount: number;
  missCount: number;
}

export type LifecycleChange =
  | { kind: 'create'; draft: FindingDraft; status: 'pending' | 'open' }
  | { kind: 'seen'; id: string; draft: FindingDraft; seenCount: number; opens: boolean }
  | { kind: 'miss'; id: string; missCount: number; resolves: boolean }
  | { kind: 'drop'; id: string };

/**
 * Pure finding lifecycle. A finding opens after `alertAfter` consecutive runs show it and
 * resolves after `alertAfter` consecutive covered runs do not, so one flaky probe pages nobody.
 * A pending finding that is not seen again is dropped: it never alerted.
 * Runs that could not test a finding (not covered) leave it untouched.
 */
export function planLifecycle(
  active: ActiveFinding[],
  drafts: FindingDraft[],
  covered: (f: ActiveFinding) => boolean,
  alertAfter: number,
): LifecycleChange[] {
  const changes: LifecycleChange[] = [];
  const byKey = new Map(active.map((f) => [`${f.code}\u0000${f.target}`, f]));
  const seenKeys = new Set<string>();
  for (const draft of drafts) {
    const key = `${draft.code}\u0000${draft.target}`;
    seenKeys.add(key);
    const f = byKey.get(key);
    if (!f) {
      changes.push({ kind: 'create', draft, status: alertAfter <= 1 ? 'open' : 'pending' });
      continue;
    }
    const seenCount = f.seenCount + 1;
    changes.push({ kind: 'seen', id: f.id, draft, seenCount, opens: f.status === 'pending' && seenCount >= alertAfter });
  }
  for (const f of active) {
    if (seenKeys.has(`${f.code}\u0000${f.target}`) || !covered(f)) continue;
    if (f.status === 'pending') {
      changes.push({ kind: 'drop', id: f.id });
      continue;
    }
    const missCount = f.missCount + 1;
    changes.push({ kind: 'miss', id: f.id, missCount, resolves: missCount >= alertAfter });
  }
  return changes;
}
