import { describe, expect, it } from 'vitest';
import { normaliseDomainName, reverseIp, reverseIpv4, reverseIpv6Nibbles } from './dns-names.js';

describe(normaliseDomainName.name, () => {
  it.each([
    ['example.com', 'example.com'],
    ['Example.COM.', 'example.com'],
    ['  mail.example.org  ', 'mail.example.org'],
    ['bücher.de', 'xn--bcher-kva.de'],
    ['XN--BCHER-KVA.de', 'xn--bcher-kva.de'],
    ['a-b.c0.example', 'a-b.c0.example'],
    [`${'a'.repeat(63)}.com`, `${'a'.repeat(63)}.com`],
  ])('should accept %j as %j', (input, name) => {
    expect(normaliseDomainName(input)).toEqual({ ok: true, name });
  });

  it.each([
    ['', 'it is empty'],
    ['   ', 'it is empty'],
    ['.', 'it is only a dot'],
    ['example..com', 'it has an empty label (a leading dot, or two dots in a row)'],
    ['.example.com', 'it has an empty label (a leading dot, or two dots in a row)'],
    ['example.com..', 'it has an empty label (a leading dot, or two dots in a row)'],
    ['localhost', 'it needs at least two labels (e.g. example.com)'],
    ['192.0.2.1', 'it is an IP address; a domain name is needed (e.g. example.com)'],
    ['[2001:db8::1]', 'it is an IP address; a domain name is needed (e.g. example.com)'],
    ['1.2.3', 'it is an IP address; a domain name is needed (e.g. example.com)'],
    ['host.123', 'the last label "123" is all digits, which no top-level domain is'],
    ['_dmarc.example.com', 'the label "_dmarc" contains "_", which host names cannot contain'],
    ['ex ample.com', 'it contains spaces'],
    ['exa!mple.com', 'the label "exa!mple" contains "!"; only letters, digits and hyphens are allowed'],
    ['-example.com', 'the label "-example" starts or ends with a hyphen'],
    ['example-.com', 'the label "example-" starts or ends with a hyphen'],
    ['https://example.com/', 'it looks like a URL or an email address; give only the domain (e.g. example.com)'],
    ['postmaster@example.com', 'it looks like a URL or an email address; give only the domain (e.g. example.com)'],
    ['xn--zz.com', 'it contains characters that are not allowed in an internationalised domain name'],
    [`${'a'.repeat(64)}.com`, `the label "${'a'.repeat(20)}…" is 64 characters long; the maximum is 63`],
  ])('should reject %j: %s', (input, error) => {
    expect(normaliseDomainName(input)).toEqual({ ok: false, error });
  });

  it('should reject names longer than 253 characters', () => {
    const name = Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.') + '.com';
    expect(normaliseDomainName(name)).toEqual({ ok: false, error: `it is ${name.length} characters long; the maximum is 253` });
  });
});

describe(reverseIpv4.name, () => {
  it('should reverse the octets', () => {
    expect(reverseIpv4('192.0.2.1')).toBe('1.2.0.192');
    expect(reverseIpv4('127.0.0.2')).toBe('2.0.0.127');
  });

  it('should throw on anything but a dotted-quad IPv4 address', () => {
    expect(() => reverseIpv4('2001:db8::1')).toThrow('not an IPv4 address');
  });
});

describe(reverseIpv6Nibbles.name, () => {
  it('should give 32 reversed nibbles (RFC 5782 section 2.4)', () => {
    expect(reverseIpv6Nibbles('2001:db8:1:2:3:4:567:89ab')).toBe('b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2');
    expect(reverseIpv6Nibbles('::1').split('.')).toHaveLength(32);
  });
});

describe(reverseIp.name, () => {
  it('should query an IPv4-mapped IPv6 address as IPv4', () => {
    expect(reverseIp('::ffff:192.0.2.1')).toBe('1.2.0.192');
    expect(reverseIp('192.0.2.1')).toBe('1.2.0.192');
    expect(reverseIp('2001:db8::1')).toMatch(/^1\.0\.0\.0\..*\.2$/);
  });
});
