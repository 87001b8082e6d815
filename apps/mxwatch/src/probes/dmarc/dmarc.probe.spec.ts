import { describe, expect, it } from 'vitest';
import type { ProbeResult } from '../probe.types.js';
import { MemoryResolver, testContext, type MemoryZone } from '../spf/memory-resolver.fixture.js';
import { DMARC_FINDINGS } from './dmarc.findings.js';
import { dmarcProbe, probeDmarc, type DmarcDetails } from './dmarc.probe.js';

const D = 'example.test';

async function probe(zone: MemoryZone, faults: Record<string, 'servfail' | 'timeout' | 'refused'> = {}, domain = D) {
  const result = await probeDmarc(testContext(new MemoryResolver(zone, faults)), domain);
  for (const o of result.observations) {
    const spec = DMARC_FINDINGS[o.code as keyof typeof DMARC_FINDINGS];
    expect(spec, o.code).toBeDefined();
    for (const [, key] of `${spec.message} ${spec.remediation}`.matchAll(/\{(\w+)\}/g)) expect(o.params[key!], `${o.code} {${key}}`).not.toBeUndefined();
  }
  return result;
}

const codes = (r: ProbeResult<DmarcDetails>) => r.observations.map((o) => o.code).sort();
const obs = (r: ProbeResult<DmarcDetails>, code: string) => r.observations.find((o) => o.code === code);
const GOOD = 'v=DMARC1; p=reject; rua=mailto:dmarc@example.test';

