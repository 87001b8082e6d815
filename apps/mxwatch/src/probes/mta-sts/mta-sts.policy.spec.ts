import { describe, expect, it } from 'vitest';
import type { ProbeResult } from '../probe.types.js';
import { mtaStsPolicy } from './mta-sts.policy.js';

const result = (details: Record<string, unknown>, status: ProbeResult['status'] = 'pass'): ProbeResult => ({
  probe: 'mta-sts', target: 'example.com', status, startedAt: new Date(), durationMs: 1, observations: [],
  details: { domain: 'example.com', state: 'enforce', id: '20260101', policyHash: 'h1', policy: { mode: 'enforce', maxAge: 604800, mx: ['mx1.example.com', '*.example.net'] }, ...details },
});

describe('mtaStsPolicy', () => {
  it('should take no state from an untestable run or a policy it could not fetch (never a change)', () => {
    expect(mtaStsPolicy.state([result({}, 'untestable')])).toBeUndefined();
    expect(mtaStsPolicy.state([result({ state: 'unreachable' })])).toBeUndefined();
    expect(mtaStsPolicy.state([result({ state: 'missing', id: null, policy: null, policyHash: null })])).toEqual({ id: null, mode: null, maxAge: null, mx: [], hash: null });
  });

  it('should say a lowered mode and a removed mx line weaken the policy, with the new id', () => {
    const before = mtaStsPolicy.state([result({})])!;
    const after = mtaStsPolicy.state([result({ id: '20260202', policyHash: 'h2', state: 'testing', policy: { mode: 'testing', maxAge: 604800, mx: ['mx1.example.com'] } })])!;
    expect(mtaStsPolicy.diff(before, after)).toEqual([
      { kind: 'mta-sts.mode_lowered', weakening: true, text: 'MTA-STS mode enforce → testing' },
      { kind: 'mta-sts.mx_removed', weakening: true, text: 'MTA-STS mx *.example.net removed' },
      { kind: 'mta-sts.id_changed', weakening: false, text: 'MTA-STS id 20260101 → 20260202' },
    ]);
  });

  it('should flag a policy changed under the same id, and removal while it was published', () => {
    const before = mtaStsPolicy.state([result({})])!;
    const sameId = mtaStsPolicy.state([result({ policyHash: 'h2', policy: { mode: 'enforce', maxAge: 86400, mx: ['mx1.example.com', '*.example.net'] } })])!;
    expect(mtaStsPolicy.diff(before, sameId).map((c) => c.kind)).toEqual(['mta-sts.max_age_changed', 'mta-sts.changed_without_new_id']);
    const gone = mtaStsPolicy.state([result({ state: 'missing', id: null, policy: null, policyHash: null })])!;
    expect(mtaStsPolicy.diff(before, gone)).toEqual([{ kind: 'mta-sts.removed', weakening: true, text: 'MTA-STS policy removed (was mode enforce, id 20260101)' }]);
    expect(mtaStsPolicy.diff(before, before)).toEqual([]);
  });
});
