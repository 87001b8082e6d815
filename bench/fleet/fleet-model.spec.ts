import { describe, expect, it } from 'vitest';
import { buildFleet, naiveCounts, selfHostedIp } from './fleet-model.js';

describe('fleet model', () => {
  it('should spread a fleet over providers, self-hosted MX, no MX and null MX', () => {
    const fleet = buildFleet({ domains: 10_000 });
    const share = (kind: string) => fleet.domains.filter((d) => d.kind === kind).length / 10_000;
    expect(share('provider')).toBeCloseTo(0.8, 1);
    expect(share('self')).toBeCloseTo(0.15, 1);
    expect(share('implicit') + share('no-mail')).toBeGreaterThan(0.01);
    expect(share('null-mx')).toBeGreaterThan(0.01);
    expect(fleet.providers.map((p) => p.hosts.length).every((n) => n >= 2 && n <= 4)).toBe(true);
    expect(new Set(fleet.domains.map((d) => d.name)).size).toBe(10_000);
    for (const ip of fleet.addresses.keys()) expect(ip).toMatch(/^127\./);
  });

  it('should be deterministic for a seed', () => {
    expect(buildFleet({ domains: 500, seed: 7 })).toEqual(buildFleet({ domains: 500, seed: 7 }));
  });

  it('should hand out distinct loopback addresses that avoid .0 and .255', () => {
    const ips = Array.from({ length: 70_000 }, (_, k) => selfHostedIp(k));
    expect(new Set(ips).size).toBe(ips.length);
    expect(ips.some((ip) => /\.(0|255)$/.test(ip))).toBe(false);
    expect(ips[0]).toBe('127.16.0.1');
  });

  it('should count the naive work of a provider-hosted domain', () => {
    const fleet = buildFleet({ domains: 1 });
    fleet.domains = [{ name: 'a.fleet.test', kind: 'provider', provider: 1, mx: fleet.providers[1]!.hosts, spf: `v=spf1 include:${fleet.providers[1]!.spf.name} ~all` }];
    const zones = [{ zone: 'zen.spamhaus.org', kind: 'ip' as const }, { zone: 'dbl.spamhaus.org', kind: 'domain' as const }];
    // MX 1 + 4 hosts x (A, AAAA, CNAME) 12 + SRV 2 + 4 addresses x 1 ip zone + 1 domain zone + 2 test points x 2 zones + SPF TXT and its include 2
    expect(naiveCounts(fleet, zones)).toEqual({ dns: 1 + 12 + 2 + 4 + 1 + 4 + 2, smtpAttempts: 12, smtpAccepted: 4 });
  });

  it('should publish SPF as each kind of domain would, and none for a tenth of the self-hosted', () => {
    const fleet = buildFleet({ domains: 10_000 });
    const of = (kind: string) => fleet.domains.filter((d) => d.kind === kind);
    for (const d of of('provider')) expect(d.spf).toBe(`v=spf1 include:${fleet.providers[d.provider!]!.spf.name} ~all`);
    for (const d of [...of('no-mail'), ...of('null-mx')]) expect(d.spf).toBe('v=spf1 -all');
    for (const d of of('implicit')) expect(d.spf).toBe('v=spf1 a -all');
    const self = of('self');
    const missing = self.filter((d) => d.spf === null).length / self.length;
    expect(missing).toBeGreaterThan(0.05);
    expect(missing).toBeLessThan(0.15);
    for (const d of self) if (d.spf !== null) expect(d.spf).toBe('v=spf1 mx -all');
    for (const p of fleet.providers) expect(p.spf.name.endsWith('.fleet.test')).toBe(false);
  });
});
