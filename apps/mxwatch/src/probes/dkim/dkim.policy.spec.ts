import { describe, expect, it } from 'vitest';
import { dkimPolicy, type DkimPolicyState } from './dkim.policy.js';

const key = (fingerprint: string | null, bits: number | null, over: object = {}) => ({ fingerprint, bits, keyType: 'rsa', revoked: false, present: fingerprint !== null, ...over });
const s = (selectors: DkimPolicyState['selectors']): DkimPolicyState => ({ selectors });

describe('dkimPolicy', () => {
  it('should call a key replaced by a shorter one a weakening, naming both sizes', () => {
    expect(dkimPolicy.diff(s({ s1: key('aa', 2048) }), s({ s1: key('bb', 1024) }))).toEqual([{ kind: 'dkim.key_weakened', weakening: true, text: 'DKIM key s1 replaced (2048 → 1024 bits)' }]);
    expect(dkimPolicy.diff(s({ s1: key('aa', 1024) }), s({ s1: key('bb', 2048) }))).toEqual([{ kind: 'dkim.key_replaced', weakening: false, text: 'DKIM key s1 replaced (1024 → 2048 bits)' }]);
  });

  it('should report removed and revoked keys as weakenings, and ignore a selector the operator no longer names', () => {
    expect(dkimPolicy.diff(s({ s1: key('aa', 2048), s2: key('cc', 2048) }), s({ s1: key(null, null), s3: key('dd', 2048) }))).toEqual([{ kind: 'dkim.key_removed', weakening: true, text: 'DKIM key s1 removed' }]);
    expect(dkimPolicy.diff(s({ s1: key('aa', 2048) }), s({ s1: key('aa', 2048, { revoked: true }) }))[0]).toMatchObject({ kind: 'dkim.key_revoked', weakening: true });
  });

  it('should take no state when any selector was untestable', () => {
    const r = (status: string, selector: string) => ({ probe: 'dkim', status, details: { selector, fingerprint: 'aa', bits: 2048, keyType: 'rsa', revoked: false, record: 'v=DKIM1; p=x' } });
    expect(dkimPolicy.state([r('pass', 's1'), r('untestable', 's2')] as never)).toBeUndefined();
    expect(dkimPolicy.state([r('pass', 's1')] as never)).toEqual(s({ s1: key('aa', 2048) }));
  });
});
