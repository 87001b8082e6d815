import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chainElement } from '../../../../../test/support/chain-element.js';
import { DnssecRig } from '../../../../../test/rig/dnssec/dnssec-rig.js';
import { createTestCa, type TestCa } from '../../../../../test/rig/tls/test-ca.js';
import { createResolver, type ConfiguredResolver } from '../../transport/dns/resolver-factory.js';
import { BoundedMemory } from '../probe-memory.js';
import type { PlanView, ProbeEnv } from '../probe-definition.js';
import type { ProbeContext, ProbeResult, Resolver } from '../probe.types.js';
import { type ChainElement, malformation, recordMatchesChain } from './dane-match.js';
import { DANE_FINDINGS } from './dane.findings.js';
import { type DaneDetails, createDaneProbe } from './dane.probe.js';

const env: ProbeEnv = { shared: (_k, fn) => fn(), exclusive: (_k, fn) => fn() };
const CANARY = { signed: 'canary-ok.test', broken: 'www.canary-bad.test' };
const DAY = 86_400_000;

interface AddressTls { ip: string; chain?: ChainElement[] | null; nameMatch?: boolean; offered?: boolean; handshakeOk?: boolean; status?: string }

describe(`${createDaneProbe.name} on a real validating resolver`, () => {
  let ca: TestCa;
  let leaf: ChainElement;
  let leafDer: string;
  let other: ChainElement;
  let expiring: ChainElement;
  let caEl: ChainElement;
  let rig: DnssecRig;
  let resolver: ConfiguredResolver;
  let memory: BoundedMemory;
  let def: ReturnType<typeof createDaneProbe>;
  let clock: number;

  beforeAll(async () => {
    ca = await createTestCa({ keyType: 'ec', commonName: 'mxwatch dane test CA' });
    const a = await ca.issue({ commonName: 'mx.dane.test' });
    const b = await ca.issue({ commonName: 'mx.dane.test' });
    const c = await ca.issue({ commonName: 'mx.dane.test', notAfter: new Date(Date.now() + 5 * DAY) });
    leaf = chainElement(a.cert);
    leafDer = new X509Certificate(a.cert).raw.toString('hex');
    other = chainElement(b.cert);
    expiring = chainElement(c.cert);
    caEl = chainElement(ca.cert);
    const tlsa = (owner: string, ...rdata: string[]) => rdata.map((r) => `_25._tcp.${owner} IN TLSA ${r}`);
    rig = await DnssecRig.start({
      zones: [
        { name: 'canary-ok.test', signed: true, records: [] },
        { name: 'canary-bad.test', signed: true, records: ['www IN A 192.0.2.1'], bogus: ['www.canary-bad.test. 1 IN A 192.0.2.66'] },
        {
          name: 'dane.test',
          signed: true,
          records: [
            ...['one', 'spare', 'ta', 'full', 'pkix', 'bogus', 'none', 'soon'].flatMap((h) => [`${h} IN A 192.0.2.1`, `${h} IN AAAA 2001:db8::1`]),
            ...tlsa('one', `3 1 1 ${leaf.spkiSha256}`),
            ...tlsa('spare', `3 1 1 ${leaf.spkiSha256}`, `3 1 1 ${other.spkiSha256}`),
            ...tlsa('ta', `2 0 1 ${caEl.certSha256}`),
            ...tlsa('full', `3 0 0 ${leafDer}`),
            ...tlsa('pkix', `1 1 1 ${leaf.spkiSha256}`, `3 1 1 ${leaf.spkiSha256.slice(0, 40)}`, `3 1 2 ${leaf.spkiSha512}`),
            ...tlsa('bogus', `3 1 1 ${leaf.spkiSha256}`),
            ...tlsa('soon', `3 1 1 ${expiring.spkiSha256}`),
          ],
          bogus: [`_25._tcp.bogus.dane.test. 1 IN TLSA 3 1 1 ${other.spkiSha256}`],
        },
        { name: 'plain.test', signed: false, records: ['mx IN A 192.0.2.2', ...tlsa('mx', `3 1 1 ${leaf.spkiSha256}`)] },
      ],
    });
    resolver = createResolver({ servers: [rig.address], protocol: 'udp', timeoutMs: 2000, attempts: 2 });
  });

  afterAll(async () => {
    resolver?.close();
    await rig?.close();
  });

  beforeEach(() => {
    memory = new BoundedMemory();
    def = createDaneProbe({ memory });
    clock = Date.now();
  });

  function plan(host: string, addresses: string[], tls: AddressTls[]): PlanView {
    return {
      domain: { name: 'dane.test', submissionHosts: [], sendingIps: [], dkimSelectors: [] },
      results: (name) => {
        if (name === 'mx') return [{ probe: 'mx', status: 'pass', target: 'dane.test', details: { hosts: [{ host, addresses }] }, observations: [], startedAt: new Date(), durationMs: 0 } as unknown as ProbeResult];
        if (name === 'starttls') {
          return tls.map((t) => ({
            probe: 'starttls', status: t.status ?? 'pass', target: `${host}[${t.ip}]:25`, observations: [], startedAt: new Date(), durationMs: 0,
            details: { host, ip: t.ip, port: 25, offered: t.offered ?? true, handshakeOk: t.handshakeOk ?? true, nameMatch: t.nameMatch ?? true, chain: t.chain === undefined ? [leaf, caEl] : t.chain },
          } as unknown as ProbeResult));
        }
        return [];
      },
      once: (_k, fn) => fn(),
    };
  }

  async function run(host: string, tls: AddressTls[] = [{ ip: '192.0.2.1' }, { ip: '2001:db8::1' }], r: Resolver = resolver): Promise<ProbeResult<DaneDetails>> {
    const ctx = { deadline: Date.now() + 20_000, signal: new AbortController().signal, resolver: r, dnsblResolver: r, settings: { certWarnDays: 14, dnssecCanary: CANARY }, now: () => new Date(clock) } as unknown as ProbeContext;
    const subjects = await def.subjects(plan(host, tls.map((t) => t.ip), tls), ctx);
    expect(subjects).toHaveLength(1);
    const result = (await def.run(ctx, subjects[0]!, env))!;
    for (const o of result.observations) {
      const spec = DANE_FINDINGS[o.code as keyof typeof DANE_FINDINGS];
      for (const [, name] of `${spec.message} ${spec.remediation}`.matchAll(/\{(\w+)\}/g)) expect(o.params, `${o.code} {${name}}`).toHaveProperty(name!);
    }
    return result;
  }
  const codes = (r: ProbeResult) => r.observations.map((o) => `${o.code}@${o.target}`).sort();

  it('should match a DANE-EE record on every address, IPv4 and IPv6, and note that a key change would break it', async () => {
    const r = await run('one.dane.test');
    expect(r.details).toMatchObject({ hostState: 'secure', tlsaState: 'secure', deployed: true });
    expect(r.details.addresses.map((a) => [a.ip, a.match])).toEqual([['192.0.2.1', true], ['2001:db8::1', true]]);
    expect(codes(r)).toEqual(['DANE_NO_ROLLOVER@one.dane.test']);
    expect(r.status).toBe('pass');
    expect(def.metrics!.series!(r, 'dane.test')).toEqual([
      { metric: 'mxwatch_dane_match', labels: { host: 'one.dane.test', ip: '192.0.2.1', port: '25' }, value: 1, owner: 'host' },
      { metric: 'mxwatch_dane_match', labels: { host: 'one.dane.test', ip: '2001:db8::1', port: '25' }, value: 1, owner: 'host' },
    ]);
  });

  it('should find nothing wrong when a record for the next key is published', async () => {
    expect(codes(await run('spare.dane.test'))).toEqual([]);
  });

  it('should flag exactly the address whose chain matches no record', async () => {
    const r = await run('one.dane.test', [{ ip: '192.0.2.1' }, { ip: '2001:db8::1', chain: [other, caEl] }]);
    expect(codes(r)).toContain('DANE_NO_MATCH@one.dane.test[2001:db8::1]:25');
    expect(codes(r)).not.toContain('DANE_NO_MATCH@one.dane.test[192.0.2.1]:25');
    expect(r.status).toBe('fail');
    expect(def.metrics!.series!(r, 'dane.test')).toContainEqual({ metric: 'mxwatch_dane_match', labels: { host: 'one.dane.test', ip: '2001:db8::1', port: '25' }, value: 0, owner: 'host' });
  });

  it('should let DANE-EE ignore names and dates', async () => {
    const stale = { ...leaf, notAfter: new Date(clock - DAY).toISOString() };
    const r = await run('spare.dane.test', [{ ip: '192.0.2.1', chain: [stale], nameMatch: false }]);
    expect(r.details.addresses[0]!.match).toBe(true);
  });

  it('should need the DANE-TA anchor in the presented chain and a matching name', async () => {
    expect(codes(await run('ta.dane.test', [{ ip: '192.0.2.1' }]))).toEqual([]);
    const wrongName = await run('ta.dane.test', [{ ip: '192.0.2.1', nameMatch: false }]);
    expect(codes(wrongName)).toEqual(['DANE_NO_MATCH@ta.dane.test[192.0.2.1]:25']);
    expect(wrongName.observations[0]!.params.problem).toMatch(/does not name ta\.dane\.test/);
    expect(codes(await run('ta.dane.test', [{ ip: '192.0.2.1', chain: [leaf] }]))).toEqual(['DANE_NO_MATCH@ta.dane.test[192.0.2.1]:25']);
  });

  it('should match a full-data record through the digest of its data', async () => {
    const r = await run('full.dane.test', [{ ip: '192.0.2.1' }]);
    expect(r.details.addresses[0]!.match).toBe(true);
  });

  it('should warn about PKIX usages and malformed records, and still use the good one', async () => {
    const r = await run('pkix.dane.test', [{ ip: '192.0.2.1' }]);
    expect(codes(r)).toEqual(['DANE_NO_ROLLOVER@pkix.dane.test', 'DANE_PKIX_USAGE@pkix.dane.test', 'DANE_TLSA_MALFORMED@pkix.dane.test']);
    expect(r.observations.find((o) => o.code === 'DANE_TLSA_MALFORMED')!.params.problems).toMatch(/SHA-256 data of 20 bytes, not 32/);
    expect(r.details.addresses[0]!.match).toBe(true);
  });

  it('should report TLSA records that fail validation', async () => {
    const r = await run('bogus.dane.test');
    expect(codes(r)).toEqual(['DANE_TLSA_BOGUS@bogus.dane.test']);
    expect(r.status).toBe('fail');
  });

  it('should warn that TLSA records in an unsigned zone are ignored', async () => {
    const r = await run('mx.plain.test', [{ ip: '192.0.2.2' }]);
    expect(codes(r)).toEqual(['DANE_TLSA_UNSIGNED@mx.plain.test']);
    expect(r.details.deployed).toBe(false);
  });

  it('should find nothing for a signed host without TLSA records', async () => {
    const r = await run('none.dane.test');
    expect(r).toMatchObject({ status: 'pass', observations: [], details: { deployed: false, tlsa: [] } });
  });

  it('should count an address without STARTTLS as no match, and leave an untestable one unchecked', async () => {
    const r = await run('spare.dane.test', [{ ip: '192.0.2.1', offered: false, handshakeOk: false, chain: null }, { ip: '2001:db8::1', status: 'untestable', chain: null }]);
    expect(codes(r)).toEqual(['DANE_NO_MATCH@spare.dane.test[192.0.2.1]:25']);
    expect(r.observations[0]!.params.problem).toBe('STARTTLS is not offered');
    expect(r.details.addresses[1]).toMatchObject({ checked: false, match: null });
    expect(def.covers!({ probe: 'dane', code: 'DANE_NO_MATCH', target: 'spare.dane.test[2001:db8::1]:25', evidence: null }, [r])).toBe(false);
    expect(def.covers!({ probe: 'dane', code: 'DANE_NO_MATCH', target: 'spare.dane.test[192.0.2.1]:25', evidence: null }, [r])).toBe(true);
  });

  it('should warn of a rollover when the presented key changed and no record matches it', async () => {
    expect(codes(await run('one.dane.test', [{ ip: '192.0.2.1' }]))).toEqual(['DANE_NO_ROLLOVER@one.dane.test']);
    clock += 300_000;
    const r = await run('one.dane.test', [{ ip: '192.0.2.1', chain: [other, caEl] }]);
    expect(codes(r)).toEqual(['DANE_NO_MATCH@one.dane.test[192.0.2.1]:25', 'DANE_ROLLOVER_RISK@one.dane.test[192.0.2.1]:25']);
    expect(r.observations.find((o) => o.code === 'DANE_ROLLOVER_RISK')!.params.why).toMatch(/key changed/);
    // Another domain sharing this MX, checked after the change was first seen, sees the same.
    clock += 300_000;
    expect(codes(await run('one.dane.test', [{ ip: '192.0.2.1', chain: [other, caEl] }]))).toEqual(['DANE_NO_MATCH@one.dane.test[192.0.2.1]:25', 'DANE_ROLLOVER_RISK@one.dane.test[192.0.2.1]:25']);
    // Once what is presented matches a record again, the risk is gone.
    expect(codes(await run('one.dane.test', [{ ip: '192.0.2.1' }]))).toEqual(['DANE_NO_ROLLOVER@one.dane.test']);
  });

  it('should warn of a rollover when the certificate expires soon and no record matches another key', async () => {
    const r = await run('soon.dane.test', [{ ip: '192.0.2.1', chain: [expiring, caEl] }]);
    expect(codes(r)).toEqual(['DANE_NO_ROLLOVER@soon.dane.test', 'DANE_ROLLOVER_RISK@soon.dane.test[192.0.2.1]:25']);
    expect(r.observations.find((o) => o.code === 'DANE_ROLLOVER_RISK')!.params.why).toMatch(/expires in [45] day/);
  });

  it('should be untestable without a DNSSEC verdict when the resolver does not validate', async () => {
    const lying: Resolver = { resolve: async (name, type, options) => ({ ...(await resolver.resolve(name, type, options)), dnssec: { authenticated: false, checkingDisabled: false, rcode: 'NOERROR', ede: [] } }) as never };
    const r = await run('one.dane.test', [{ ip: '192.0.2.1' }], lying);
    expect(r).toMatchObject({ status: 'untestable', reason: 'resolver_not_validating', observations: [] });
    expect(def.metrics!.series!(r, 'dane.test')).toBe('keep');
  });
});

