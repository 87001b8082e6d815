import { describe, expect, it } from 'vitest';
import { planLifecycle, type ActiveFinding } from './finding-lifecycle.js';
import type { FindingDraft } from './findings.rules.js';

const draft = (code: FindingDraft['code'], target: string): FindingDraft => ({
  code,
  target,
  severity: 'critical',
  probe: 'starttls',
  message: 'm',
  remediation: 'r',
  evidence: {},
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
