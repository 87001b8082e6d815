import { describe, expect, it } from 'vitest';
import type { DomainInput, PlanView } from '../probe-definition.js';
import type { ProbeResult } from '../probe.types.js';
import { MemoryResolver, testContext, type MemoryZone } from '../spf/memory-resolver.fixture.js';
import { probeDmarc } from '../dmarc/dmarc.probe.js';
import { BIMI_FINDINGS } from './bimi.findings.js';
import { bimiProbe, probeBimi, type BimiDetails, type BimiDmarcView } from './bimi.probe.js';

const D = 'example.test';
const NAME = `default._bimi.${D}`;
const GOOD = 'v=BIMI1; l=https://brand.example.test/logo.svg; a=https://brand.example.test/vmc.pem';
const enforced: BimiDmarcView = { testable: true, record: 'v=DMARC1; p=reject', effectivePolicy: 'reject', tags: { v: 'DMARC1', p: 'reject' } };

async function probe(zone: MemoryZone, dmarc: BimiDmarcView | null = enforced, faults: Record<string, 'servfail' | 'timeout'> = {}, domain = D) {
  const result = await probeBimi(testContext(new MemoryResolver(zone, faults)), { domain, dmarc });
  for (const o of result.observations) {
    const spec = BIMI_FINDINGS[o.code as keyof typeof BIMI_FINDINGS];
    expect(spec, o.code).toBeDefined();
    for (const [, key] of `${spec.message} ${spec.remediation}`.matchAll(/\{(\w+)\}/g)) expect(o.params[key!], `${o.code} {${key}}`).not.toBeUndefined();
  }
  return result;
}

const codes = (r: ProbeResult<BimiDetails>) => r.observations.map((o) => o.code).sort();

describe(probeBimi.name, () => {
  it('should pass a valid record with an enforced DMARC policy', async () => {
    const r = await probe({ [NAME]: { TXT: [GOOD] } });
    expect(r).toMatchObject({ probe: 'bimi', status: 'pass', observations: [] });
    expect(r.details).toMatchObject({ recordName: NAME, logoUrl: 'https://brand.example.test/logo.svg', dmarcEnforced: true });
  });

  it('should raise nothing when there is no BIMI record (it is optional)', async () => {
    const r = await probe({ [D]: { A: ['192.0.2.1'] } }, null);
    expect(r).toMatchObject({ status: 'pass', reason: 'bimi_absent', observations: [] });
  });

  it('should fall back to the organisational domain', async () => {
    const r = await probe({ 'default._bimi.example.test': { TXT: [GOOD] } }, enforced, {}, 'news.example.test');
    expect(r.details.recordName).toBe('default._bimi.example.test');
  });

  it.each([
    ['an http logo URL', 'v=BIMI1; l=http://brand.example.test/logo.svg', 'not an https URL'],
    ['a bad authority URL', 'v=BIMI1; l=https://brand.example.test/logo.svg; a=vmc.pem', 'a=vmc.pem'],
    ['a duplicate tag', 'v=BIMI1; l=https://brand.example.test/logo.svg; l=https://brand.example.test/2.svg', 'appears twice'],
    ['a wrong version value', 'v=BIMI1 ; v=BIMI2; l=https://brand.example.test/logo.svg', 'appears twice'],
    ['no l= tag', 'v=BIMI1; a=https://brand.example.test/vmc.pem', 'l= (logo location)'],
  ])('should report BIMI_RECORD_INVALID for %s', async (_what, record, problem) => {
    const r = await probe({ [NAME]: { TXT: [record] } });
    expect(codes(r)).toEqual(['BIMI_RECORD_INVALID']);
    expect(String(r.observations[0]!.params.problem)).toContain(problem);
    expect(r.status).toBe('warn');
  });

  it('should report two BIMI records as invalid', async () => {
    expect(codes(await probe({ [NAME]: { TXT: [GOOD, GOOD.replace('logo', 'logo2')] } }))).toEqual(['BIMI_RECORD_INVALID']);
  });

  it.each([
    ['no DMARC record', { testable: true, record: null, effectivePolicy: null, tags: {} }, 'no DMARC record'],
    ['p=none', { testable: true, record: 'v=DMARC1; p=none', effectivePolicy: 'none', tags: { p: 'none' } }, 'none'],
    ['sp=none', { testable: true, record: 'x', effectivePolicy: 'reject', tags: { p: 'reject', sp: 'none' } }, 'sp=none'],
    ['pct below 100', { testable: true, record: 'x', effectivePolicy: 'quarantine', tags: { p: 'quarantine', pct: '50' } }, 'pct=50'],
  ])('should report BIMI_DMARC_NOT_ENFORCED with %s', async (_what, dmarc, why) => {
    const r = await probe({ [NAME]: { TXT: [GOOD] } }, dmarc);
    expect(codes(r)).toEqual(['BIMI_DMARC_NOT_ENFORCED']);
    expect(String(r.observations[0]!.params.why)).toContain(why);
  });

  it('should not ask for DMARC enforcement of a declination record (l= and a= empty)', async () => {
    const r = await probe({ [NAME]: { TXT: ['v=BIMI1; l=; a=;'] } }, { testable: true, record: null, effectivePolicy: null, tags: {} });
    expect(r.observations).toEqual([]);
    expect(r.details.declined).toBe(true);
  });

  it('should be untestable when the BIMI lookup fails, or DMARC could not be read', async () => {
    expect(await probe({}, enforced, { [NAME]: 'servfail' })).toMatchObject({ status: 'untestable', observations: [] });
    expect(await probe({ [NAME]: { TXT: [GOOD] } }, { ...enforced, testable: false })).toMatchObject({ status: 'untestable', observations: [] });
  });

  it('should read the DMARC result of the same check through the plan', async () => {
    const resolver = new MemoryResolver({ [`_dmarc.${D}`]: { TXT: ['v=DMARC1; p=quarantine; sp=none; rua=mailto:d@example.test'] }, [NAME]: { TXT: [GOOD] } });
    const ctx = testContext(resolver);
    const dmarc = await probeDmarc(ctx, D);
    const plan: PlanView = { domain: { name: D, submissionHosts: [], sendingIps: [], dkimSelectors: [] } as DomainInput, results: (p) => (p === 'dmarc' ? [dmarc] : []), once: (_k, fn) => fn() };
    const [subject] = await bimiProbe.subjects(plan, ctx);
    const r = await bimiProbe.run(ctx, subject!, { shared: (_k, fn) => fn(), exclusive: (_k, fn) => fn() });
    expect(r?.observations.map((o) => [o.code, o.params.why])).toEqual([['BIMI_DMARC_NOT_ENFORCED', 'sp=none']]);
    expect(bimiProbe.needs).toEqual(['dmarc']);
  });
});
