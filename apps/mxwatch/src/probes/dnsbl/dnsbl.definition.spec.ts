import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeDnsbl } from '../../../../../test/rig/dns/dnsbl-zone.js';
import { FakeDnsServer } from '../../../../../test/rig/dns/fake-dns-server.js';
import { FindingRules } from '../../findings/findings.rules.js';
import { PlainDnsResolver } from '../../transport/dns/plain-dns-resolver.js';
import { AddressPolicy } from '../../transport/net/address-policy.js';
import type { PlanView, ProbeEnv } from '../probe-definition.js';
import type { ProbeContext, ProbeResult, ProbeSettings } from '../probe.types.js';
import { DNSBL_RESOLVER_TARGET, dnsblProbe } from './dnsbl.definition.js';
import type { DnsblDetails } from './dnsbl.probe.js';

const KEY = 'abcdefghij0123456789klmnop';
const IPS = ['192.0.2.1', '192.0.2.2', '192.0.2.3'];

describe('dnsbl definition behind a public resolver', () => {
  let dns: FakeDnsServer;
  let resolver: PlainDnsResolver;
  const rules = new FindingRules([dnsblProbe]);

  function ctx(settings: Partial<ProbeSettings>): ProbeContext {
    return {
      deadline: Date.now() + 10_000,
      signal: new AbortController().signal,
      resolver,
      dnsblResolver: resolver,
      dialer: { dial: async () => ({ ok: false, error: 'forbidden', cause: 'unit test' }) },
      addressPolicy: AddressPolicy.fromList('192.0.2.0/24'),
      settings: {
        smtpPorts: [25], certWarnDays: 14, slowBannerMs: 5000, ehloName: 'probe.test', smtpConnectTimeoutMs: 1000, smtpReplyTimeoutMs: 1000, maxMxHosts: 10, maxAddresses: 32,
        dnsblZones: ['zen.spamhaus.org', 'bl.spamcop.net', 'dbl.spamhaus.org'],
        ...settings,
      },
      now: () => new Date(),
    };
  }

  const plan: PlanView = {
    domain: { name: 'example.test', submissionHosts: [], sendingIps: IPS, dkimSelectors: [] },
    results: () => [],
    once: (_key, fn) => fn(),
  };
  const env: ProbeEnv = { shared: (_key, fn) => fn(), exclusive: (_key, fn) => fn() };

  async function runAll(c: ProbeContext): Promise<ProbeResult[]> {
    const subjects = await dnsblProbe.subjects(plan, c);
    const results = (await Promise.all(subjects.map((s) => dnsblProbe.run(c, s, env)))).filter((r) => r !== null) as ProbeResult[];
    // As the planner does (runtime/domain-check.ts).
    return dnsblProbe.reviewRun ? dnsblProbe.reviewRun(results as ProbeResult<DnsblDetails>[]) : results;
  }

  beforeAll(async () => {
    dns = await FakeDnsServer.start({ host: '127.0.0.62', http: false });
    resolver = new PlainDnsResolver({ servers: [dns.udpAddress!], protocol: 'udp', timeoutMs: 1500, attempts: 1, cacheMaxEntries: 0 });
  });

  afterEach(() => dns.reset());

  afterAll(async () => {
    resolver.close();
    await dns.close();
  });

  function spamhausRefusesPublicResolvers(): void {
    FakeDnsbl.healthy(dns, 'zen.spamhaus.org', 'ip').refuseEverything('127.255.255.254');
    FakeDnsbl.healthy(dns, 'dbl.spamhaus.org', 'domain').refuseEverything('127.255.255.254');
    FakeDnsbl.healthy(dns, 'bl.spamcop.net', 'ip').listIp('192.0.2.2', { codes: ['127.0.0.2'] });
  }

  it('should raise one monitor finding, naming the dark lists, instead of a refusal per address', async () => {
    spamhausRefusesPublicResolvers();
    const results = await runAll(ctx({ dnsblResolverPublic: 'Cloudflare' }));
    const findings = rules.derive(results);
    expect(findings.map((f) => [f.code, f.target]).sort()).toEqual([
      ['DNSBL_LISTED', '192.0.2.2@bl.spamcop.net'],
      ['MONITOR_DNSBL_RESOLVER_PUBLIC', DNSBL_RESOLVER_TARGET],
    ]);
    const monitor = findings.find((f) => f.code === 'MONITOR_DNSBL_RESOLVER_PUBLIC')!;
    expect(monitor.message).toContain('Cloudflare');
    expect(monitor.message).toContain('zen.spamhaus.org, dbl.spamhaus.org');
    expect(monitor.remediation).toContain('MXWATCH_SPAMHAUS_DQS_KEY');
    // The lists' refusals stay untestable (listing unknown), with a reason that points at the resolver.
    const spamhaus = results.filter((r) => r.target.endsWith('spamhaus.org'));
    expect(spamhaus.length).toBe(4);
    expect(spamhaus.every((r) => r.status === 'untestable' && r.reason === 'dnsbl_resolver_public')).toBe(true);
  });

  it('should take a list\'s own "public resolver refused" answer as proof whatever the address: one monitor finding, untestable results', async () => {
    spamhausRefusesPublicResolvers();
    const results = await runAll(ctx({ dnsblResolverPublic: null, dnsblResolverName: '10.0.0.53' }));
    const findings = rules.derive(results);
    expect(findings.map((f) => [f.code, f.target, f.scope]).sort()).toEqual([
      ['DNSBL_LISTED', '192.0.2.2@bl.spamcop.net', 'domain'],
      ['MONITOR_DNSBL_RESOLVER_PUBLIC', DNSBL_RESOLVER_TARGET, 'monitor'],
    ]);
    const monitor = findings.find((f) => f.code === 'MONITOR_DNSBL_RESOLVER_PUBLIC')!;
    expect(monitor.message).toBe(
      'mxwatch asks the DNS blacklists through a public or shared resolver (10.0.0.53), which zen.spamhaus.org, dbl.spamhaus.org refuse to answer; listings there cannot be seen',
    );
    // One observation for the run, on one result, naming every list that refused.
    expect(results.flatMap((r) => r.observations).filter((o) => o.code === 'MONITOR_DNSBL_RESOLVER_PUBLIC')).toHaveLength(1);
    const spamhaus = results.filter((r) => r.target.endsWith('spamhaus.org'));
    expect(spamhaus.map((r) => [r.status, r.reason, (r.details as { state: string }).state])).toEqual(Array(4).fill(['untestable', 'dnsbl_resolver_public', 'error']));
    expect(spamhaus.every((r) => !r.observations.some((o) => o.code === 'DNSBL_QUERY_REFUSED'))).toBe(true);
  });

  it('should keep filing DNSBL_QUERY_REFUSED through an own resolver for refusals that prove nothing about it (excessive queries), and raise no monitor finding', async () => {
    FakeDnsbl.healthy(dns, 'zen.spamhaus.org', 'ip').refuseEverything('127.255.255.255');
    FakeDnsbl.healthy(dns, 'dbl.spamhaus.org', 'domain').refuseEverything('127.255.255.255');
    FakeDnsbl.healthy(dns, 'bl.spamcop.net', 'ip').listIp('192.0.2.2', { codes: ['127.0.0.2'] });
    const findings = rules.derive(await runAll(ctx({ dnsblResolverPublic: null })));
    expect(findings.map((f) => f.code).sort()).toEqual(['DNSBL_LISTED', 'DNSBL_QUERY_REFUSED', 'DNSBL_QUERY_REFUSED']);
  });

  it('should not trust a "not listed" from a dark list through a presumed shared resolver, and keep a listing', async () => {
    FakeDnsbl.healthy(dns, 'zen.spamhaus.org', 'ip').listIp('192.0.2.3', { codes: ['127.0.0.2'] });
    FakeDnsbl.healthy(dns, 'dbl.spamhaus.org', 'domain');
    FakeDnsbl.healthy(dns, 'bl.spamcop.net', 'ip');
    const results = await runAll(ctx({ dnsblResolverPublic: '10.0.0.53, declared shared by MXWATCH_DNSBL_RESOLVER_SHARED' }));
    const byTarget = Object.fromEntries(results.map((r) => [r.target, [r.status, r.reason ?? null]]));
    expect(byTarget).toEqual({
      '192.0.2.1@zen.spamhaus.org': ['untestable', 'dnsbl_resolver_public'],
      '192.0.2.2@zen.spamhaus.org': ['untestable', 'dnsbl_resolver_public'],
      '192.0.2.3@zen.spamhaus.org': ['fail', 'listed'],
      'example.test@dbl.spamhaus.org': ['untestable', 'dnsbl_resolver_public'],
      '192.0.2.1@bl.spamcop.net': ['pass', null],
      '192.0.2.2@bl.spamcop.net': ['pass', null],
      '192.0.2.3@bl.spamcop.net': ['pass', null],
    });
    // No "0 = clean" series from an answer that says nothing; the listing keeps its 1.
    const series = results
      .flatMap((r) => {
        const out = dnsblProbe.metrics!.series!(r as ProbeResult<DnsblDetails>, 'example.test');
        return out === 'keep' ? [] : out;
      })
      .filter((x) => x.labels.zone !== 'bl.spamcop.net');
    expect(series.map((x) => [x.labels.ip, x.value])).toEqual([['192.0.2.3', 1]]);
    const findings = rules.derive(results);
    expect(findings.map((f) => f.code).sort()).toEqual(['DNSBL_LISTED', 'MONITOR_DNSBL_RESOLVER_PUBLIC']);
    expect(findings.find((f) => f.code === 'MONITOR_DNSBL_RESOLVER_PUBLIC')!.message).toContain('(10.0.0.53, declared shared by MXWATCH_DNSBL_RESOLVER_SHARED)');
  });

  it('should count as covered only a run in which a list the finding names answered', async () => {
    const finding = { probe: 'dnsbl', code: 'MONITOR_DNSBL_RESOLVER_PUBLIC', target: DNSBL_RESOLVER_TARGET, evidence: { lists: 'zen.spamhaus.org' } };
    FakeDnsbl.healthy(dns, 'zen.spamhaus.org', 'ip');
    FakeDnsbl.healthy(dns, 'dbl.spamhaus.org', 'domain');
    FakeDnsbl.healthy(dns, 'bl.spamcop.net', 'ip');
    expect(rules.isCovered(finding, await runAll(ctx({ dnsblResolverPublic: null })))).toBe(true);
    // zen still refuses (a run through the same resolver would have carried it), spamcop answers: not a miss.
    dns.reset();
    FakeDnsbl.healthy(dns, 'zen.spamhaus.org', 'ip').refuseEverything('127.255.255.255');
    FakeDnsbl.healthy(dns, 'dbl.spamhaus.org', 'domain');
    FakeDnsbl.healthy(dns, 'bl.spamcop.net', 'ip');
    expect(rules.isCovered(finding, await runAll(ctx({ dnsblResolverPublic: null })))).toBe(false);
    // zen no longer asked (removed from the zones): any list that answered covers it.
    expect(rules.isCovered(finding, await runAll(ctx({ dnsblResolverPublic: null, dnsblZones: ['bl.spamcop.net'] })))).toBe(true);
  });

  it('should not count Spamhaus as dark when a DQS key sends its queries to dq.spamhaus.net', async () => {
    FakeDnsbl.spamhausDqs(dns, KEY, 'zen.spamhaus.org');
    FakeDnsbl.spamhausDqs(dns, KEY, 'dbl.spamhaus.org');
    FakeDnsbl.healthy(dns, 'bl.spamcop.net', 'ip');
    FakeDnsbl.healthy(dns, 'b.barracudacentral.org', 'ip');
    const clean = rules.derive(await runAll(ctx({ dnsblResolverPublic: 'Google', spamhausDqsKey: KEY })));
    expect(clean).toEqual([]);
    const withBarracuda = rules.derive(await runAll(ctx({ dnsblResolverPublic: 'Google', spamhausDqsKey: KEY, dnsblZones: ['zen.spamhaus.org', 'b.barracudacentral.org'] })));
    expect(withBarracuda.map((f) => [f.code, f.message.includes('b.barracudacentral.org') && !f.message.includes('spamhaus')])).toEqual([['MONITOR_DNSBL_RESOLVER_PUBLIC', true]]);
  });

  it('should let the monitor finding resolve once a run asks the lists through an own resolver', async () => {
    spamhausRefusesPublicResolvers();
    const own = await runAll(ctx({ dnsblResolverPublic: null }));
    expect(rules.isCovered({ probe: 'dnsbl', code: 'MONITOR_DNSBL_RESOLVER_PUBLIC', target: DNSBL_RESOLVER_TARGET, evidence: {} }, own)).toBe(true);
  });
});
