import { describe, expect, it } from 'vitest';
import { mxPolicy, type MxPolicyState } from './mx.policy.js';

const state = (hosts: Array<[string, number]>, over: Partial<MxPolicyState> = {}): MxPolicyState => ({ nullMx: false, implicit: false, hosts: hosts.map(([host, preference]) => ({ host, preference })), ...over });

describe('mxPolicy', () => {
  it('should call a removed MX host a weakening and an added one information', () => {
    expect(mxPolicy.diff(state([['mx1.example.net', 10], ['mx2.example.net', 20]]), state([['mx1.example.net', 10], ['mx3.example.net', 30]]))).toEqual([
      { kind: 'mx.host_added', weakening: false, text: 'MX mx3.example.net added (preference 30)' },
      { kind: 'mx.host_removed', weakening: true, text: 'MX mx2.example.net removed' },
    ]);
  });

  it('should report a preference change and nothing for an unchanged set', () => {
    expect(mxPolicy.diff(state([['mx1.example.net', 10]]), state([['mx1.example.net', 5]]))).toEqual([{ kind: 'mx.preference_changed', weakening: false, text: 'MX mx1.example.net preference 10 → 5' }]);
    expect(mxPolicy.diff(state([['a', 1]]), state([['a', 1]]))).toEqual([]);
  });

  it('should take no state from an untestable or truncated MX answer', () => {
    const r = (status: string, details: object) => [{ probe: 'mx', status, details }] as never;
    expect(mxPolicy.state(r('untestable', { nullMx: false, implicit: false, hosts: [] }))).toBeUndefined();
    expect(mxPolicy.state(r('warn', { nullMx: false, implicit: false, hosts: [], truncated: { hosts: 20, addresses: 0, maxHosts: 10, maxAddresses: 50 } }))).toBeUndefined();
    expect(mxPolicy.state(r('pass', { nullMx: false, implicit: false, hosts: [{ host: 'b', preference: 1 }, { host: 'a', preference: 2 }] }))).toEqual(state([['a', 2], ['b', 1]]));
  });
});
