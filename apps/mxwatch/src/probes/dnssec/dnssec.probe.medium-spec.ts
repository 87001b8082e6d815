import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnssecRig, type RigZone } from '../../../../../test/rig/dnssec/dnssec-rig.js';
import { createResolver, type ConfiguredResolver } from '../../transport/dns/resolver-factory.js';
import type { PlanView, ProbeEnv } from '../probe-definition.js';
import type { DnsAnswer, DnsRecordType, ProbeContext, ProbeResult, ResolveOptions, Resolver } from '../probe.types.js';
import { DNSSEC_FINDINGS } from './dnssec.findings.js';
import { type DnssecDetails, dnssecProbe } from './dnssec.probe.js';
import { CANARY_TTL_MS, canaryVerdict, classify, forgetCanary } from './dnssec-state.js';

const env: ProbeEnv = { shared: (_k, fn) => fn(), exclusive: (_k, fn) => fn() };
const CANARY = { signed: 'canary-ok.test', broken: 'www.canary-bad.test' };

/** The zones every suite here serves; `bogus` lines are served in place of the signed data. */
const ZONES: RigZone[] = [
  { name: 'canary-ok.test', signed: true, records: [] },
  { name: 'canary-bad.test', signed: true, records: ['www IN A 192.0.2.1'], bogus: ['www.canary-bad.test. 1 IN A 192.0.2.66'] },
  { name: 'secure.test', signed: true, records: ['@ IN MX 10 mx', 'mx IN A 192.0.2.10', 'mx IN AAAA 2001:db8::10'] },
  { name: 'plain.test', signed: false, records: ['@ IN MX 10 mx', 'mx IN A 192.0.2.20'] },
  { name: 'bogusmx.test', signed: true, records: ['@ IN MX 10 mx', 'mx IN A 192.0.2.30'], bogus: ['bogusmx.test. 1 IN MX 10 evil.example.'] },
  { name: 'boguship.test', signed: true, records: ['@ IN MX 10 mx', 'mx IN A 192.0.2.40'], bogus: ['mx.boguship.test. 1 IN A 192.0.2.41'] },
  { name: 'mixed.test', signed: true, records: ['@ IN MX 10 mx.plain.test.'] },
];

function plan(domain: string, mxHosts: string[] | null): PlanView {
  return {
    domain: { name: domain, submissionHosts: [], sendingIps: [], dkimSelectors: [] },
    results: (name) =>
      name === 'mx'
        ? [{ probe: 'mx', target: domain, status: mxHosts ? 'pass' : 'untestable', startedAt: new Date(), durationMs: 0, observations: [], details: { hosts: (mxHosts ?? []).map((host) => ({ host, addresses: [] })) } } as unknown as ProbeResult]
        : [],
    once: (_k, fn) => fn(),
  };
}

function context(resolver: Resolver, now = () => new Date()): ProbeContext {
  return {
    deadline: Date.now() + 20_000,
    signal: new AbortController().signal,
    resolver,
    dnsblResolver: resolver,
    settings: { certWarnDays: 14, dnssecCanary: CANARY },
    now,
  } as unknown as ProbeContext;
}

async function run(resolver: Resolver, domain: string, mxHosts: string[] | null): Promise<ProbeResult<DnssecDetails>> {
  const ctx = context(resolver);
  const [subject] = await dnssecProbe.subjects(plan(domain, mxHosts), ctx);
  const r = (await dnssecProbe.run(ctx, subject!, env))!;
  for (const o of r.observations) {
    const spec = DNSSEC_FINDINGS[o.code as keyof typeof DNSSEC_FINDINGS];
    for (const [, name] of `${spec.message} ${spec.remediation}`.matchAll(/\{(\w+)\}/g)) expect(o.params, `${o.code} {${name}}`).toHaveProperty(name!);
  }
  return r;
}

const codes = (r: ProbeResult) => r.observations.map((o) => `${o.code}@${o.target}`).sort();

