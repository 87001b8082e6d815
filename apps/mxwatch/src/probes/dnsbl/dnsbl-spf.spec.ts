import { describe, expect, it } from 'vitest';
import type { DomainInput, PlanView, ProbeEnv } from '../probe-definition.js';
import type { ProbeResult } from '../probe.types.js';
import { MemoryResolver, testContext } from '../spf/memory-resolver.fixture.js';
import { dnsblProbe } from './dnsbl.definition.js';

const D = 'example.test';

function plan(ownNetworks: string[], sendingIps: string[] = [], spfStatus = 'pass'): PlanView {
  const results: Record<string, ProbeResult[]> = {
    mx: [{ probe: 'mx', target: D, status: 'pass', startedAt: new Date(), durationMs: 1, observations: [], details: { domain: D, nullMx: false, implicit: false, hosts: [{ host: 'mx.example.test', preference: 10, addresses: ['198.51.100.25'], cname: null, ipLiteral: false, resolveError: null }] } }],
    spf: [{ probe: 'spf', target: D, status: spfStatus as ProbeResult['status'], startedAt: new Date(), durationMs: 1, observations: [], details: { ownNetworks } }],
  };
  return { domain: { name: D, submissionHosts: [], sendingIps, dkimSelectors: [] } as DomainInput, results: (p) => results[p] ?? [], once: (_k, fn) => fn() };
}

const env: ProbeEnv = { shared: (_k, fn) => fn(), exclusive: (_k, fn) => fn() };

describe('dnsblProbe with SPF-derived sending addresses', () => {
  const zone = 'zen.spamhaus.org';
  const resolver = () =>
    new MemoryResolver({
      [`2.0.0.127.${zone}`]: { A: ['127.0.0.2'] },
      [`7.100.51.198.${zone}`]: { A: ['127.0.0.2'] },
      [`25.100.51.198.${zone}`]: { A: ['127.0.0.2'] },
      // Makes the zone's apex exist, so unlisted names are NXDOMAIN below an existing zone.
      [zone]: { TXT: ['zone'] },
    });
  const ctx = () => testContext(resolver(), { settings: { ...testContext(resolver()).settings, dnsblZones: [zone] } });

  it('should query the addresses the own SPF part authorises, beside MX and configured ones, without repeating any', async () => {
    const work = await dnsblProbe.subjects(plan(['198.51.100.7/32', '198.51.100.25/32', '203.0.113.0/30', '10.0.0.0/8'], ['198.51.100.9']), ctx());
    expect(work.map((w) => [w.subject.kind === 'ip' ? w.subject.ip : w.subject.domain, w.spfDerived ?? false])).toEqual([
      ['198.51.100.25', false],
      ['198.51.100.9', false],
      ['198.51.100.7', true],
      ['203.0.113.0', true],
      ['203.0.113.1', true],
      ['203.0.113.2', true],
      ['203.0.113.3', true],
    ]);
    expect(dnsblProbe.needs).toContain('spf');
  });

  it('should ask nothing more when the SPF result was untestable', async () => {
    const work = await dnsblProbe.subjects(plan(['198.51.100.7/32'], [], 'untestable'), ctx());
    expect(work.map((w) => w.spfDerived ?? false)).toEqual([false]);
  });

  it('should report a listing of an SPF-derived address as DNSBL_SPF_IP_LISTED (warning), and of an MX address as DNSBL_LISTED', async () => {
    const c = ctx();
    const work = await dnsblProbe.subjects(plan(['198.51.100.7/32']), c);
    const results = await Promise.all(work.map((w) => dnsblProbe.run(c, w, env)));
    expect(results.map((r) => [r!.target, r!.status, r!.observations.map((o) => o.code)])).toEqual([
      [`198.51.100.25@${zone}`, 'fail', ['DNSBL_LISTED']],
      [`198.51.100.7@${zone}`, 'warn', ['DNSBL_SPF_IP_LISTED']],
    ]);
    expect(dnsblProbe.findings.DNSBL_SPF_IP_LISTED?.severity).toBe('warning');
  });
});
