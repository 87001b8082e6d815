import { describe, expect, it } from 'vitest';
import type { ProbeResult } from '../probe.types.js';
import { MemoryResolver, testContext, type MemoryZone } from './memory-resolver.fixture.js';
import { spfSendingAddresses } from './spf-sending-addresses.js';
import { SPF_FINDINGS } from './spf.findings.js';
import { probeSpf, spfProbe, type SpfDetails } from './spf.probe.js';

const D = 'example.test';

async function probe(zone: MemoryZone, faults: Record<string, 'servfail' | 'timeout' | 'refused'> = {}, domain = D) {
  const result = await probeSpf(testContext(new MemoryResolver(zone, faults)), domain);
  for (const o of result.observations) {
    const spec = SPF_FINDINGS[o.code as keyof typeof SPF_FINDINGS];
    expect(spec, o.code).toBeDefined();
    // Every placeholder of the templates is filled (record text itself may contain "{x}").
    for (const [, key] of `${spec.message} ${spec.remediation}`.matchAll(/\{(\w+)\}/g)) expect(o.params[key!], `${o.code} {${key}}`).not.toBeUndefined();
  }
  return result;
}

const codes = (r: ProbeResult<SpfDetails>) => r.observations.map((o) => o.code).sort();
const obs = (r: ProbeResult<SpfDetails>, code: string) => r.observations.find((o) => o.code === code);

/** n includes, each a record with no lookups of its own. */
function includes(n: number, prefix = 'inc'): { terms: string; zone: MemoryZone } {
  const zone: MemoryZone = {};
  const terms: string[] = [];
  for (let i = 1; i <= n; i++) {
    zone[`${prefix}${i}.vendor.test`] = { TXT: [`v=spf1 ip4:198.51.100.${i} -all`] };
    terms.push(`include:${prefix}${i}.vendor.test`);
  }
  return { terms: terms.join(' '), zone };
}