describe(recordMatchesChain.name, () => {
  it('should refuse unusable records outright', () => {
    const el: ChainElement = { subject: '', issuer: '', notBefore: '', notAfter: '', certSha256: 'aa'.repeat(32), certSha512: 'bb'.repeat(64), spkiSha256: 'cc'.repeat(32), spkiSha512: 'dd'.repeat(64) };
    expect(recordMatchesChain({ usage: 3, selector: 1, matchingType: 1, data: 'cc'.repeat(32) }, [el], null)).toBe(true);
    expect(recordMatchesChain({ usage: 1, selector: 1, matchingType: 1, data: 'cc'.repeat(32) }, [el], true)).toBe(false);
    expect(recordMatchesChain({ usage: 3, selector: 1, matchingType: 2, data: 'dd'.repeat(64) }, [el], null)).toBe(true);
    expect(recordMatchesChain({ usage: 3, selector: 2, matchingType: 1, data: 'cc'.repeat(32) }, [el], null)).toBe(false);
    expect(malformation({ usage: 3, selector: 1, matchingType: 1, data: 'zz'.repeat(32) })).toBe('data is not hexadecimal');
    expect(malformation({ usage: 4, selector: 1, matchingType: 1, data: 'cc'.repeat(32) })).toBe('usage 4 is not defined');
  });
});
