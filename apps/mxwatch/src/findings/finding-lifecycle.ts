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
  | { kind: 'drop'; id: string }
  /**
   * Closed without a notification: a per-domain row of a code that is now about the monitor (stored
   * before such findings were kept once); the monitor's own finding carries it from now on.
   */
  | { kind: 'retire'; id: string };

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

/** An active finding about the monitor, with what the stale-run guard needs. */
export interface ActiveMonitorFinding extends ActiveFinding {
  probe: string;
  lastSeenAt: Date;
}

/**
 * The lifecycle of findings about the monitor itself, which every domain's run reports on. Runs of
 * many domains finish out of order (concurrently, on several workers), so a run's word counts only
 * when it looked after what is stored: a run that started before the last sighting cannot count a
 * miss (nor drop a pending one), and a run that looked before the last episode resolved cannot
 * start a new one. Without that, a slow run finishing after a fix would reopen what just resolved.
 * `observedAt(probe)`: when this run's results of that probe were obtained. Each (code, target) has
 * at most one active episode: the caller plans and applies under one lock.
 */
export function planMonitorLifecycle(
  active: ActiveMonitorFinding[],
  drafts: FindingDraft[],
  covered: (f: ActiveMonitorFinding) => boolean,
  alertAfter: number,
  observedAt: (probe: string) => Date,
  lastResolvedAt: (code: string, target: string) => Date | undefined,
): LifecycleChange[] {
  const byId = new Map(active.map((f) => [f.id, f]));
  const changes = planLifecycle(active, drafts, (f) => covered(byId.get(f.id)!), alertAfter);
  return changes.filter((c) => {
    switch (c.kind) {
      case 'create': {
        const resolvedAt = lastResolvedAt(c.draft.code, c.draft.target);
        return resolvedAt === undefined || observedAt(c.draft.probe) > resolvedAt;
      }
      case 'miss':
      case 'drop': {
        const f = byId.get(c.id)!;
        return observedAt(f.probe) >= f.lastSeenAt;
      }
      default:
        return true;
    }
  });
}