describe(probeSpf.name, () => {
  it('should pass a healthy policy, with the include tree, per-node lookup counts and the own part flattened', async () => {
    const r = await probe({
      [D]: { TXT: ['some verification token', 'v=spf1 ip4:192.0.2.0/24 a:out.example.test mx include:_spf.example.test include:_spf.provider.test -all'], MX: [{ exchange: 'mx.example.test', priority: 10 }] },
      'out.example.test': { A: ['192.0.2.200'] },
      'mx.example.test': { A: ['198.51.100.25'], AAAA: ['2001:db8::25'] },
      '_spf.example.test': { TXT: ['v=spf1 ip4:203.0.113.7 ip6:2001:db8:1::/64 -all'] },
      '_spf.provider.test': { TXT: ['v=spf1 include:_netblocks.provider.test ~all'] },
      '_netblocks.provider.test': { TXT: ['v=spf1 ip4:100.64.0.0/20 -all'] },
    });
    expect(r).toMatchObject({ probe: 'spf', target: D, status: 'pass', observations: [] });
    expect(r.details.record).toMatch(/^v=spf1 ip4/);
    expect(r.details.lookups).toBe(5);
    expect(r.details.tree).toMatchObject({
      domain: D, ownLookups: 4, lookups: 5,
      children: [
        { domain: '_spf.example.test', via: 'include:_spf.example.test', lookups: 0, sameOrganisation: true },
        { domain: '_spf.provider.test', via: 'include:_spf.provider.test', ownLookups: 1, lookups: 1, sameOrganisation: false, children: [{ domain: '_netblocks.provider.test', lookups: 0 }] },
      ],
    });
    expect(r.details.ownNetworks.sort()).toEqual(['192.0.2.0/24', '192.0.2.200/32', '198.51.100.25/32', '2001:db8::25/128', '203.0.113.7/32', '2001:db8:1::/64'].sort());
    expect(r.details.thirdPartyIncludes).toEqual(['_spf.provider.test']);
  });

  describe('record selection (RFC 7208 section 4.5)', () => {
    it('should report SPF_MISSING as a warning when there is no SPF record', async () => {
      const r = await probe({ [D]: { TXT: ['google-site-verification=abc'], MX: [{ exchange: 'mx.example.test', priority: 10 }] } });
      expect(codes(r)).toEqual(['SPF_MISSING']);
      expect(r.status).toBe('warn');
      expect(obs(r, 'SPF_MISSING')?.severity).toBeUndefined();
    });

    it('should not take "v=spf10" for an SPF record (a prefix match does)', async () => {
      const r = await probe({ [D]: { TXT: ['v=spf10 -all'], MX: [{ exchange: 'mx.example.test', priority: 10 }] } });
      expect(codes(r)).toEqual(['SPF_MISSING']);
    });

    it('should report SPF_MISSING as info only on a null-MX domain', async () => {
      const r = await probe({ [D]: { MX: [{ exchange: '.', priority: 0 }] } });
      expect(codes(r)).toEqual(['SPF_MISSING']);
      expect(obs(r, 'SPF_MISSING')?.severity).toBe('info');
      expect(r.status).toBe('pass');
      expect(r.details.nullMx).toBe(true);
    });

    it('should report SPF_MULTIPLE_RECORDS (a permerror, not "none")', async () => {
      const r = await probe({ [D]: { TXT: ['v=spf1 -all', 'v=spf1 ip4:192.0.2.1 -all'] } });
      expect(codes(r)).toEqual(['SPF_MULTIPLE_RECORDS']);
      expect(obs(r, 'SPF_MULTIPLE_RECORDS')?.params.count).toBe(2);
      expect(r.status).toBe('fail');
    });

    it('should raise nothing for a domain that does not exist (the MX probe reports that)', async () => {
      const r = await probe({});
      expect(r).toMatchObject({ status: 'pass', reason: 'domain_nxdomain', observations: [] });
    });
  });

  describe('syntax (section 12 and macros, section 7)', () => {
    it.each([
      ['an unknown mechanism', 'v=spf1 ip4:192.0.2.1 foo -all'],
      ['a bad macro letter', 'v=spf1 exists:%{x}.example.test -all'],
      ['an explanation-only macro letter in a domain-spec', 'v=spf1 exists:%{c}.example.test -all'],
      ['a lone "%"', 'v=spf1 include:50%.example.test -all'],
      ['two redirects', 'v=spf1 redirect=a.example.test redirect=b.example.test'],
      ['two exp modifiers', 'v=spf1 exp=a.example.test exp=b.example.test -all'],
      ['an ip4 prefix over 32', 'v=spf1 ip4:192.0.2.0/33 -all'],
      ['an ip4 prefix with a leading zero', 'v=spf1 ip4:192.0.2.0/024 -all'],
      ['an ip6 address in ip4', 'v=spf1 ip4:2001:db8::1 -all'],
      ['an include without a domain', 'v=spf1 include: -all'],
      ['a domain without a top-level label', 'v=spf1 a:localhost -all'],
      ['"all" with an argument', 'v=spf1 all:example.test'],
    ])('should report SPF_SYNTAX for %s', async (_what, record) => {
      const r = await probe({ [D]: { TXT: [record] } });
      expect(codes(r)).toContain('SPF_SYNTAX');
      expect(r.status).toBe('fail');
    });

    it('should accept macros, dual prefix lengths, unknown modifiers and modifiers after "all"', async () => {
      const r = await probe({
        [D]: { TXT: ['V=SPF1 exists:%{ir}.%{l1r+-}._spf.%{d} a/24//64 mx:example.test/28 -all exp=explain._spf.%{d} custom-mod=%{d2}'], MX: [{ exchange: 'mx.example.test', priority: 10 }] },
        'mx.example.test': { A: ['192.0.2.1'] },
      });
      expect(r.observations).toEqual([]);
      expect(r.details.lookups).toBe(3);
    });

    it('should expand %{d} to the domain being evaluated (the include target inside an include) and %{o} to the sender domain', async () => {
      const r = await probe({
        [D]: { TXT: ['v=spf1 include:_spf.%{d} -all'] },
        '_spf.example.test': { TXT: ['v=spf1 a:out.%{d} a:mail.%{o} -all'] },
        'out._spf.example.test': { A: ['192.0.2.7'] },
        'mail.example.test': { A: ['192.0.2.8'] },
      });
      expect(r.observations).toEqual([]);
      expect(r.details.ownNetworks).toEqual(['192.0.2.7/32', '192.0.2.8/32']);
    });

    it('should report a syntax error inside an include, naming where it is', async () => {
      const r = await probe({ [D]: { TXT: ['v=spf1 include:_spf.example.test -all'] }, '_spf.example.test': { TXT: ['v=spf1 ip4:300.1.1.1 -all'] } });
      expect(codes(r)).toEqual(['SPF_SYNTAX']);
      expect(String(obs(r, 'SPF_SYNTAX')?.params.problems)).toContain('reached by include:_spf.example.test');
    });
  });

  describe('the DNS lookup limit (section 4.6.4)', () => {
    it('should report SPF_LOOKUP_LIMIT with the count and the include that contributes most', async () => {
      const big = includes(6, 'big');
      const small = includes(2, 'small');
      const r = await probe({
        [D]: { TXT: ['v=spf1 include:_spf.big.test include:_spf.small.test a mx -all'], A: ['192.0.2.1'], MX: [{ exchange: 'mx.example.test', priority: 10 }] },
        'mx.example.test': { A: ['192.0.2.2'] },
        '_spf.big.test': { TXT: [`v=spf1 ${big.terms} -all`] },
        '_spf.small.test': { TXT: [`v=spf1 ${small.terms} -all`] },
        ...big.zone,
        ...small.zone,
      });
      expect(codes(r)).toEqual(['SPF_LOOKUP_LIMIT']);
      expect(r.details.lookups).toBe(12);
      const o = obs(r, 'SPF_LOOKUP_LIMIT')!;
      expect(o.params).toMatchObject({ count: 12, topInclude: 'include:_spf.big.test', topLookups: 7 });
      expect(String(o.params.problem)).toContain('12 DNS lookups');
    });

    it('should count "a:host" like a bare "a" (RFC; one popular checker counts only the bare "a")', async () => {
      const terms = Array.from({ length: 11 }, (_, i) => `a:h${i}.example.test`).join(' ');
      const zone: MemoryZone = { [D]: { TXT: [`v=spf1 ${terms} -all`] } };
      for (let i = 0; i < 11; i++) zone[`h${i}.example.test`] = { A: [`192.0.2.${i + 1}`] };
      const r = await probe(zone);
      expect(r.details.lookups).toBe(11);
      expect(codes(r)).toEqual(['SPF_LOOKUP_LIMIT']);
    });

    it('should count an include reached by two paths twice, and not call it a loop (RFC; a checker that dedups undercounts)', async () => {
      const shared = includes(4, 'shared');
      const r = await probe({
        [D]: { TXT: ['v=spf1 include:left.example.test include:right.example.test -all'] },
        'left.example.test': { TXT: ['v=spf1 include:common.example.test -all'] },
        'right.example.test': { TXT: ['v=spf1 include:common.example.test -all'] },
        'common.example.test': { TXT: [`v=spf1 ${shared.terms} -all`] },
        ...shared.zone,
      });
      // 2 (left, right) + 2 (common twice) + 2 × 4
      expect(r.details.lookups).toBe(12);
      expect(codes(r)).toEqual(['SPF_LOOKUP_LIMIT']);
    });

    it('should report SPF_LOOKUP_NEAR_LIMIT at 9 and 10 lookups, and nothing at 8', async () => {
      for (const [n, expected] of [[8, []], [9, ['SPF_LOOKUP_NEAR_LIMIT']], [10, ['SPF_LOOKUP_NEAR_LIMIT']]] as const) {
        const inc = includes(n);
        const r = await probe({ [D]: { TXT: [`v=spf1 ${inc.terms} -all`] }, ...inc.zone });
        expect(r.details.lookups, String(n)).toBe(n);
        expect(codes(r), String(n)).toEqual(expected);
      }
    });

    it('should count redirect, and not count a redirect that "all" makes unreachable', async () => {
      const nine = includes(9);
      const counted = await probe({ [D]: { TXT: ['v=spf1 ip4:192.0.2.1 redirect=_spf.example.test'] }, '_spf.example.test': { TXT: [`v=spf1 ${nine.terms} -all`] }, ...nine.zone });
      expect(counted.details.lookups).toBe(10);
      const ignored = await probe({ [D]: { TXT: ['v=spf1 ip4:192.0.2.1 -all redirect=_spf.example.test'] }, '_spf.example.test': { TXT: [`v=spf1 ${nine.terms} -all`] }, ...nine.zone });
      expect(ignored.details.lookups).toBe(0);
      expect(ignored.observations).toEqual([]);
    });

    it('should not count terms after "all" (never evaluated), nor exp (a later lookup)', async () => {
      const r = await probe({ [D]: { TXT: ['v=spf1 -all include:a.example.test include:b.example.test exp=explain.example.test'] } });
      expect(r.details.lookups).toBe(0);
      expect(r.observations).toEqual([]);
    });

    it('should report an mx mechanism naming more than 10 MX hosts (its own limit)', async () => {
      const zone: MemoryZone = { [D]: { TXT: ['v=spf1 mx -all'], MX: Array.from({ length: 11 }, (_, i) => ({ exchange: `mx${i}.example.test`, priority: i })) } };
      for (let i = 0; i < 11; i++) zone[`mx${i}.example.test`] = { A: [`192.0.2.${i + 1}`] };
      const r = await probe(zone);
      expect(r.details.lookups).toBe(1);
      expect(codes(r)).toEqual(['SPF_LOOKUP_LIMIT']);
      expect(String(obs(r, 'SPF_LOOKUP_LIMIT')?.params.problem)).toContain('11 MX hosts');
    });
  });

  describe('void lookups, invalid includes and loops', () => {
    it('should report SPF_VOID_LOOKUPS above 2 (NXDOMAIN and empty answers both count)', async () => {
      const r = await probe({
        [D]: { TXT: ['v=spf1 a:gone1.example.test a:empty.example.test exists:gone2.example.test ip4:192.0.2.1 -all'] },
        'empty.example.test': { TXT: ['not an address'] },
      });
      expect(r.details.voidLookups).toBe(3);
      expect(codes(r)).toEqual(['SPF_VOID_LOOKUPS']);
    });

    it('should allow 2 void lookups', async () => {
      const r = await probe({ [D]: { TXT: ['v=spf1 a:gone1.example.test a:gone2.example.test -all'] } });
      expect(r.details.voidLookups).toBe(2);
      expect(r.observations).toEqual([]);
    });

    it('should report SPF_INCLUDE_INVALID for an include without an SPF record, a missing one, and a redirect to several', async () => {
      const r = await probe({
        [D]: { TXT: ['v=spf1 include:nospf.example.test include:gone.example.test redirect=two.example.test'] },
        'nospf.example.test': { TXT: ['hello'] },
        'two.example.test': { TXT: ['v=spf1 -all', 'v=spf1 ~all'] },
      });
      expect(codes(r)).toContain('SPF_INCLUDE_INVALID');
      const text = String(obs(r, 'SPF_INCLUDE_INVALID')?.params.problems);
      expect(text).toContain('nospf.example.test has no SPF record');
      expect(text).toContain('gone.example.test does not exist');
      expect(text).toContain('two.example.test has 2 SPF records');
    });

    it('should report SPF_LOOP for a cycle on the recursion path', async () => {
      const r = await probe({
        [D]: { TXT: ['v=spf1 include:a.example.test -all'] },
        'a.example.test': { TXT: ['v=spf1 include:b.example.test -all'] },
        'b.example.test': { TXT: ['v=spf1 redirect=a.example.test'] },
      });
      expect(codes(r)).toContain('SPF_LOOP');
      expect(obs(r, 'SPF_LOOP')?.params.loops).toBe('example.test → a.example.test → b.example.test → a.example.test');
    });

    it('should report a record including its own domain as a loop', async () => {
      const r = await probe({ [D]: { TXT: ['v=spf1 include:example.test -all'] } });
      expect(codes(r)).toEqual(['SPF_LOOP']);
    });
  });

  describe('all, ptr, length and ranges', () => {
    it('should report "+all" anywhere in the tree as critical', async () => {
      const r = await probe({ [D]: { TXT: ['v=spf1 include:_spf.example.test -all'] }, '_spf.example.test': { TXT: ['v=spf1 ip4:192.0.2.1 +all'] } });
      expect(codes(r)).toEqual(['SPF_ALL_PERMISSIVE']);
      expect(obs(r, 'SPF_ALL_PERMISSIVE')?.severity).toBe('critical');
      expect(r.status).toBe('fail');
    });

    it('should take a bare "all" for "+all"', async () => {
      const r = await probe({ [D]: { TXT: ['v=spf1 all'] } });
      expect(obs(r, 'SPF_ALL_PERMISSIVE')?.severity).toBe('critical');
    });

    it.each([
      ['"?all"', 'v=spf1 ip4:192.0.2.1 ?all'],
      ['no "all" and no redirect', 'v=spf1 ip4:192.0.2.1'],
    ])('should report %s as a warning', async (_what, record) => {
      const r = await probe({ [D]: { TXT: [record] } });
      expect(codes(r)).toEqual(['SPF_ALL_PERMISSIVE']);
      expect(obs(r, 'SPF_ALL_PERMISSIVE')?.severity).toBeUndefined();
      expect(r.status).toBe('warn');
    });

    it('should accept "~all" and "-all", "?all" inside an include, and a redirect whose target ends in "-all"', async () => {
      for (const record of ['v=spf1 ip4:192.0.2.1 ~all', 'v=spf1 include:_spf.example.test -all', 'v=spf1 redirect=_spf.example.test']) {
        const r = await probe({ [D]: { TXT: [record] }, '_spf.example.test': { TXT: ['v=spf1 ip4:192.0.2.1 ?all'] }, ...(record.includes('redirect') ? { '_spf.example.test': { TXT: ['v=spf1 ip4:192.0.2.1 -all'] } } : {}) });
        expect(r.observations, record).toEqual([]);
      }
    });

    it('should report a "?all" reached through redirect (it decides the domain\'s result)', async () => {
      const r = await probe({ [D]: { TXT: ['v=spf1 redirect=_spf.example.test'] }, '_spf.example.test': { TXT: ['v=spf1 ip4:192.0.2.1 ?all'] } });
      expect(codes(r)).toEqual(['SPF_ALL_PERMISSIVE']);
    });

    it('should report SPF_PTR_MECHANISM and count the ptr lookup', async () => {
      const r = await probe({ [D]: { TXT: ['v=spf1 ptr -all'] } });
      expect(codes(r)).toEqual(['SPF_PTR_MECHANISM']);
      expect(r.details.lookups).toBe(1);
    });

    it('should report SPF_RECORD_TOO_LONG as info above 450 bytes once joined', async () => {
      const terms = Array.from({ length: 30 }, (_, i) => `ip4:198.51.100.${i + 1}`).join(' ');
      const record = `v=spf1 ${terms} -all`;
      expect(Buffer.byteLength(record)).toBeGreaterThan(450);
      const r = await probe({ [D]: { TXT: [record] } });
      expect(codes(r)).toEqual(['SPF_RECORD_TOO_LONG']);
      expect(r.status).toBe('pass');
    });

    it('should report SPF_RANGE_TOO_BROAD for ip4 wider than /16 and ip6 wider than /48, not at /16 and /48', async () => {
      const ok = await probe({ [D]: { TXT: ['v=spf1 ip4:10.1.0.0/16 ip6:2001:db8::/48 -all'] } });
      expect(ok.observations).toEqual([]);
      const broad = await probe({ [D]: { TXT: ['v=spf1 ip4:10.0.0.0/8 ip6:2001:db8::/32 -all'] } });
      expect(codes(broad)).toEqual(['SPF_RANGE_TOO_BROAD']);
      expect(obs(broad, 'SPF_RANGE_TOO_BROAD')?.params.terms).toBe('ip4:10.0.0.0/8; ip6:2001:db8::/32');
    });
  });

  describe('untestable: our DNS, not the domain', () => {
    it.each(['servfail', 'timeout', 'refused'] as const)('should be untestable, with no finding, when the domain\'s TXT lookup fails (%s)', async (fault) => {
      const r = await probe({ [D]: { TXT: ['v=spf1 +all'] } }, { [`${D} TXT`]: fault });
      expect(r).toMatchObject({ status: 'untestable', reason: `dns_${fault}`, observations: [] });
    });

    it('should be untestable when an include lookup fails, even if the rest is broken (SERVFAIL is not void)', async () => {
      const r = await probe({ [D]: { TXT: ['v=spf1 a:gone1.example.test a:gone2.example.test include:_spf.example.test +all'] } }, { '_spf.example.test': 'servfail' });
      expect(r).toMatchObject({ status: 'untestable', reason: 'dns_servfail', observations: [] });
      expect(r.details.error).toContain('_spf.example.test');
    });

    it('should be untestable when the MX lookup that decides SPF_MISSING\'s severity fails', async () => {
      const r = await probe({ [D]: { TXT: ['hello'] } }, { [`${D} MX`]: 'timeout' });
      expect(r).toMatchObject({ status: 'untestable', observations: [] });
    });

    it('should be untestable, not throw, when the check deadline aborts the lookups', async () => {
      const controller = new AbortController();
      controller.abort();
      const resolver = { resolve: async () => Promise.reject(new Error('aborted')) };
      const r = await probeSpf(testContext(resolver, { signal: controller.signal }), D);
      expect(r).toMatchObject({ status: 'untestable', reason: 'deadline_exceeded', observations: [] });
    });
  });
});

