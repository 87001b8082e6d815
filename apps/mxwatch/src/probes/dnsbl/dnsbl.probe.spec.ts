import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeDnsbl } from '../../../../../test/rig/dns/dnsbl-zone.js';
import { FakeDnsServer } from '../../../../../test/rig/dns/fake-dns-server.js';
import { DohResolver } from '../../transport/dns/doh-resolver.js';
import { FINDING_CATALOG, renderTemplate, type FindingCode } from '../../findings/finding-catalog.js';
import { AddressPolicy } from '../../transport/net/address-policy.js';
import type { ProbeContext, ProbeResult } from '../probe.types.js';
import { probeDnsbl, probeDnsblZoneHealth, type DnsblDetails, type DnsblZoneHealth } from './dnsbl.probe.js';

const HEALTHY: DnsblZoneHealth = { zone: '', healthy: true, verified: true };

function expectCompleteParams(result: ProbeResult<DnsblDetails>): void {
  for (const o of result.observations) {
    const entry = FINDING_CATALOG[o.code as FindingCode];
    expect(renderTemplate(entry.message, o.params), o.code).not.toMatch(/\{\w+\}/);
  }
}

describe(probeDnsbl.name, () => {
  let dns: FakeDnsServer;
  let resolver: DohResolver;
  let zen: FakeDnsbl;
  let dbl: FakeDnsbl;

  function ctx(overrides: Partial<ProbeContext> = {}): ProbeContext {
    return {
      deadline: Date.now() + 10_000,
      signal: new AbortController().signal,
      resolver,
      dnsblResolver: resolver,
      dialer: { dial: async () => ({ ok: false, error: 'forbidden', cause: 'unit test' }) },
      addressPolicy: new AddressPolicy(),
      settings: { smtpPorts: [25], certWarnDays: 14, slowBannerMs: 5000, dnsblZones: [], ehloName: 'probe.test', smtpConnectTimeoutMs: 1000, smtpReplyTimeoutMs: 1000, maxMxHosts: 10, maxAddresses: 32 },
      now: () => new Date(),
      ...overrides,
    };
  }

  beforeAll(async () => {
    dns = await FakeDnsServer.start();
  });

  beforeEach(() => {
    // Generous: a loaded CI machine must not turn an answer into a timeout; only the drop test waits it out.
    resolver = new DohResolver({ servers: [dns.httpAddress!], protocol: 'http', timeoutMs: 1500, attempts: 1 });
    zen = FakeDnsbl.healthy(dns, 'zen.spamhaus.org', 'ip');
    dbl = FakeDnsbl.healthy(dns, 'dbl.spamhaus.org', 'domain');
  });

  afterEach(() => {
    dns.reset();
    resolver.close();
  });

  afterAll(async () => {
    await dns.close();
  });

  it('should fail a listed IPv4 address with DNSBL_LISTED, its codes and the TXT reason', async () => {
    zen.listIp('192.0.2.1', { codes: ['127.0.0.2', '127.0.0.4'], txt: 'https://check.spamhaus.org/sbl/query/SBL1' });
    const result = await probeDnsbl(ctx(), { kind: 'ip', ip: '192.0.2.1' }, 'zen.spamhaus.org', HEALTHY);
    expectCompleteParams(result);
    expect(result).toMatchObject({ probe: 'dnsbl', target: '192.0.2.1@zen.spamhaus.org', status: 'fail' });
    expect(result.details).toMatchObject({
      subject: '192.0.2.1', subjectKind: 'ip', zone: 'zen.spamhaus.org', state: 'listed', txt: 'https://check.spamhaus.org/sbl/query/SBL1', error: null, zoneHealthy: true,
      codes: [{ code: '127.0.0.2' }, { code: '127.0.0.4' }],
    });
    expect(result.observations).toEqual([
      {
        code: 'DNSBL_LISTED',
        target: '192.0.2.1@zen.spamhaus.org',
        params: {
          subject: '192.0.2.1', zone: 'zen.spamhaus.org', code: '127.0.0.2, 127.0.0.4',
          meaning: expect.stringMatching(/^SBL.*; XBL/), txt: ' — https://check.spamhaus.org/sbl/query/SBL1',
        },
      },
    ]);
  });

  it('should query IPv6 addresses by reversed nibbles', async () => {
    zen.listIp('2001:db8::25', { codes: ['127.0.0.3'] });
    const result = await probeDnsbl(ctx(), { kind: 'ip', ip: '2001:db8::25' }, 'zen.spamhaus.org', HEALTHY);
    expect(result).toMatchObject({ status: 'fail', details: { txt: null } });
    expect(result.observations[0].params.txt).toBe('');
    expect(dns.queries.some((q) => q.name === `5.2.0.0.${'0.'.repeat(20)}8.b.d.0.1.0.0.2.zen.spamhaus.org`)).toBe(true);
  });

  it('should pass a clean address and never ask for TXT', async () => {
    const result = await probeDnsbl(ctx(), { kind: 'ip', ip: '192.0.2.1' }, 'zen.spamhaus.org', HEALTHY);
    expect(result).toMatchObject({ status: 'pass', observations: [], details: { state: 'clean', codes: [], txt: null } });
    expect(dns.queryCount(undefined, 'TXT')).toBe(0);
  });

  it('should ask domain lists about the domain name', async () => {
    dbl.listDomain('spammy.example', { codes: ['127.0.1.2'], txt: 'https://www.spamhaus.org/query/domain/spammy.example' });
    const result = await probeDnsbl(ctx(), { kind: 'domain', domain: 'Spammy.Example' }, 'dbl.spamhaus.org', HEALTHY);
    expect(result).toMatchObject({ target: 'spammy.example@dbl.spamhaus.org', status: 'fail', details: { codes: [{ code: '127.0.1.2', meaning: 'spam domain' }] } });
  });

  it.each([
    ['a Spamhaus public-resolver answer', () => zen.refuseEverything('127.255.255.254'), '127.255.255.254'],
    ['a Spamhaus excessive-queries answer', () => zen.refuseEverything('127.255.255.255'), '127.255.255.255'],
    ['a DNS REFUSED', () => zen.failWith('REFUSED'), 'DNS REFUSED'],
  ])('should be untestable with DNSBL_QUERY_REFUSED on %s', async (_label, arrange, shown) => {
    arrange();
    const result = await probeDnsbl(ctx(), { kind: 'ip', ip: '192.0.2.1' }, 'zen.spamhaus.org', HEALTHY);
    expectCompleteParams(result);
    expect(result).toMatchObject({ status: 'untestable', reason: 'dnsbl_query_refused', details: { state: 'error' } });
    expect(result.observations).toEqual([
      { code: 'DNSBL_QUERY_REFUSED', target: 'zen.spamhaus.org', params: { zone: 'zen.spamhaus.org', subject: '192.0.2.1', answer: shown } },
    ]);
  });

  it('should be untestable without observations on SERVFAIL, timeouts and unknown answers', async () => {
    zen.failWith('SERVFAIL');
    const servfail = await probeDnsbl(ctx(), { kind: 'ip', ip: '192.0.2.1' }, 'zen.spamhaus.org', HEALTHY);
    expect(servfail).toMatchObject({ status: 'untestable', reason: 'dns_servfail', observations: [], details: { errorReason: 'servfail' } });

    dns.setFault('zen.spamhaus.org', { drop: true });
    const timeout = await probeDnsbl(ctx(), { kind: 'ip', ip: '192.0.2.2' }, 'zen.spamhaus.org', HEALTHY);
    expect(timeout).toMatchObject({ status: 'untestable', reason: 'dns_timeout', observations: [] });

    dns.clearFaults();
    zen.listIp('192.0.2.3', { codes: ['127.0.0.99'] });
    const unknown = await probeDnsbl(ctx(), { kind: 'ip', ip: '192.0.2.3' }, 'zen.spamhaus.org', HEALTHY);
    expect(unknown).toMatchObject({ status: 'untestable', reason: 'dnsbl_unknown_answer', observations: [], details: { error: expect.stringContaining('127.0.0.99') } });
  });

  it('should not query an unhealthy zone and report DNSBL_ZONE_UNHEALTHY against the zone', async () => {
    zen.listIp('192.0.2.1', { codes: ['127.0.0.2'] });
    const health: DnsblZoneHealth = { zone: 'zen.spamhaus.org', healthy: false, verified: true, reason: 'test point 127.0.0.1 must not be listed' };
    const result = await probeDnsbl(ctx(), { kind: 'ip', ip: '192.0.2.1' }, 'zen.spamhaus.org', health);
    expectCompleteParams(result);
    expect(result).toMatchObject({ status: 'untestable', reason: 'zone_unhealthy', details: { zoneHealthy: false, state: 'error' } });
    expect(result.observations).toEqual([
      { code: 'DNSBL_ZONE_UNHEALTHY', target: 'zen.spamhaus.org', params: { zone: 'zen.spamhaus.org', reason: 'test point 127.0.0.1 must not be listed' } },
    ]);
    expect(dns.queryCount()).toBe(0);
  });

  it('should throw when an IP is asked of a domain list (a caller bug)', async () => {
    await expect(probeDnsbl(ctx(), { kind: 'ip', ip: '192.0.2.1' }, 'dbl.spamhaus.org', HEALTHY)).rejects.toThrow('bug');
  });

  it('should treat a custom zone by the custom semantics', async () => {
    const custom = FakeDnsbl.healthy(dns, 'rbl.example.test', 'ip');
    custom.listIp('192.0.2.1', { codes: ['127.0.0.42'] });
    const result = await probeDnsbl(ctx(), { kind: 'ip', ip: '192.0.2.1' }, 'rbl.example.test:ip', HEALTHY);
    expect(result).toMatchObject({ status: 'fail', target: '192.0.2.1@rbl.example.test', details: { codes: [{ code: '127.0.0.42', meaning: 'listed' }] } });
  });
});

