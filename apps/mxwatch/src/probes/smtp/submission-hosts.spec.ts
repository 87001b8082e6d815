import { describe, expect, it } from 'vitest';
import type { DnsAnswer, DnsRecordType, ProbeContext, Resolver, SrvRecord } from '../probe.types.js';
import { discoverSubmissionHosts } from './submission-hosts.js';

type Zone = Record<string, DnsAnswer<'SRV'>>;

function srv(name: string, records: SrvRecord[]): DnsAnswer<'SRV'> {
  return { ok: true, type: 'SRV', name, records, ttl: 300 };
}

/** A stub resolver: SRV answers by name, NXDOMAIN for everything else. */
function stubResolver(zone: Zone, asked: string[] = []): Resolver {
  return {
    resolve: async <T extends DnsRecordType>(name: string, type: T) => {
      asked.push(`${name} ${type}`);
      const a = zone[name];
      return (a ?? { ok: false, type, name, error: 'nxdomain', cause: 'NXDOMAIN' }) as DnsAnswer<T>;
    },
  };
}

function context(resolver: Resolver, smtpPorts = [25, 587, 465]): ProbeContext {
  return {
    deadline: Date.now() + 5000,
    signal: new AbortController().signal,
    resolver,
    dnsblResolver: resolver,
    dialer: { dial: () => Promise.reject(new Error('no dialling here')) },
    addressPolicy: { forbiddenRange: () => null },
    settings: { smtpPorts, certWarnDays: 14, slowBannerMs: 5000, dnsblZones: [], ehloName: 'probe.test', smtpConnectTimeoutMs: 1000, smtpReplyTimeoutMs: 1000, maxMxHosts: 10, maxAddresses: 32 },
    now: () => new Date(),
  };
}

describe(discoverSubmissionHosts.name, () => {
  it('should give declared hosts ports 587 and 465 and ask both RFC 6186 services', async () => {
    const asked: string[] = [];
    const r = await discoverSubmissionHosts(context(stubResolver({}, asked)), 'Example.com.', ['Smtp.Example.com.', ' ', 'smtp.example.com']);
    expect(r).toEqual({ hosts: [{ host: 'smtp.example.com', ports: [465, 587], source: 'declared' }], errors: [] });
    expect(asked.sort()).toEqual(['_submission._tcp.example.com SRV', '_submissions._tcp.example.com SRV']);
  });

  it('should limit declared ports to the probed ports', async () => {
    const r = await discoverSubmissionHosts(context(stubResolver({}), [25, 587]), 'example.com', ['smtp.example.com']);
    expect(r.hosts).toEqual([{ host: 'smtp.example.com', ports: [587], source: 'declared' }]);
  });

  it('should take hosts and ports from SRV records', async () => {
    const zone: Zone = {
      '_submission._tcp.example.com': srv('_submission._tcp.example.com', [
        { name: 'backup.example.com.', port: 587, priority: 20, weight: 0 },
        { name: 'mail.example.com.', port: 2587, priority: 10, weight: 0 },
      ]),
      '_submissions._tcp.example.com': srv('_submissions._tcp.example.com', [{ name: 'mail.example.com', port: 465, priority: 0, weight: 1 }]),
    };
    const r = await discoverSubmissionHosts(context(stubResolver(zone)), 'example.com', []);
    expect(r.errors).toEqual([]);
    expect(r.hosts).toEqual([
      { host: 'mail.example.com', ports: [465, 2587], source: 'srv' },
      { host: 'backup.example.com', ports: [587], source: 'srv' },
    ]);
  });

  it('should read a lone "." target as "service not offered"', async () => {
    const zone: Zone = {
      '_submission._tcp.example.com': srv('_submission._tcp.example.com', [{ name: '.', port: 0, priority: 0, weight: 0 }]),
      '_submissions._tcp.example.com': srv('_submissions._tcp.example.com', [{ name: '', port: 0, priority: 0, weight: 0 }]),
    };
    expect(await discoverSubmissionHosts(context(stubResolver(zone)), 'example.com', [])).toEqual({ hosts: [], errors: [] });
  });

  it('should merge a declared host that SRV also publishes, keeping it declared', async () => {
    const zone: Zone = {
      '_submission._tcp.example.com': srv('_submission._tcp.example.com', [{ name: 'smtp.example.com', port: 2525, priority: 0, weight: 0 }]),
    };
    const r = await discoverSubmissionHosts(context(stubResolver(zone)), 'example.com', ['smtp.example.com']);
    expect(r.hosts).toEqual([{ host: 'smtp.example.com', ports: [465, 587, 2525], source: 'declared' }]);
  });

  it('should report DNS failures but not absences', async () => {
    const zone: Zone = {
      '_submission._tcp.example.com': { ok: false, type: 'SRV', name: '_submission._tcp.example.com', error: 'timeout', cause: 'no answer in 2000 ms' },
      '_submissions._tcp.example.com': { ok: false, type: 'SRV', name: '_submissions._tcp.example.com', error: 'nodata', cause: 'NODATA' },
    };
    const r = await discoverSubmissionHosts(context(stubResolver(zone)), 'example.com', []);
    expect(r).toEqual({ hosts: [], errors: ['_submission._tcp.example.com SRV: timeout (no answer in 2000 ms)'] });
  });

  it('should not throw when the resolver rejects', async () => {
    const resolver: Resolver = { resolve: () => Promise.reject(new Error('aborted')) };
    const r = await discoverSubmissionHosts(context(resolver), 'example.com', ['smtp.example.com']);
    expect(r.hosts).toHaveLength(1);
    expect(r.errors).toEqual(['_submission._tcp.example.com SRV: aborted', '_submissions._tcp.example.com SRV: aborted']);
  });

  it('should skip SRV targets with an invalid port', async () => {
    const zone: Zone = {
      '_submission._tcp.example.com': srv('_submission._tcp.example.com', [
        { name: 'a.example.com', port: 0, priority: 0, weight: 0 },
        { name: 'b.example.com', port: 587, priority: 1, weight: 0 },
      ]),
    };
    const r = await discoverSubmissionHosts(context(stubResolver(zone)), 'example.com', []);
    expect(r.hosts).toEqual([{ host: 'b.example.com', ports: [587], source: 'srv' }]);
    expect(r.errors).toEqual(['_submission._tcp.example.com SRV: target a.example.com has invalid port 0']);
  });
});