describe(`${dnssecProbe.name} on a real validating resolver (unbound over ldns-signed zones)`, () => {
  let rig: DnssecRig;
  let resolver: ConfiguredResolver;

  beforeAll(async () => {
    rig = await DnssecRig.start({ zones: ZONES });
    resolver = createResolver({ servers: [rig.address], protocol: 'udp', timeoutMs: 2000, attempts: 2 });
  });

  afterAll(async () => {
    resolver?.close();
    await rig?.close();
  });

  it('should find nothing wrong with a signed domain whose MX host is signed', async () => {
    const r = await run(resolver, 'secure.test', ['mx.secure.test']);
    expect(r).toMatchObject({ probe: 'dnssec', status: 'pass', observations: [], details: { state: 'secure', resolverValidating: true, mxHosts: [{ host: 'mx.secure.test', state: 'secure' }] } });
    expect(dnssecProbe.metrics!.series!(r, 'secure.test')).toEqual([{ metric: 'mxwatch_dnssec_state_info', labels: { domain: 'secure.test', state: 'secure' }, value: 1 }]);
  });

  it('should note an unsigned domain and its unsigned MX host', async () => {
    const r = await run(resolver, 'plain.test', ['mx.plain.test']);
    expect(codes(r)).toEqual(['DNSSEC_MX_HOST_UNSIGNED@mx.plain.test', 'DNSSEC_UNSIGNED@plain.test']);
    expect(r.status).toBe('pass');
    expect(r.details.state).toBe('insecure');
  });

  it('should note a signed domain whose MX host lives in an unsigned zone (DANE impossible there)', async () => {
    const r = await run(resolver, 'mixed.test', ['mx.plain.test']);
    expect(codes(r)).toEqual(['DNSSEC_MX_HOST_UNSIGNED@mx.plain.test']);
  });

  it('should report bogus MX records as DNSSEC_BOGUS (SERVFAIL with validation, data with CD)', async () => {
    const r = await run(resolver, 'bogusmx.test', ['mx.bogusmx.test']);
    expect(codes(r)).toEqual(['DNSSEC_BOGUS@bogusmx.test']);
    expect(r.observations[0]!.params.types).toBe('MX');
    expect(r.status).toBe('fail');
    expect(dnssecProbe.metrics!.series!(r, 'bogusmx.test')).toEqual([{ metric: 'mxwatch_dnssec_state_info', labels: { domain: 'bogusmx.test', state: 'bogus' }, value: 1 }]);
  });

  it('should report an MX host whose address fails validation', async () => {
    const r = await run(resolver, 'boguship.test', ['mx.boguship.test']);
    expect(codes(r)).toEqual(['DNSSEC_BOGUS@mx.boguship.test']);
    expect(r.observations[0]!.params.types).toBe('A');
  });

  it('should leave MX hosts alone when the mx result was untestable', async () => {
    const r = await run(resolver, 'secure.test', null);
    expect(r.details.mxHosts).toEqual([]);
    expect(r.status).toBe('pass');
  });

  it('should tell the four outcomes apart for single questions', async () => {
    expect((await classify(resolver, 'mx.secure.test', 'A')).state).toBe('secure');
    expect((await classify(resolver, 'nothing.secure.test', 'A')).state).toBe('secure');
    expect((await classify(resolver, 'mx.plain.test', 'A')).state).toBe('insecure');
    const bogus = await classify(resolver, 'mx.boguship.test', 'A');
    expect(bogus.state).toBe('bogus');
    expect(bogus.ede.map((e) => e.code)).toContain(6);
  });
});

describe(`${dnssecProbe.name} behind a resolver that does not validate`, () => {
  let rig: DnssecRig;
  let resolver: ConfiguredResolver;

  beforeAll(async () => {
    rig = await DnssecRig.start({ zones: ZONES, validating: false });
    resolver = createResolver({ servers: [rig.address], protocol: 'udp', timeoutMs: 2000, attempts: 2 });
  });

  afterAll(async () => {
    resolver?.close();
    await rig?.close();
  });

  it('should make every result untestable and raise only the monitor finding, never a domain verdict', async () => {
    for (const domain of ['secure.test', 'plain.test', 'bogusmx.test']) {
      const r = await run(resolver, domain, [`mx.${domain}`]);
      expect(r).toMatchObject({ status: 'untestable', reason: 'resolver_not_validating', details: { resolverValidating: false, state: null } });
      expect(codes(r)).toEqual(['MONITOR_RESOLVER_NOT_VALIDATING@resolver']);
      expect(dnssecProbe.metrics!.series!(r, domain)).toBe('keep');
    }
    expect(DNSSEC_FINDINGS.MONITOR_RESOLVER_NOT_VALIDATING.reportWhenUntestable).toBe(true);
  });
});

/** A resolver stub that counts questions and answers from a table. */
class TableResolver implements Resolver {
  readonly asked: string[] = [];
  constructor(private readonly table: Record<string, (o: ResolveOptions) => DnsAnswer<DnsRecordType>>) {}
  async resolve<T extends DnsRecordType>(name: string, type: T, options: ResolveOptions = {}): Promise<DnsAnswer<T>> {
    this.asked.push(`${name} ${type}${options.checkingDisabled ? ' +cd' : ''}`);
    const f = this.table[`${name} ${type}`];
    if (!f) return { ok: false, type, name, error: 'timeout', cause: 'no answer', dnssec: { authenticated: false, checkingDisabled: false, rcode: 'NOERROR', ede: [] } } as DnsAnswer<T>;
    return f(options) as DnsAnswer<T>;
  }
}