describe(spfSendingAddresses.name, () => {
  const result = (ownNetworks: string[], status: ProbeResult['status'] = 'pass') => ({ status, details: { ownNetworks } as SpfDetails });

  it('should check /32 and /128, every address of /28–/31, the first and last usable of /24–/27, and nothing wider', () => {
    const ips = spfSendingAddresses(result(['192.0.2.10/32', '2001:db8::1/128', '198.51.100.8/30', '203.0.113.0/24', '203.0.114.0/27', '10.0.0.0/23', '2001:db8:1::/64']));
    expect(ips).toEqual([
      '192.0.2.10', '2001:db8::1',
      '198.51.100.8', '198.51.100.9', '198.51.100.10', '198.51.100.11',
      '203.0.113.1', '203.0.113.254',
      '203.0.114.1', '203.0.114.30',
    ]);
  });

  it('should take every address of a /28 and stop at 64 addresses', () => {
    expect(spfSendingAddresses(result(['192.0.2.16/28']))).toHaveLength(16);
    const many = Array.from({ length: 10 }, (_, i) => `198.51.${i}.0/28`);
    expect(spfSendingAddresses(result(many))).toHaveLength(64);
  });

  it('should give nothing for an untestable result', () => {
    expect(spfSendingAddresses(result(['192.0.2.10/32'], 'untestable'))).toEqual([]);
    expect(spfSendingAddresses(null)).toEqual([]);
  });

  it('should use the own part only: third-party includes are named, not flattened', async () => {
    const r = await probeSpf(
      testContext(new MemoryResolver({
        [D]: { TXT: ['v=spf1 ip4:192.0.2.10 include:_spf.mail.example.test include:spf.provider.test -all'] },
        '_spf.mail.example.test': { TXT: ['v=spf1 ip4:192.0.2.64/30 -all'] },
        'spf.provider.test': { TXT: ['v=spf1 ip4:100.64.1.1 -all'] },
      })),
      D,
    );
    expect(spfSendingAddresses(r)).toEqual(['192.0.2.10', '192.0.2.64', '192.0.2.65', '192.0.2.66', '192.0.2.67']);
    expect(r.details.thirdPartyIncludes).toEqual(['spf.provider.test']);
  });
});

