import { describe, expect, it } from 'vitest';
import type ipaddr from 'ipaddr.js';
import { AddressPolicy, embeddedIpv4, isIpLiteral, parseCidrList, parseIp } from './address-policy.js';

describe(AddressPolicy.name, () => {
  it('should refuse private, loopback, link-local, CGNAT, multicast and metadata addresses by default', () => {
    const policy = AddressPolicy.fromList(undefined);
    expect(policy.forbiddenRange('10.1.2.3')).toBe('private');
    expect(policy.forbiddenRange('127.0.0.1')).toBe('loopback');
    expect(policy.forbiddenRange('169.254.169.254')).toBe('cloud-metadata');
    expect(policy.forbiddenRange('169.254.1.1')).toBe('link-local');
    expect(policy.forbiddenRange('100.64.0.1')).toBe('cgnat');
    expect(policy.forbiddenRange('224.0.0.1')).toBe('multicast');
    expect(policy.forbiddenRange('::1')).toBe('loopback');
    expect(policy.forbiddenRange('fe80::1')).toBe('link-local');
    expect(policy.forbiddenRange('fd12::1')).toBe('unique-local');
    expect(policy.forbiddenRange('::ffff:10.0.0.1')).toBe('private');
  });

  it('should allow public addresses', () => {
    const policy = AddressPolicy.fromList(undefined);
    expect(policy.forbiddenRange('8.8.8.8')).toBeNull();
    expect(policy.forbiddenRange('2a00:1450:4001::1')).toBeNull();
  });

  it('should allow reserved addresses covered by the allow list only', () => {
    const policy = AddressPolicy.fromList('127.0.0.0/24, ::1');
    expect(policy.forbiddenRange('127.0.0.5')).toBeNull();
    expect(policy.forbiddenRange('::1')).toBeNull();
    expect(policy.forbiddenRange('127.0.1.5')).toBe('loopback');
    expect(policy.forbiddenRange('10.0.0.1')).toBe('private');
  });

  it('should reject a malformed CIDR list naming the bad item', () => {
    expect(() => parseCidrList('127.0.0.0/8,banana')).toThrow('"banana" is not an IP address or CIDR range');
  });

  it('should tell IP literals from host names', () => {
    expect(isIpLiteral('192.0.2.1')).toBe(true);
    expect(isIpLiteral('[2001:db8::1]')).toBe(true);
    expect(isIpLiteral('mail.example.com')).toBe(false);
    expect(isIpLiteral('10')).toBe(false);
  });

  // Every IPv6 form that carries an IPv4 address, once with a public and once with a private one inside.
  const EMBEDDED: Array<{ form: string; publicIp: string; privateIp: string; privateRange: string }> = [
    { form: 'NAT64 well-known prefix 64:ff9b::/96', publicIp: '64:ff9b::8.8.8.8', privateIp: '64:ff9b::10.0.0.1', privateRange: 'private (10.0.0.1 embedded by nat64)' },
    { form: 'NAT64 local-use 64:ff9b:1::/48, /96 layout', publicIp: '64:ff9b:1::8.8.8.8', privateIp: '64:ff9b:1::192.168.1.1', privateRange: 'private (192.168.1.1 embedded by nat64-local)' },
    { form: 'IPv4-compatible ::a.b.c.d', publicIp: '::8.8.8.8', privateIp: '::127.0.0.1', privateRange: 'loopback (127.0.0.1 embedded by ipv4-compatible)' },
    { form: 'SIIT ::ffff:0:a.b.c.d', publicIp: '::ffff:0:8.8.8.8', privateIp: '::ffff:0:169.254.169.254', privateRange: 'cloud-metadata (169.254.169.254 embedded by siit)' },
    { form: '6to4 2002::/16', publicIp: '2002:808:808::1', privateIp: '2002:a00:1::1', privateRange: 'private (10.0.0.1 embedded by 6to4)' },
    { form: 'Teredo 2001::/32, private client', publicIp: '2001:0:4136:e378:8000:63bf:f7f7:f7f7', privateIp: '2001:0:4136:e378:8000:63bf:f5ff:fefe', privateRange: 'private (10.0.1.1 embedded by teredo-client)' },
    { form: 'Teredo 2001::/32, private server', publicIp: '2001:0:808:808:8000:63bf:f7f7:f7f7', privateIp: '2001:0:c0a8:101:8000:63bf:f7f7:f7f7', privateRange: 'private (192.168.1.1 embedded by teredo-server)' },
  ];

  it.each(EMBEDDED)('should apply the IPv4 rules to the IPv4 address inside $form', ({ publicIp, privateIp, privateRange }) => {
    const policy = AddressPolicy.fromList(undefined);
    expect(policy.forbiddenRange(publicIp)).toBeNull();
    expect(policy.forbiddenRange(privateIp)).toBe(privateRange);
  });

  it.each(EMBEDDED)('should let the IPv4 allow list cover the address inside $form', ({ privateIp }) => {
    const inner = embeddedIpv4(parseIp(privateIp) as ipaddr.IPv6).map((e) => e.ipv4);
    expect(AddressPolicy.fromList(inner.join(',')).forbiddenRange(privateIp)).toBeNull();
    expect(AddressPolicy.fromList('203.0.113.0/24').forbiddenRange(privateIp)).not.toBeNull();
  });

  it('should read the Teredo server from bits 32-63 and the client from the inverted last 32 bits (RFC 4380 example)', () => {
    expect(embeddedIpv4(parseIp('2001:0:4136:e378:8000:63bf:3fff:fdd2') as ipaddr.IPv6)).toEqual([
      { form: 'teredo-server', ipv4: '65.54.227.120' },
      { form: 'teredo-client', ipv4: '192.0.2.45' },
    ]);
    expect(AddressPolicy.fromList(undefined).forbiddenRange('2001:0:4136:e378:8000:63bf:3fff:fdd2')).toBe('documentation (192.0.2.45 embedded by teredo-client)');
  });

  it('should refuse a local-use NAT64 address when any RFC 6052 layout that fits it holds a reserved address', () => {
    const policy = AddressPolicy.fromList(undefined);
    // The prefix length of 64:ff9b:1::/48 is the operator's choice, so the monitor cannot know which layout is meant.
    expect(policy.forbiddenRange('64:ff9b:1:7f00:0:100::')).toBe('loopback (127.0.0.1 embedded by nat64-local)');
    expect(policy.forbiddenRange('64:ff9b:1:a00:0:100::')).toBe('private (10.0.0.1 embedded by nat64-local)');
    // A public address in the /48 layout reads as 0.0.0.0 in the /96 layout: refused too, on purpose.
    expect(policy.forbiddenRange('64:ff9b:1:808:8:800::')).toBe('this-network (0.0.0.0 embedded by nat64-local)');
  });

  it('should judge ::a.b.c.d as the IPv4-compatible address the system dials, not as IPv4-mapped', () => {
    expect(parseIp('::8.8.8.8')?.toString()).toBe('::808:808');
    expect(parseIp('::ffff:8.8.8.8')?.toString()).toBe('8.8.8.8');
  });

  it('should not mistake :: and ::1 for IPv4-compatible addresses', () => {
    const policy = AddressPolicy.fromList(undefined);
    expect(policy.forbiddenRange('::')).toBe('unspecified');
    expect(policy.forbiddenRange('::1')).toBe('loopback');
    expect(policy.forbiddenRange('::2')).toBe('this-network (0.0.0.2 embedded by ipv4-compatible)');
  });

  it('should refuse the deprecated site-local range and IPv6 space outside global unicast', () => {
    const policy = AddressPolicy.fromList(undefined);
    expect(policy.forbiddenRange('fec0::1')).toBe('site-local');
    expect(policy.forbiddenRange('feff::1')).toBe('site-local');
    expect(policy.forbiddenRange('4000::1')).toBe('reserved');
    expect(policy.forbiddenRange('64:ff9b:2::1')).toBe('reserved');
    expect(policy.forbiddenRange('3fff::1')).toBe('documentation');
  });

  it('should refuse the deprecated 6to4 relay anycast range', () => {
    expect(AddressPolicy.fromList(undefined).forbiddenRange('192.88.99.1')).toBe('6to4-relay');
  });
});
