import { describe, expect, it } from 'vitest';
import type { ProbeResult } from '../probe.types.js';
import { danePolicy } from './dane.policy.js';

const KEY_A = 'a'.repeat(64);
const KEY_B = 'b'.repeat(64);

const result = (tlsa: string[], key: string, match: boolean, status: ProbeResult['status'] = 'pass'): ProbeResult => ({
  probe: 'dane', target: 'mx.example.com', status, startedAt: new Date(), durationMs: 1, observations: [],
  details: {
    host: 'mx.example.com',
    tlsa: tlsa.map((data) => ({ usage: 3, selector: 1, matchingType: 1, data })),
    addresses: [{ ip: '192.0.2.1', checked: true, match, leafSpkiSha256: key, leafNotAfter: null, problem: null }],
  },
});

describe('danePolicy', () => {
  it('should take no state from a run in which a DANE result was untestable', () => {
    expect(danePolicy.state([result([KEY_A], KEY_A, true, 'untestable')])).toBeUndefined();
  });

  it('should say a removed TLSA record and a new key that nothing matches weaken DANE', () => {
    const before = danePolicy.state([result([KEY_A], KEY_A, true)])!;
    const after = danePolicy.state([result([KEY_B], KEY_B, false)])!;
    expect(danePolicy.diff(before, after).map((c) => [c.kind, c.weakening])).toEqual([
      ['dane.tlsa_added', false],
      ['dane.tlsa_removed', true],
      ['dane.key_changed_unmatched', true],
    ]);
  });

  it('should report a key rollover that a TLSA record already covers as information', () => {
    const before = danePolicy.state([result([KEY_A, KEY_B], KEY_A, true)])!;
    const after = danePolicy.state([result([KEY_A, KEY_B], KEY_B, true)])!;
    expect(danePolicy.diff(before, after)).toEqual([{ kind: 'dane.key_changed', weakening: false, text: `mx.example.com[192.0.2.1] presents a new key (${KEY_B.slice(0, 12)}…)` }]);
    expect(danePolicy.diff(before, before)).toEqual([]);
  });
});