describe(probeDmarc.name, () => {
  it('should pass a healthy record without a trailing ";" (RFC 7489; some checkers demand one)', async () => {
    const r = await probe({ [`_dmarc.${D}`]: { TXT: ['v=DMARC1; p=reject; adkim=s; rua=mailto:dmarc@example.test,mailto:agg@reports.example.test!10m'] } });
    expect(r).toMatchObject({ probe: 'dmarc', status: 'pass', observations: [] });
    expect(r.details).toMatchObject({ recordName: `_dmarc.${D}`, source: 'domain', effectivePolicy: 'reject', policyTag: 'p' });
  });

  describe('discovery', () => {
    it('should fall back to the organisational domain, where sp sets the policy for a subdomain', async () => {
      const r = await probe({ 'mail.example.test': { A: ['192.0.2.1'] }, [`_dmarc.${D}`]: { TXT: ['v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.test'] } }, {}, 'mail.example.test');
      expect(r.observations).toEqual([]);
      expect(r.details).toMatchObject({ recordName: '_dmarc.example.test', source: 'organisational', effectivePolicy: 'quarantine', policyTag: 'sp' });
    });

    it('should use the organisational domain through the Public Suffix List (example.co.uk, not co.uk)', async () => {
      const r = await probe({ 'a.b.example.co.uk': { A: ['192.0.2.1'] }, '_dmarc.example.co.uk': { TXT: ['v=DMARC1; p=reject; rua=mailto:d@example.co.uk'] } }, {}, 'a.b.example.co.uk');
      expect(r.details.recordName).toBe('_dmarc.example.co.uk');
      expect(r.observations).toEqual([]);
    });

    it('should continue past an empty answer (NODATA) as past NXDOMAIN', async () => {
      const r = await probe({ '_dmarc.sub.example.test': { TXT: ['unrelated'] }, 'x._dmarc.sub.example.test': { TXT: ['y'] }, [`_dmarc.${D}`]: { TXT: [GOOD] } }, {}, 'sub.example.test');
      expect(r.details.recordName).toBe('_dmarc.example.test');
    });

    it('should follow a CNAME\'d _dmarc record', async () => {
      const r = await probe({ [`_dmarc.${D}`]: { CNAME: ['dmarc.provider.test'] }, 'dmarc.provider.test': { TXT: [GOOD] } });
      expect(r.observations).toEqual([]);
      expect(r.details.effectivePolicy).toBe('reject');
    });

    it('should apply np to a subdomain that does not exist (DMARCbis)', async () => {
      const r = await probe({ [`_dmarc.${D}`]: { TXT: ['v=DMARC1; p=reject; np=none; rua=mailto:d@example.test'] } }, {}, 'gone.example.test');
      expect(r.details).toMatchObject({ policyTag: 'np', effectivePolicy: 'none' });
      expect(codes(r)).toEqual(['DMARC_POLICY_NONE']);
    });

    it('should report DMARC_MISSING naming the places looked at', async () => {
      const r = await probe({ 'sub.example.test': { A: ['192.0.2.1'] } }, {}, 'sub.example.test');
      expect(codes(r)).toEqual(['DMARC_MISSING']);
      expect(obs(r, 'DMARC_MISSING')?.params.names).toBe('_dmarc.sub.example.test, _dmarc.example.test');
      expect(r.status).toBe('warn');
    });

    it('should raise nothing for a domain that does not exist (the MX probe reports that)', async () => {
      const r = await probe({ 'other.test': { A: ['192.0.2.1'] } }, {}, 'gone.test');
      expect(r).toMatchObject({ status: 'pass', reason: 'domain_nxdomain', observations: [] });
    });

    it('should report DMARC_MULTIPLE and not fall back to the organisational domain', async () => {
      const r = await probe({ '_dmarc.sub.example.test': { TXT: [GOOD, 'v=DMARC1; p=none'] }, [`_dmarc.${D}`]: { TXT: [GOOD] } }, {}, 'sub.example.test');
      expect(codes(r)).toEqual(['DMARC_MULTIPLE']);
      expect(r.details.record).toBeNull();
      expect(r.status).toBe('fail');
    });
  });

  describe('syntax', () => {
    it.each([
      ['"v" not first (receivers discard the record)', 'p=reject; v=DMARC1', ['DMARC_MISSING', 'DMARC_SYNTAX']],
      ['a bad policy value', 'v=DMARC1; p=rejected; rua=mailto:d@example.test', ['DMARC_SYNTAX']],
      ['no p tag and no rua', 'v=DMARC1; adkim=s', ['DMARC_NO_REPORTS', 'DMARC_SYNTAX']],
      ['a bad rua URI', 'v=DMARC1; p=reject; rua=dmarc@example.test', ['DMARC_NO_REPORTS', 'DMARC_SYNTAX']],
      ['a bad adkim', 'v=DMARC1; p=reject; adkim=x; rua=mailto:d@example.test', ['DMARC_SYNTAX']],
      ['a duplicate tag', 'v=DMARC1; p=reject; p=none; rua=mailto:d@example.test', ['DMARC_SYNTAX']],
    ])('should report %s', async (_what, record, expected) => {
      const r = await probe({ [`_dmarc.${D}`]: { TXT: [record] } });
      expect(codes(r)).toEqual(expected);
      expect(r.status).toBe('fail');
    });

    it('should read a record without p but with rua as p=none (RFC 7489 section 6.6.3, DMARCbis), not as a syntax error', async () => {
      const r = await probe({ [`_dmarc.${D}`]: { TXT: ['v=DMARC1; rua=mailto:d@example.test'] } });
      expect(codes(r)).toEqual(['DMARC_POLICY_NONE']);
      expect(r.observations[0]!.params.tag).toBe('no p tag, read as p=none');
      expect(r.details.effectivePolicy).toBe('none');
    });

    it('should report unknown tags as info, not as a syntax error', async () => {
      const r = await probe({ [`_dmarc.${D}`]: { TXT: ['v=DMARC1; p=reject; rua=mailto:d@example.test; foo=bar;'] } });
      expect(codes(r)).toEqual(['DMARC_TAG_UNKNOWN']);
      expect(r.status).toBe('pass');
    });

    it('should report pct, rf and ri as info (dropped by DMARCbis), not as errors', async () => {
      const r = await probe({ [`_dmarc.${D}`]: { TXT: ['v=DMARC1; p=reject; pct=100; rf=afrf; ri=86400; rua=mailto:d@example.test'] } });
      expect(codes(r)).toEqual(['DMARC_TAG_DEPRECATED']);
      expect(obs(r, 'DMARC_TAG_DEPRECATED')?.params.tags).toBe('pct, rf, ri');
      expect(r.status).toBe('pass');
    });
  });

  describe('policy and reports', () => {
    it('should report DMARC_POLICY_NONE for p=none', async () => {
      const r = await probe({ [`_dmarc.${D}`]: { TXT: ['v=DMARC1; p=none; rua=mailto:d@example.test'] } });
      expect(codes(r)).toEqual(['DMARC_POLICY_NONE']);
      expect(r.status).toBe('warn');
    });

    it('should report sp=none from the organisational record for a subdomain, but not the org\'s own p', async () => {
      const zone = { 'sub.example.test': { A: ['192.0.2.1'] }, [`_dmarc.${D}`]: { TXT: ['v=DMARC1; p=reject; sp=none; rua=mailto:d@example.test'] } };
      expect(codes(await probe(zone, {}, 'sub.example.test'))).toEqual(['DMARC_POLICY_NONE']);
      expect(codes(await probe(zone, {}, D))).toEqual([]);
    });

    it('should not apply sp from the domain\'s own record to the domain itself', async () => {
      const r = await probe({ [`_dmarc.${D}`]: { TXT: ['v=DMARC1; p=reject; sp=none; rua=mailto:d@example.test'] } });
      expect(r.observations).toEqual([]);
    });

    it('should report DMARC_NO_REPORTS as info', async () => {
      const r = await probe({ [`_dmarc.${D}`]: { TXT: ['v=DMARC1; p=quarantine'] } });
      expect(codes(r)).toEqual(['DMARC_NO_REPORTS']);
      expect(r.status).toBe('pass');
    });

    it('should report DMARC_RUA_UNAUTHORIZED for an external destination without an authorisation record', async () => {
      const r = await probe({ [`_dmarc.${D}`]: { TXT: ['v=DMARC1; p=reject; rua=mailto:d@example.test,mailto:x@reports.vendor.test'] } });
      expect(codes(r)).toEqual(['DMARC_RUA_UNAUTHORIZED']);
      expect(obs(r, 'DMARC_RUA_UNAUTHORIZED')?.params.destinations).toBe('rua=mailto:x@reports.vendor.test');
      expect(r.details.reportDestinations).toEqual([
        { uri: 'mailto:d@example.test', tag: 'rua', host: 'example.test', external: false, authorized: null },
        { uri: 'mailto:x@reports.vendor.test', tag: 'rua', host: 'reports.vendor.test', external: true, authorized: false },
      ]);
    });

    it('should accept an explicit and a wildcard authorisation, and a destination in the same organisational domain', async () => {
      const r = await probe({
        [`_dmarc.${D}`]: { TXT: ['v=DMARC1; p=reject; rua=mailto:x@reports.vendor.test,mailto:y@agg.other.test,mailto:z@mail.example.test'] },
        'example.test._report._dmarc.reports.vendor.test': { TXT: ['v=DMARC1'] },
        '*._report._dmarc.agg.other.test': { TXT: ['v=DMARC1;'] },
      });
      expect(r.observations).toEqual([]);
      expect(r.details.reportDestinations.map((d) => d.authorized)).toEqual([true, true, null]);
    });
  });

  describe('untestable', () => {
    it.each(['servfail', 'timeout'] as const)('should be untestable with no finding when the _dmarc lookup fails (%s)', async (fault) => {
      const r = await probe({}, { [`_dmarc.${D}`]: fault });
      expect(r).toMatchObject({ status: 'untestable', reason: `dns_${fault}`, observations: [] });
    });

    it('should be untestable when the organisational fallback lookup fails', async () => {
      const r = await probe({ 'sub.example.test': { A: ['192.0.2.1'] } }, { [`_dmarc.${D}`]: 'servfail' }, 'sub.example.test');
      expect(r).toMatchObject({ status: 'untestable', observations: [] });
    });

    it('should be untestable when the report authorisation lookup fails', async () => {
      const r = await probe({ [`_dmarc.${D}`]: { TXT: ['v=DMARC1; p=reject; rua=mailto:x@reports.vendor.test'] } }, { 'example.test._report._dmarc.reports.vendor.test': 'timeout' });
      expect(r).toMatchObject({ status: 'untestable', observations: [] });
    });
  });

  it('should contribute mxwatch_dmarc_policy_info, "missing" without a record, kept on untestable', async () => {
    expect(dmarcProbe.metrics!.series!(await probe({ [`_dmarc.${D}`]: { TXT: [GOOD] } }), D)).toEqual([{ metric: 'mxwatch_dmarc_policy_info', labels: { domain: D, policy: 'reject' }, value: 1 }]);
    expect(dmarcProbe.metrics!.series!(await probe({ [D]: { A: ['192.0.2.1'] } }), D)).toEqual([{ metric: 'mxwatch_dmarc_policy_info', labels: { domain: D, policy: 'missing' }, value: 1 }]);
    expect(dmarcProbe.metrics!.series!(await probe({}, { [`_dmarc.${D}`]: 'servfail' }), D)).toBe('keep');
  });
});