describe(probeDnsblZoneHealth.name, () => {
  let dns: FakeDnsServer;
  let resolver: DohResolver;
  const ctx = (): ProbeContext => ({
    deadline: Date.now() + 10_000,
    signal: new AbortController().signal,
    resolver,
    dnsblResolver: resolver,
    dialer: { dial: async () => ({ ok: false, error: 'forbidden', cause: 'unit test' }) },
    addressPolicy: new AddressPolicy(),
    settings: { smtpPorts: [25], certWarnDays: 14, slowBannerMs: 5000, dnsblZones: [], ehloName: 'probe.test', smtpConnectTimeoutMs: 1000, smtpReplyTimeoutMs: 1000, maxMxHosts: 10, maxAddresses: 32 },
    now: () => new Date(),
  });

  beforeAll(async () => {
    dns = await FakeDnsServer.start();
  });

  beforeEach(() => {
    resolver = new DohResolver({ servers: [dns.httpAddress!], protocol: 'http', timeoutMs: 1500, attempts: 1 });
  });

  afterEach(() => {
    dns.reset();
    resolver.close();
  });

  afterAll(async () => {
    await dns.close();
  });

  it('should find a healthy IP list healthy through 2.0.0.127 and 1.0.0.127', async () => {
    FakeDnsbl.healthy(dns, 'zen.spamhaus.org', 'ip');
    await expect(probeDnsblZoneHealth(ctx(), 'zen.spamhaus.org')).resolves.toEqual({ zone: 'zen.spamhaus.org', healthy: true, verified: true });
    expect(dns.queries.map((q) => q.name).sort()).toEqual(['1.0.0.127.zen.spamhaus.org', '2.0.0.127.zen.spamhaus.org']);
  });

  it('should use the documented test name of a domain list and "invalid"', async () => {
    FakeDnsbl.healthy(dns, 'dbl.spamhaus.org', 'domain');
    await expect(probeDnsblZoneHealth(ctx(), 'dbl.spamhaus.org')).resolves.toMatchObject({ healthy: true, verified: true });
    expect(dns.queries.map((q) => q.name).sort()).toEqual(['dbltest.com.dbl.spamhaus.org', 'invalid.dbl.spamhaus.org']);
  });

  it('should find a list that lists everything unhealthy', async () => {
    FakeDnsbl.healthy(dns, 'bl.spamcop.net', 'ip').listEverything();
    await expect(probeDnsblZoneHealth(ctx(), 'bl.spamcop.net')).resolves.toEqual({
      zone: 'bl.spamcop.net', healthy: false, verified: true, reason: 'test point 127.0.0.1 must not be listed but is listed (127.0.0.2); the list answers for everything',
    });
  });

  it('should find a defunct list (no test point listed) unhealthy', async () => {
    FakeDnsbl.healthy(dns, 'psbl.surriel.com', 'ip').listNothing();
    await expect(probeDnsblZoneHealth(ctx(), 'psbl.surriel.com')).resolves.toMatchObject({
      healthy: false, reason: 'test point 127.0.0.2 must be listed but is not listed; the list may be defunct',
    });
  });

  it('should leave a zone unverified, not unhealthy, when the list refuses us or DNS fails', async () => {
    FakeDnsbl.healthy(dns, 'zen.spamhaus.org', 'ip').refuseEverything();
    await expect(probeDnsblZoneHealth(ctx(), 'zen.spamhaus.org')).resolves.toMatchObject({ healthy: true, verified: false, reason: expect.stringContaining('127.255.255.254') });

    FakeDnsbl.healthy(dns, 'multi.uribl.com', 'domain').refuseEverything('127.0.0.1');
    await expect(probeDnsblZoneHealth(ctx(), 'multi.uribl.com')).resolves.toMatchObject({ healthy: true, verified: false });

    dns.setFault('bl.mailspike.net', { rcode: 'SERVFAIL' });
    await expect(probeDnsblZoneHealth(ctx(), 'bl.mailspike.net')).resolves.toMatchObject({ healthy: true, verified: false, reason: expect.stringContaining('SERVFAIL') });
  });
});
