import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeDnsbl } from '../../../../../test/rig/dns/dnsbl-zone.js';
import { FakeDnsServer } from '../../../../../test/rig/dns/fake-dns-server.js';
import { PlainDnsResolver } from '../../transport/dns/plain-dns-resolver.js';
import { AddressPolicy } from '../../transport/net/address-policy.js';
import type { ProbeContext } from '../probe.types.js';
import { askList, probeDnsbl, probeDnsblZoneHealth } from './dnsbl.probe.js';
import { dqsZoneFor } from './dnsbl-zones.js';

const KEY = 'abcdefghij0123456789klmnop';

describe('Spamhaus DQS', () => {
  let dns: FakeDnsServer;
  let resolver: PlainDnsResolver;

  function ctx(key: string | null = KEY): ProbeContext {
    return {
      deadline: Date.now() + 10_000,
      signal: new AbortController().signal,
      resolver,
      dnsblResolver: resolver,
      dialer: { dial: async () => ({ ok: false, error: 'forbidden', cause: 'unit test' }) },
      addressPolicy: new AddressPolicy(),
      settings: {
        smtpPorts: [25], certWarnDays: 14, slowBannerMs: 5000, dnsblZones: [], ehloName: 'probe.test', smtpConnectTimeoutMs: 1000, smtpReplyTimeoutMs: 1000, maxMxHosts: 10, maxAddresses: 32,
        ...(key ? { spamhausDqsKey: key } : {}),
      },
      now: () => new Date(),
    };
  }

  beforeAll(async () => {
    dns = await FakeDnsServer.start({ host: '127.0.0.61', http: false });
    resolver = new PlainDnsResolver({ servers: [dns.udpAddress!], protocol: 'udp', timeoutMs: 1500, attempts: 1, cacheMaxEntries: 0 });
  });

  afterEach(() => {
    dns.reset();
  });

  afterAll(async () => {
    resolver.close();
    await dns.close();
  });

  describe(dqsZoneFor.name, () => {
    it.each([
      ['zen.spamhaus.org', `${KEY}.zen.dq.spamhaus.net`],
      ['dbl.spamhaus.org', `${KEY}.dbl.dq.spamhaus.net`],
      ['sbl.spamhaus.org', `${KEY}.sbl.dq.spamhaus.net`],
      ['bl.spamcop.net', null],
      ['spamhaus.org', null],
    ])('should map %s', (zone, expected) => {
      expect(dqsZoneFor(zone, KEY)).toBe(expected);
    });

    it('should map nothing without a key', () => {
      expect(dqsZoneFor('zen.spamhaus.org', undefined)).toBeNull();
    });
  });

  it('should ask the DQS zone with the same answer codes and report the public zone, the key nowhere', async () => {
    const zen = FakeDnsbl.spamhausDqs(dns, KEY, 'zen.spamhaus.org');
    zen.listIp('192.0.2.1', { codes: ['127.0.0.4'], txt: 'https://check.spamhaus.org/listed' });
    FakeDnsbl.healthy(dns, 'zen.spamhaus.org', 'ip').refuseEverything();
    const health = await probeDnsblZoneHealth(ctx(), 'zen.spamhaus.org');
    expect(health).toEqual({ zone: 'zen.spamhaus.org', healthy: true, verified: true });
    const result = await probeDnsbl(ctx(), { kind: 'ip', ip: '192.0.2.1' }, 'zen.spamhaus.org', health);
    expect(result).toMatchObject({ status: 'fail', target: '192.0.2.1@zen.spamhaus.org', details: { zone: 'zen.spamhaus.org', codes: [{ code: '127.0.0.4' }], txt: 'https://check.spamhaus.org/listed' } });
    expect(JSON.stringify(result)).not.toContain(KEY);
    const names = dns.queries.map((q) => q.name);
    expect(names).toContain(`1.2.0.192.${KEY}.zen.dq.spamhaus.net`);
    expect(names.filter((n) => n.endsWith('.zen.spamhaus.org'))).toEqual([]);
  });

  it('should ask the DBL through DQS with its documented test name', async () => {
    const dbl = FakeDnsbl.spamhausDqs(dns, KEY, 'dbl.spamhaus.org');
    dbl.listDomain('spammy.example', { codes: ['127.0.1.2'] });
    const health = await probeDnsblZoneHealth(ctx(), 'dbl.spamhaus.org');
    expect(health).toMatchObject({ healthy: true, verified: true });
    const result = await probeDnsbl(ctx(), { kind: 'domain', domain: 'spammy.example' }, 'dbl.spamhaus.org', health);
    expect(result).toMatchObject({ status: 'fail', target: 'spammy.example@dbl.spamhaus.org' });
    expect(dns.queries.map((q) => q.name)).toContain(`spammy.example.${KEY}.dbl.dq.spamhaus.net`);
  });

  it('should keep the key out of the causes of failed answers', async () => {
    FakeDnsbl.spamhausDqs(dns, KEY, 'zen.spamhaus.org');
    dns.setFault(`${KEY}.zen.dq.spamhaus.net`, { rcode: 'SERVFAIL' });
    const result = await probeDnsbl(ctx(), { kind: 'ip', ip: '192.0.2.1' }, 'zen.spamhaus.org', { zone: 'zen.spamhaus.org', healthy: true, verified: true });
    expect(result).toMatchObject({ status: 'untestable', reason: 'dns_servfail' });
    dns.clearFaults().setFault(`${KEY}.zen.dq.spamhaus.net`, { cnameOnly: true });
    dns.setRecords(`2.0.0.192.${KEY}.zen.dq.spamhaus.net`, 'CNAME', [`loop.${KEY}.zen.dq.spamhaus.net`]).setRecords(`loop.${KEY}.zen.dq.spamhaus.net`, 'CNAME', [`2.0.0.192.${KEY}.zen.dq.spamhaus.net`]);
    const loop = await askList(ctx(), 'zen.spamhaus.org', '2.0.0.192.zen.spamhaus.org', 'A');
    expect(loop).toMatchObject({ ok: false, error: 'cname_loop', name: '2.0.0.192.zen.spamhaus.org' });
    expect(JSON.stringify([result, loop])).not.toContain(KEY);
    expect(!loop.ok && loop.cause).toContain('via Spamhaus DQS');
  });

  it('should leave other lists and key-less setups on their public zones', async () => {
    FakeDnsbl.healthy(dns, 'zen.spamhaus.org', 'ip').listIp('192.0.2.1', { codes: ['127.0.0.2'] });
    FakeDnsbl.healthy(dns, 'bl.spamcop.net', 'ip');
    await probeDnsbl(ctx(null), { kind: 'ip', ip: '192.0.2.1' }, 'zen.spamhaus.org', { zone: 'zen.spamhaus.org', healthy: true, verified: true });
    await probeDnsbl(ctx(), { kind: 'ip', ip: '192.0.2.1' }, 'bl.spamcop.net', { zone: 'bl.spamcop.net', healthy: true, verified: true });
    expect(dns.queries.map((q) => `${q.name} ${q.type}`)).toEqual(['1.2.0.192.zen.spamhaus.org A', '1.2.0.192.zen.spamhaus.org TXT', '1.2.0.192.bl.spamcop.net A']);
  });
});
