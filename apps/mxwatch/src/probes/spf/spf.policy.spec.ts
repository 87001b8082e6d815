import { describe, expect, it } from 'vitest';
import { allQualifier, spfPolicy, type SpfPolicyState } from './spf.policy.js';

const s = (record: string | null, includes: string[], lookups: number): SpfPolicyState => ({ record, all: allQualifier(record), includes, lookups });

describe('spfPolicy', () => {
  it('should name an added include and the lookup count it brings, weakening when it crosses the limit of 10', () => {
    const before = s('v=spf1 include:_spf.example.com -all', ['_spf.example.com'], 7);
    const after = s('v=spf1 include:_spf.example.com include:_spf.vendor.example -all', ['_spf.example.com', '_spf.vendor.example'], 11);
    expect(spfPolicy.diff(before, after)).toEqual([{ kind: 'spf.include_added', weakening: true, text: 'SPF include _spf.vendor.example added; DNS lookups 7 → 11' }]);
  });

  it('should call a loosened all a weakening and a tightened one information', () => {
    expect(spfPolicy.diff(s('v=spf1 mx -all', [], 1), s('v=spf1 mx ~all', [], 1))).toEqual([{ kind: 'spf.all_loosened', weakening: true, text: 'SPF -all → ~all' }]);
    expect(spfPolicy.diff(s('v=spf1 mx ?all', [], 1), s('v=spf1 mx -all', [], 1))).toEqual([{ kind: 'spf.all_tightened', weakening: false, text: 'SPF ?all → -all' }]);
    expect(spfPolicy.diff(s('v=spf1 mx -all', [], 1), s('v=spf1 mx all', [], 1))[0]).toMatchObject({ kind: 'spf.all_loosened', weakening: true, text: 'SPF -all → +all' });
  });

  it('should report a removed record as a weakening and a published one as information', () => {
    expect(spfPolicy.diff(s('v=spf1 -all', [], 0), s(null, [], 0))).toEqual([{ kind: 'spf.removed', weakening: true, text: 'SPF record removed' }]);
    expect(spfPolicy.diff(s(null, [], 0), s('v=spf1 -all', [], 0))[0]).toMatchObject({ kind: 'spf.published', weakening: false });
  });

  it('should see no change in an identical record', () => {
    expect(spfPolicy.diff(s('v=spf1 mx -all', [], 1), s('v=spf1 mx -all', [], 1))).toEqual([]);
  });

  it('should read the all qualifier like RFC 7208 (no qualifier is +)', () => {
    expect(['v=spf1 -all', 'v=spf1 ~all', 'v=spf1 all', 'v=spf1 mx', 'v=spf1 redirect=_spf.example.com'].map(allQualifier)).toEqual(['-', '~', '+', 'none', 'redirect']);
  });
});
