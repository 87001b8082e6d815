import { describe, expect, it } from 'vitest';
import { resolveZoneConfig, zoneConfigFor } from './dnsbl-zones.js';

describe(resolveZoneConfig.name, () => {
  it('should give the default set for an empty list: no SORBS, no UCEPROTECT', () => {
    expect(resolveZoneConfig([]).map((z) => z.zone)).toEqual([
      'zen.spamhaus.org', 'dbl.spamhaus.org', 'b.barracudacentral.org', 'bl.spamcop.net', 'psbl.surriel.com', 'bl.mailspike.net',
    ]);
  });

  it('should take table zones by name, case and trailing dot aside, once each', () => {
    expect(resolveZoneConfig(['ZEN.spamhaus.org.', 'zen.spamhaus.org', 'dbl.spamhaus.org:domain']).map((z) => [z.zone, z.kind])).toEqual([
      ['zen.spamhaus.org', 'ip'],
      ['dbl.spamhaus.org', 'domain'],
    ]);
  });

  it('should accept an unknown zone declared with its kind as a custom zone', () => {
    expect(resolveZoneConfig(['rbl.example.test:ip', 'uri.example.test:domain'])).toMatchObject([
      { zone: 'rbl.example.test', kind: 'ip', custom: true, listedRange: true },
      { zone: 'uri.example.test', kind: 'domain', custom: true, testName: 'test' },
    ]);
  });

  it.each([
    ['dnsbl.sorbs.net', '"dnsbl.sorbs.net": SORBS was decommissioned in 2024 and its zones must not be queried; remove it'],
    ['rbl.example.test', '"rbl.example.test" is not a DNSBL zone mxwatch knows'],
    ['zen.spamhaus.org:domain', '"zen.spamhaus.org:domain": zen.spamhaus.org is an ip list, not a domain list'],
    ['bad_zone.test:ip', '"bad_zone.test:ip" is not a valid zone name: the label "bad_zone" contains "_"'],
  ])('should reject %j with a clear message', (zone, message) => {
    expect(() => resolveZoneConfig([zone])).toThrow(message);
  });

  it('should tell how to declare an unknown zone', () => {
    expect(() => resolveZoneConfig(['rbl.example.test'])).toThrow('give its kind: "rbl.example.test:ip" for an IP list or "rbl.example.test:domain" for a domain list');
  });

  it('should name every bad entry in one error', () => {
    expect(() => resolveZoneConfig(['a.sorbs.net', 'zen.spamhaus.org', 'nope.test'])).toThrow(/a\.sorbs\.net.*; "nope\.test"/);
  });
});

describe(zoneConfigFor.name, () => {
  it('should find table zones and fall back to a custom zone of the given kind', () => {
    expect(zoneConfigFor('dbl.spamhaus.org')).toMatchObject({ kind: 'domain', testName: 'dbltest.com', custom: false });
    expect(zoneConfigFor('rbl.example.test:ip')).toMatchObject({ kind: 'ip', custom: true });
    expect(zoneConfigFor('rbl.example.test', 'domain')).toMatchObject({ kind: 'domain', custom: true });
    expect(() => zoneConfigFor('rbl.example.test')).toThrow('without a kind');
  });
});
