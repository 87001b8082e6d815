import { describe, expect, it } from 'vitest';
import { bimiPolicy } from './bimi.policy.js';

describe('bimiPolicy', () => {
  const rec = (l: string | null) => ({ record: l ? `v=BIMI1; l=${l}` : null, logoUrl: l, authorityUrl: null });
  it('should report a published, changed and removed record as information', () => {
    expect(bimiPolicy.diff(rec(null), rec('https://example.com/a.svg'))).toEqual([{ kind: 'bimi.published', weakening: false, text: 'BIMI record published' }]);
    expect(bimiPolicy.diff(rec('https://example.com/a.svg'), rec('https://example.com/b.svg'))).toEqual([{ kind: 'bimi.changed', weakening: false, text: 'BIMI record changed: logo https://example.com/a.svg → https://example.com/b.svg' }]);
    expect(bimiPolicy.diff(rec('https://example.com/a.svg'), rec(null))).toEqual([{ kind: 'bimi.removed', weakening: false, text: 'BIMI record removed' }]);
    expect(bimiPolicy.diff(rec('x'), rec('x'))).toEqual([]);
  });
});
