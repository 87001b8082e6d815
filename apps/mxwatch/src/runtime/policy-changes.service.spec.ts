import { describe, expect, it } from 'vitest';
import type { ProbeResult } from '../probes/probe.types.js';
import { dmarcPolicy } from '../probes/dmarc/dmarc.policy.js';
import { mxPolicy } from '../probes/mx/mx.policy.js';
import { PROBES } from '../probes/registry.js';
import type { ChangesRepository } from '../storage/changes.repository.js';
import type { DomainsService } from './domains.service.js';
import { EventBus, type CheckCompletedEvent } from './events.js';
import { comparePolicies, PolicyChangesService, statesToStore } from './policy-changes.service.js';

const at = new Date('2026-03-01T10:00:00Z');
const result = (probe: string, status: ProbeResult['status'], details: object): ProbeResult => ({ probe, target: 'example.com', status, startedAt: at, durationMs: 1, details, observations: [] }) as ProbeResult;
const mx = (hosts: string[], status: ProbeResult['status'] = 'pass') => result('mx', status, { domain: 'example.com', nullMx: false, implicit: false, hosts: hosts.map((host, i) => ({ host, preference: 10 * (i + 1), addresses: [], cname: null, ipLiteral: false, resolveError: null })) });
const dmarc = (p: string | null, status: ProbeResult['status'] = 'pass') =>
  result('dmarc', status, { domain: 'example.com', organisationalDomain: 'example.com', recordName: p ? '_dmarc.example.com' : null, recordDomain: p ? 'example.com' : null, record: p ? `v=DMARC1; p=${p}` : null, source: p ? 'domain' : null, tags: p ? { v: 'DMARC1', p } : {}, effectivePolicy: p, policyTag: p ? 'p' : null, reportDestinations: [] });

const probes = [
  { name: 'mx', policy: mxPolicy },
  { name: 'dmarc', policy: dmarcPolicy },
  { name: 'smtp' },
];

describe(comparePolicies.name, () => {
  it('should record the first conclusive states without calling anything a change', () => {
    const r = comparePolicies(probes, [mx(['mx1.example.com', 'mx2.example.net']), dmarc('reject')], new Map());
    expect(r.states.map((s) => s.probe)).toEqual(['mx', 'dmarc']);
    expect(r.changes).toEqual([]);
  });

  it('should report each probe\'s semantic changes against the stored states', () => {
    const first = comparePolicies(probes, [mx(['mx1.example.com', 'mx2.example.net']), dmarc('reject')], new Map());
    const previous = new Map(first.states.map((s) => [s.probe, JSON.parse(JSON.stringify(s.state))]));
    const r = comparePolicies(probes, [mx(['mx1.example.com']), dmarc('none')], previous);
    expect(r.changes).toEqual([
      { probe: 'mx', kind: 'mx.host_removed', weakening: true, text: 'MX mx2.example.net removed' },
      { probe: 'dmarc', kind: 'dmarc.policy_lowered', weakening: true, text: 'DMARC policy reject → none' },
    ]);
  });

  it('should never call an untestable run a change, nor replace the state it is compared with', () => {
    const previous = new Map<string, unknown>([['dmarc', dmarcPolicy.state([dmarc('reject')])]]);
    const blip = comparePolicies(probes, [dmarc(null, 'untestable')], previous);
    expect(blip).toEqual({ states: [], changes: [] });
    // The next conclusive run is compared with the last conclusive one.
    expect(comparePolicies(probes, [dmarc('reject')], previous).changes).toEqual([]);
  });
});

describe(statesToStore.name, () => {
  it('should write only the states that differ from the stored ones, whatever the key order of the stored JSON', () => {
    const first = comparePolicies(probes, [mx(['mx1.example.com', 'mx2.example.net']), dmarc('reject')], new Map());
    expect(statesToStore(first.states, new Map())).toEqual(first.states);
    // As the database hands them back: JSON, keys in jsonb's order rather than ours.
    const reorder = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(reorder) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reorder(x)])) : v;
    const stored = new Map(first.states.map((s) => [s.probe, reorder(JSON.parse(JSON.stringify(s.state)))]));
    const same = comparePolicies(probes, [mx(['mx1.example.com', 'mx2.example.net']), dmarc('reject')], stored);
    expect(statesToStore(same.states, stored)).toEqual([]);
    const lowered = comparePolicies(probes, [mx(['mx1.example.com', 'mx2.example.net']), dmarc('none')], stored);
    expect(statesToStore(lowered.states, stored).map((s) => s.probe)).toEqual(['dmarc']);
  });
});

describe(PolicyChangesService.name, () => {
  function service() {
    const record: unknown[][] = [];
    const repo = { record: async (...args: unknown[]) => (record.push(args), []) } as unknown as ChangesRepository;
    return { svc: new PolicyChangesService(repo, new EventBus(), {} as DomainsService), record };
  }
  const completed = (results: ProbeResult[], policyStates: ReadonlyMap<string, unknown>): CheckCompletedEvent =>
    ({ domain: { id: 'd1', name: 'example.com', labels: {} }, trigger: 'schedule', results, startedAt: at, finishedAt: at, status: 'pass', opened: [], resolved: [], policyStates }) as unknown as CheckCompletedEvent;

  it('should compare with the states the check read along with its findings, and record only what changed', async () => {
    const first = comparePolicies(PROBES, [mx(['a.example.com'])], new Map());
    const stored = new Map(first.states.map((s) => [s.probe, JSON.parse(JSON.stringify(s.state))]));
    const { svc, record } = service();
    await svc.onCompleted(completed([mx(['a.example.com'])], stored));
    expect(record).toEqual([]);
    await svc.onCompleted(completed([mx(['b.example.com'])], stored));
    expect((record[0]![2] as Array<{ kind: string }>).map((c) => c.kind).sort()).toEqual(['mx.host_added', 'mx.host_removed']);
  });
});