const flags = (authenticated: boolean, rcode = 'NOERROR', ede: Array<{ code: number; text: string }> = []) => ({ authenticated, checkingDisabled: false, rcode, ede });

describe(classify.name, () => {
  it('should call SERVFAIL bogus only when the data comes back with checking disabled', async () => {
    const r = new TableResolver({
      'x.test A': (o) => (o.checkingDisabled ? { ok: true, type: 'A', name: 'x.test', records: ['192.0.2.1'], ttl: 1, dnssec: flags(false) } : { ok: false, type: 'A', name: 'x.test', error: 'servfail', cause: 'SERVFAIL', dnssec: flags(false, 'SERVFAIL') }),
      'y.test A': () => ({ ok: false, type: 'A', name: 'y.test', error: 'servfail', cause: 'SERVFAIL', dnssec: flags(false, 'SERVFAIL') }),
      'z.test A': () => ({ ok: false, type: 'A', name: 'z.test', error: 'servfail', cause: 'SERVFAIL', dnssec: flags(false, 'SERVFAIL', [{ code: 7, text: 'Signature Expired' }]) }),
      'w.test A': () => ({ ok: false, type: 'A', name: 'w.test', error: 'servfail', cause: 'SERVFAIL', dnssec: flags(false, 'SERVFAIL', [{ code: 5, text: '' }]) }),
      'v.test A': () => ({ ok: true, type: 'A', name: 'v.test', records: ['192.0.2.1'], ttl: 1 }),
    });
    expect((await classify(r, 'x.test', 'A')).state).toBe('bogus');
    expect((await classify(r, 'y.test', 'A')).state).toBe('indeterminate');
    expect((await classify(r, 'z.test', 'A')).state).toBe('bogus');
    expect((await classify(r, 'w.test', 'A')).state).toBe('indeterminate');
    expect((await classify(r, 'v.test', 'A')).state).toBe('indeterminate');
    expect((await classify(r, 'u.test', 'A')).state).toBe('indeterminate');
    // EDE 7 needs no second question; a plain SERVFAIL does.
    expect(r.asked.filter((q) => q.endsWith('+cd'))).toEqual(['x.test A +cd', 'y.test A +cd']);
  });
});

describe(canaryVerdict.name, () => {
  const validating = () =>
    new TableResolver({
      'ok.test SOA': () => ({ ok: true, type: 'SOA', name: 'ok.test', records: [], ttl: 1, dnssec: flags(true) }) as DnsAnswer<DnsRecordType>,
      'bad.test A': () => ({ ok: false, type: 'A', name: 'bad.test', error: 'servfail', cause: 'SERVFAIL', dnssec: flags(false, 'SERVFAIL') }),
    });
  const names = { signed: 'ok.test', broken: 'bad.test' };

  it('should check once, then again only after an hour', async () => {
    const r = validating();
    let now = 1_000_000;
    expect(await canaryVerdict(r, names, { now: () => now })).toMatchObject({ validating: true });
    now += CANARY_TTL_MS - 1;
    await canaryVerdict(r, names, { now: () => now });
    expect(r.asked).toHaveLength(2);
    now += 2;
    await canaryVerdict(r, names, { now: () => now });
    expect(r.asked).toHaveLength(4);
    forgetCanary(r);
  });

  it('should say not validating when the signed name lacks AD or the broken one answers', async () => {
    const noAd = new TableResolver({
      'ok.test SOA': () => ({ ok: true, type: 'SOA', name: 'ok.test', records: [], ttl: 1, dnssec: flags(false) }) as DnsAnswer<DnsRecordType>,
      'bad.test A': () => ({ ok: false, type: 'A', name: 'bad.test', error: 'servfail', cause: 'SERVFAIL', dnssec: flags(false, 'SERVFAIL') }),
    });
    expect(await canaryVerdict(noAd, names)).toMatchObject({ validating: false, why: expect.stringContaining('without AD') });
    const lenient = new TableResolver({
      'ok.test SOA': () => ({ ok: true, type: 'SOA', name: 'ok.test', records: [], ttl: 1, dnssec: flags(true) }) as DnsAnswer<DnsRecordType>,
      'bad.test A': () => ({ ok: true, type: 'A', name: 'bad.test', records: ['192.0.2.1'], ttl: 1, dnssec: flags(false) }),
    });
    expect(await canaryVerdict(lenient, names)).toMatchObject({ validating: false, why: expect.stringContaining('does not reject bogus') });
  });

  it('should conclude nothing when the resolver does not answer, and ask again within minutes', async () => {
    const silent = new TableResolver({});
    let now = 5_000_000;
    expect(await canaryVerdict(silent, names, { now: () => now })).toMatchObject({ validating: null });
    now += 61_000;
    await canaryVerdict(silent, names, { now: () => now });
    expect(silent.asked).toHaveLength(4);
  });
});
