import { describe, expect, it } from 'vitest';
import { AddressPolicy, isIpLiteral, parseCidrList } from './address-policy.js';

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
});
