import { describe, expect, it } from 'vitest';
import { dmarcPolicy, type DmarcPolicyState } from './dmarc.policy.js';

const s = (policy: string | null, pct: string | null = null): DmarcPolicyState => ({ record: policy ? `v=DMARC1; p=${policy}${pct ? `; pct=${pct}` : ''}` : null, policy, recordDomain: 'example.com', pct });

describe('dmarcPolicy', () => {
  it('should call a lowered policy a weakening and a raised one information', () => {
    expect(dmarcPolicy.diff(s('reject'), s('none'))).toEqual([{ kind: 'dmarc.policy_lowered', weakening: true, text: 'DMARC policy reject → none' }]);
    expect(dmarcPolicy.diff(s('none'), s('quarantine'))).toEqual([{ kind: 'dmarc.policy_raised', weakening: false, text: 'DMARC policy none → quarantine' }]);
  });

  it('should report a removed record as a weakening, and a lowered pct', () => {
    expect(dmarcPolicy.diff(s('reject'), s(null))).toEqual([{ kind: 'dmarc.removed', weakening: true, text: 'DMARC record removed (was policy reject)' }]);
    expect(dmarcPolicy.diff(s('reject'), s('reject', '20'))).toEqual([{ kind: 'dmarc.pct_lowered', weakening: true, text: 'DMARC pct 100 → 20' }]);
  });

  it('should take no state from an untestable run', () => {
    expect(dmarcPolicy.state([{ probe: 'dmarc', status: 'untestable', details: {} }] as never)).toBeUndefined();
  });
});
