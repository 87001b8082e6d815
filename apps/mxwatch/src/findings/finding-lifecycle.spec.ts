import { describe, expect, it } from 'vitest';
import { planLifecycle, planMonitorLifecycle, type ActiveFinding, type ActiveMonitorFinding } from './finding-lifecycle.js';
import type { FindingDraft } from './findings.rules.js';

const draft = (code: FindingDraft['code'], target: string): FindingDraft => ({
  code,
  target,
  severity: 'critical',
  probe: 'starttls',
  message: 'm',
  remediation: 'r',
  evidence: {},
  scope: 'domain',
});

const active = (over: Partial<ActiveFinding>): ActiveFinding => ({ id: 'f1', code: 'STARTTLS_NOT_OFFERED', target: 't', status: 'open', seenCount: 2, missCount: 0, ...over });

describe('planLifecycle', () => {
  it('should create a pending finding when alertAfter is above one', () => {
    expect(planLifecycle([], [draft('STARTTLS_NOT_OFFERED', 't')], () => true, 2)).toEqual([
      { kind: 'create', draft: draft('STARTTLS_NOT_OFFERED', 't'), status: 'pending' },
    ]);
  });

  it('should open at once when alertAfter is one', () => {
    expect(planLifecycle([], [draft('STARTTLS_NOT_OFFERED', 't')], () => true, 1)[0]).toMatchObject({ kind: 'create', status: 'open' });
  });

  it('should open a pending finding on its alertAfter-th sighting', () => {
    const changes = planLifecycle([active({ status: 'pending', seenCount: 1 })], [draft('STARTTLS_NOT_OFFERED', 't')], () => true, 2);
    expect(changes).toEqual([{ kind: 'seen', id: 'f1', draft: draft('STARTTLS_NOT_OFFERED', 't'), seenCount: 2, opens: true }]);
  });

  it('should not reopen an open finding that is seen again', () => {
    const changes = planLifecycle([active({ seenCount: 5 })], [draft('STARTTLS_NOT_OFFERED', 't')], () => true, 2);
    expect(changes[0]).toMatchObject({ kind: 'seen', opens: false, seenCount: 6 });
  });

  it('should resolve an open finding after alertAfter covered runs without it', () => {
    expect(planLifecycle([active({ missCount: 0 })], [], () => true, 2)).toEqual([{ kind: 'miss', id: 'f1', missCount: 1, resolves: false }]);
    expect(planLifecycle([active({ missCount: 1 })], [], () => true, 2)).toEqual([{ kind: 'miss', id: 'f1', missCount: 2, resolves: true }]);
  });

  it('should leave findings untouched by runs that could not test them', () => {
    expect(planLifecycle([active({}), active({ id: 'f2', status: 'pending' })], [], () => false, 2)).toEqual([]);
  });

  it('should drop a pending finding that a covered run no longer shows', () => {
    expect(planLifecycle([active({ status: 'pending', seenCount: 1 })], [], () => true, 3)).toEqual([{ kind: 'drop', id: 'f1' }]);
  });
});

describe(planMonitorLifecycle.name, () => {
  const T = (s: number) => new Date(Date.UTC(2026, 5, 1, 12, 0, s));
  const mdraft: FindingDraft = { code: 'MONITOR_X', target: 'resolver', severity: 'warning', probe: 'dnssec', message: 'm', remediation: 'r', evidence: {}, scope: 'monitor' };
  const mactive = (over: Partial<ActiveMonitorFinding>): ActiveMonitorFinding => ({ id: 'm1', code: 'MONITOR_X', target: 'resolver', probe: 'dnssec', status: 'open', seenCount: 3, missCount: 0, lastSeenAt: T(10), ...over });
  const plan = (active: ActiveMonitorFinding[], drafts: FindingDraft[], observedAt: Date, lastResolvedAt?: Date) =>
    planMonitorLifecycle(active, drafts, () => true, 2, () => observedAt, () => lastResolvedAt);

  it('should create, then count each later run\'s sighting, whichever domain it checked', () => {
    expect(plan([], [mdraft], T(5))).toEqual([{ kind: 'create', draft: mdraft, status: 'pending' }]);
    expect(plan([mactive({ status: 'pending', seenCount: 1 })], [mdraft], T(11))).toEqual([{ kind: 'seen', id: 'm1', draft: mdraft, seenCount: 2, opens: true }]);
  });

  it('should not let a run that looked before the last sighting count a miss or drop a pending episode', () => {
    expect(plan([mactive({})], [], T(9))).toEqual([]);
    expect(plan([mactive({ status: 'pending', seenCount: 1 })], [], T(9))).toEqual([]);
    expect(plan([mactive({})], [], T(10))).toEqual([{ kind: 'miss', id: 'm1', missCount: 1, resolves: false }]);
  });

  it('should not let a run that looked before the last episode resolved start a new one (no reopening by a slow run)', () => {
    expect(plan([], [mdraft], T(20), T(30))).toEqual([]);
    expect(plan([], [mdraft], T(30), T(30))).toEqual([]);
    expect(plan([], [mdraft], T(31), T(30))).toEqual([{ kind: 'create', draft: mdraft, status: 'pending' }]);
  });

  it('should leave an episode alone when the run could not see it', () => {
    expect(planMonitorLifecycle([mactive({})], [], () => false, 2, () => T(50), () => undefined)).toEqual([]);
  });
});
