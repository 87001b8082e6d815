import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeDnsServer } from '../../../../../test/rig/dns/fake-dns-server.js';
import { DohResolver } from '../../transport/dns/doh-resolver.js';
import { FINDING_CATALOG, renderTemplate, type FindingCode } from '../../findings/finding-catalog.js';
import { AddressPolicy } from '../../transport/net/address-policy.js';
import type { ProbeContext, ProbeResult } from '../probe.types.js';
import { probeMx, type MxDetails } from './mx.probe.js';

/** Every observation must fill every placeholder of its catalog message and remediation. */
function expectCompleteParams(result: ProbeResult<MxDetails>): void {
  for (const o of result.observations) {
    const entry = FINDING_CATALOG[o.code as FindingCode];
    expect(entry, o.code).toBeDefined();
    expect(renderTemplate(entry.message, o.params), o.code).not.toMatch(/\{\w+\}/);
    expect(renderTemplate(entry.remediation, o.params), o.code).not.toMatch(/\{(mx|cname|domain|ip|range|count|error|fallback)\}/);
  }
}

describe(probeMx.name, () => {
  let dns: FakeDnsServer;
  let resolver: DohResolver;

  function ctx(overrides: Partial<ProbeContext> = {}): ProbeContext {
    const controller = new AbortController();
    return {
      deadline: Date.now() + 10_000,
      signal: controller.signal,
      resolver,
      dnsblResolver: resolver,
      dialer: { dial: async () => ({ ok: false, error: 'forbidden', cause: 'unit test' }) },
      addressPolicy: new AddressPolicy(),
      settings: { smtpPorts: [25], certWarnDays: 14, slowBannerMs: 5000, dnsblZones: [], ehloName: 'probe.test', smtpConnectTimeoutMs: 1000, smtpReplyTimeoutMs: 1000, maxMxHosts: 10, maxAddresses: 32 },
      now: () => new Date(),
      ...overrides,
    };
  }

  async function probe(domain = 'example.test', overrides: Partial<ProbeContext> = {}) {
    const result = await probeMx(ctx(overrides), domain);
    expectCompleteParams(result);
    return result;
  }

  beforeAll(async () => {
    dns = await FakeDnsServer.start();
  });

  afterEach(() => {
    dns.reset();
    resolver?.close();
  });

  afterAll(async () => {
    await dns.close();
  });

  // A fresh resolver per test: its cache must not carry answers between zone maps.
  const fresh = (timeoutMs = 1000, attempts = 2) => {
    resolver = new DohResolver({ servers: [dns.httpAddress!], protocol: 'http', timeoutMs, attempts });
  };

  it('should pass a domain whose MX hosts resolve to public addresses, sorted by preference then name', async () => {
    fresh();
    dns.setZone({
      'example.test': { MX: [{ preference: 20, exchange: 'mx-b.example.test' }, { preference: 10, exchange: 'mx-c.example.test' }, { preference: 20, exchange: 'mx-a.example.test' }] },
      'mx-a.example.test': { A: ['198.51.99.1'] },
      'mx-b.example.test': { A: ['198.51.99.2'], AAAA: ['2a00:1450::2'] },
      'mx-c.example.test': { AAAA: ['2a00:1450::3'] },
    });
    const result = await probe('Example.Test.');
    expect(result).toMatchObject({ probe: 'mx', target: 'example.test', status: 'pass', observations: [] });
    expect(result.details).toEqual({
      domain: 'example.test',
      nullMx: false,
      implicit: false,
      hosts: [
        { host: 'mx-c.example.test', preference: 10, addresses: ['2a00:1450::3'], cname: null, ipLiteral: false, resolveError: null },
        { host: 'mx-a.example.test', preference: 20, addresses: ['198.51.99.1'], cname: null, ipLiteral: false, resolveError: null },
        { host: 'mx-b.example.test', preference: 20, addresses: ['198.51.99.2', '2a00:1450::2'], cname: null, ipLiteral: false, resolveError: null },
      ],
    });
  });

  it('should fail with MX_NXDOMAIN when the domain does not exist', async () => {
    fresh();
    const result = await probe('gone.test');
    expect(result.status).toBe('fail');
    expect(result.observations).toEqual([{ code: 'MX_NXDOMAIN', target: 'gone.test', params: { domain: 'gone.test' } }]);
  });

  it('should warn MX_MISSING and use the A/AAAA of the domain as implicit MX', async () => {
    fresh();
    dns.setZone({ 'example.test': { A: ['198.51.99.1'], AAAA: ['2a00:1450::1'] } });
    const result = await probe();
    expect(result.status).toBe('warn');
    expect(result.details).toMatchObject({ implicit: true, hosts: [{ host: 'example.test', preference: 0, addresses: ['198.51.99.1', '2a00:1450::1'] }] });
    expect(result.observations).toEqual([
      { code: 'MX_MISSING', target: 'example.test', params: { domain: 'example.test', fallback: expect.stringContaining('198.51.99.1') } },
    ]);
  });

  it('should warn MX_MISSING without a fallback when the domain has no address either', async () => {
    fresh();
    dns.setZone({ 'example.test': { TXT: ['v=spf1 -all'] } });
    const result = await probe();
    expect(result.details).toMatchObject({ implicit: false, hosts: [] });
    expect(result.observations[0].params.fallback).toBe('it has no A/AAAA record either, so it cannot receive mail');
  });

  it('should pass a null MX with an info observation and no hosts', async () => {
    fresh();
    dns.setZone({ 'example.test': { MX: [{ preference: 0, exchange: '.' }] } });
    const result = await probe();
    expect(result).toMatchObject({ status: 'pass', details: { nullMx: true, hosts: [] } });
    expect(result.observations).toEqual([{ code: 'MX_NULL', target: 'example.test', params: { domain: 'example.test' } }]);
  });

  it('should fail MX_NULL_MIXED when a null MX sits beside real ones', async () => {
    fresh();
    dns.setZone({
      'example.test': { MX: [{ preference: 0, exchange: '.' }, { preference: 10, exchange: 'mx.example.test' }] },
      'mx.example.test': { A: ['198.51.99.1'] },
    });
    const result = await probe();
    expect(result).toMatchObject({ status: 'fail', details: { nullMx: true, hosts: [{ host: 'mx.example.test' }] } });
    expect(result.observations.map((o) => o.code)).toEqual(['MX_NULL_MIXED']);
  });

  it('should warn MX_TARGET_CNAME with the alias target', async () => {
    fresh();
    dns.setZone({
      'example.test': { MX: [{ preference: 10, exchange: 'mail.example.test' }] },
      'mail.example.test': { CNAME: ['real.provider.test'] },
      'real.provider.test': { A: ['198.51.99.1'] },
    });
    const result = await probe();
    expect(result.status).toBe('warn');
    expect(result.details.hosts[0]).toMatchObject({ cname: 'real.provider.test', addresses: ['198.51.99.1'] });
    expect(result.observations).toEqual([
      { code: 'MX_TARGET_CNAME', target: 'mail.example.test', params: { domain: 'example.test', mx: 'mail.example.test', cname: 'real.provider.test' } },
    ]);
  });

  it('should fail MX_TARGET_IP_LITERAL without resolving the literal', async () => {
    fresh();
    dns.setZone({ 'example.test': { MX: [{ preference: 10, exchange: '198.51.99.1' }] } });
    const result = await probe();
    expect(result.status).toBe('fail');
    expect(result.details.hosts[0]).toMatchObject({ host: '198.51.99.1', ipLiteral: true, addresses: [] });
    expect(result.observations.map((o) => [o.code, o.target])).toEqual([['MX_TARGET_IP_LITERAL', '198.51.99.1']]);
    expect(dns.queryCount('198.51.99.1')).toBe(0);
  });

  it('should fail MX_TARGET_UNRESOLVABLE for a host that does not exist or has no address', async () => {
    fresh();
    dns.setZone({
      'example.test': { MX: [{ preference: 10, exchange: 'gone.example.test' }, { preference: 20, exchange: 'empty.example.test' }] },
      'empty.example.test': { TXT: ['no address here'] },
    });
    const result = await probe();
    expect(result.status).toBe('fail');
    expect(result.observations).toEqual([
      { code: 'MX_TARGET_UNRESOLVABLE', target: 'gone.example.test', params: { domain: 'example.test', mx: 'gone.example.test', error: 'NXDOMAIN' } },
      { code: 'MX_TARGET_UNRESOLVABLE', target: 'empty.example.test', params: { domain: 'example.test', mx: 'empty.example.test', error: 'no address records' } },
    ]);
  });

  it('should fail MX_TARGET_PRIVATE_IP for every reserved address, unless the policy allows it', async () => {
    fresh();
    dns.setZone({
      'example.test': { MX: [{ preference: 10, exchange: 'mx.example.test' }] },
      'mx.example.test': { A: ['10.1.2.3', '198.51.99.1'], AAAA: ['fd00::1'] },
    });
    const result = await probe();
    expect(result.status).toBe('fail');
    expect(result.observations.map((o) => o.params)).toEqual([
      { domain: 'example.test', mx: 'mx.example.test', ip: '10.1.2.3', range: 'private' },
      { domain: 'example.test', mx: 'mx.example.test', ip: 'fd00::1', range: 'unique-local' },
    ]);
    const allowed = await probe('example.test', { addressPolicy: AddressPolicy.fromList('10.0.0.0/8,fd00::/8') });
    expect(allowed.status).toBe('pass');
  });

  it('should warn MX_DUPLICATE once per repeated host', async () => {
    fresh();
    dns.setZone({
      'example.test': { MX: [{ preference: 10, exchange: 'mx.example.test' }, { preference: 20, exchange: 'MX.example.test.' }] },
      'mx.example.test': { A: ['198.51.99.1'] },
    });
    const result = await probe();
    expect(result.status).toBe('warn');
    expect(result.details.hosts).toHaveLength(1);
    expect(result.details.hosts[0].preference).toBe(10);
    expect(result.observations).toEqual([{ code: 'MX_DUPLICATE', target: 'mx.example.test', params: { domain: 'example.test', mx: 'mx.example.test', count: 2 } }]);
  });

  it.each([
    ['SERVFAIL', { rcode: 'SERVFAIL' as const }, 'dns_servfail'],
    ['REFUSED', { rcode: 'REFUSED' as const }, 'dns_refused'],
    ['a dropped query', { drop: true }, 'dns_timeout'],
  ])('should be untestable without observations when the MX query meets %s', async (_label, fault, reason) => {
    fresh(150, 2);
    dns.setFault('example.test', fault);
    const result = await probe();
    expect(result).toMatchObject({ status: 'untestable', reason, observations: [] });
    expect(result.details.error).toBeTruthy();
  });

  it('should not blame the domain when resolving an MX host fails for reasons about us', async () => {
    fresh(150, 1);
    dns.setZone({
      'example.test': { MX: [{ preference: 10, exchange: 'mx1.example.test' }, { preference: 20, exchange: 'mx2.example.test' }] },
      'mx1.example.test': { A: ['198.51.99.1'] },
    });
    dns.setFault('mx2.example.test', { rcode: 'SERVFAIL' });
    const result = await probe();
    expect(result).toMatchObject({ status: 'warn', reason: 'mx_host_lookup_failed', observations: [] });
    expect(result.details.hosts[1]).toMatchObject({ host: 'mx2.example.test', addresses: [], resolveError: expect.stringContaining('SERVFAIL') });

    dns.setFault('mx1.example.test', { rcode: 'SERVFAIL' });
    resolver.clearCache();
    const all = await probe();
    expect(all).toMatchObject({ status: 'untestable', reason: 'dns_servfail', observations: [] });
  });

  it('should return untestable when the check is cancelled mid-lookup', async () => {
    fresh(5000, 1);
    dns.setFault('*', { drop: true });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('deadline')), 30);
    const result = await probe('example.test', { signal: controller.signal });
    expect(result).toMatchObject({ status: 'untestable', reason: 'deadline_exceeded', observations: [] });
  });
});
