import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeDnsbl } from '../../../../../test/rig/dns/dnsbl-zone.js';
import { FakeDnsServer } from '../../../../../test/rig/dns/fake-dns-server.js';
import { FindingRules } from '../../findings/findings.rules.js';
import { PlainDnsResolver } from '../../transport/dns/plain-dns-resolver.js';
import { AddressPolicy } from '../../transport/net/address-policy.js';
import type { PlanView, ProbeEnv } from '../probe-definition.js';
import type { ProbeContext, ProbeResult, ProbeSettings } from '../probe.types.js';
import { DNSBL_RESOLVER_TARGET, dnsblProbe } from './dnsbl.definition.js';

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
    const results = await Promise.all(subjects.map((s) => dnsblProbe.run(c, s, env)));
    return results.filter((r) => r !== null) as ProbeResult[];
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

  it('should keep filing DNSBL_QUERY_REFUSED through an own resolver, and raise no monitor finding', async () => {
    spamhausRefusesPublicResolvers();
    const findings = rules.derive(await runAll(ctx({ dnsblResolverPublic: null })));
    expect(findings.map((f) => f.code).sort()).toEqual(['DNSBL_LISTED', 'DNSBL_QUERY_REFUSED', 'DNSBL_QUERY_REFUSED']);
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