describe('spfProbe definition', () => {
  it('should contribute the lookup gauges, keep them on untestable, and drop them without a record', async () => {
    const ok = await probe({ [D]: { TXT: ['v=spf1 a:gone.example.test include:_spf.example.test -all'] }, '_spf.example.test': { TXT: ['v=spf1 -all'] } });
    expect(spfProbe.metrics!.series!(ok, D)).toEqual([
      { metric: 'mxwatch_spf_dns_lookups', labels: { domain: D }, value: 2 },
      { metric: 'mxwatch_spf_void_lookups', labels: { domain: D }, value: 1 },
    ]);
    const untestable = await probe({}, { [D]: 'servfail' });
    expect(spfProbe.metrics!.series!(untestable, D)).toBe('keep');
    const missing = await probe({ [D]: { TXT: ['x'] } });
    expect(spfProbe.metrics!.series!(missing, D)).toEqual([]);
  });

  it('should declare every code it can raise, with the issue\'s severities', () => {
    expect(Object.fromEntries(Object.entries(SPF_FINDINGS).map(([c, s]) => [c, s.severity]))).toEqual({
      SPF_MISSING: 'warning', SPF_MULTIPLE_RECORDS: 'critical', SPF_SYNTAX: 'critical', SPF_LOOKUP_LIMIT: 'critical', SPF_LOOKUP_NEAR_LIMIT: 'warning',
      SPF_VOID_LOOKUPS: 'critical', SPF_INCLUDE_INVALID: 'critical', SPF_LOOP: 'critical', SPF_ALL_PERMISSIVE: 'warning', SPF_PTR_MECHANISM: 'warning',
      SPF_RECORD_TOO_LONG: 'info', SPF_RANGE_TOO_BROAD: 'warning',
    });
  });
});
