import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';
import { mayBeIpLiteral } from '../net/address-policy.js';

export type NormaliseDomainResult = { ok: true; name: string } | { ok: false; error: string };

const MAX_NAME = 253;
const MAX_LABEL = 63;

/**
 * Turns what a person typed into the canonical form mxwatch stores and queries: lower case, no
 * trailing dot, IDN as punycode (`bücher.de` → `xn--bcher-kva.de`). Only host names of mail
 * domains are accepted: LDH labels, at least two of them, no IP literals, no underscores
 * (`_dmarc.example.com` is a record name, not a domain to monitor).
 *
 * Errors are sentences for people; callers prefix them with the value (e.g. `"x" is not a
 * valid domain name: <error>`), so they do not repeat it.
 */
export function normaliseDomainName(input: string): NormaliseDomainResult {
  if (typeof input !== 'string') return fail('it must be a string');
  let name = input.trim();
  if (name === '') return fail('it is empty');
  if (/\s/.test(name)) return fail('it contains spaces');
  if (name.includes('://') || name.includes('/') || name.includes('@')) {
    return fail('it looks like a URL or an email address; give only the domain (e.g. example.com)');
  }
  const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  if (mayBeIpLiteral(bare) && ipaddr.isValid(bare)) return fail('it is an IP address; a domain name is needed (e.g. example.com)');

  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name === '') return fail('it is only a dot');
  if (name.startsWith('.') || name.endsWith('.') || name.includes('..')) {
    return fail('it has an empty label (a leading dot, or two dots in a row)');
  }

  const labels = name.toLowerCase().split('.');
  const underscored = labels.find((l) => l.includes('_'));
  if (underscored !== undefined) {
    return fail(`the label "${underscored}" contains "_", which host names cannot contain`);
  }

  // domainToASCII only when needed: it also rewrites numeric shorthands (`1.2.3` → `1.2.0.3`).
  const needsIdna = /[^\x00-\x7f]/.test(name) || labels.some((l) => l.startsWith('xn--'));
  if (needsIdna) {
    const ascii = domainToASCII(name);
    if (ascii === '') return fail('it contains characters that are not allowed in an internationalised domain name');
    name = ascii;
  } else {
    name = name.toLowerCase();
  }

  const ascii = name.split('.');
  if (ascii.length < 2) return fail('it needs at least two labels (e.g. example.com)');
  for (const label of ascii) {
    if (label.length > MAX_LABEL) {
      return fail(`the label "${label.slice(0, 20)}…" is ${label.length} characters long; the maximum is ${MAX_LABEL}`);
    }
    const bad = label.match(/[^a-z0-9-]/);
    if (bad) return fail(`the label "${label}" contains "${bad[0]}"; only letters, digits and hyphens are allowed`);
    if (label.startsWith('-') || label.endsWith('-')) return fail(`the label "${label}" starts or ends with a hyphen`);
  }
  if (/^\d+$/.test(ascii[ascii.length - 1])) {
    return fail(`the last label "${ascii[ascii.length - 1]}" is all digits, which no top-level domain is`);
  }
  if (name.length > MAX_NAME) return fail(`it is ${name.length} characters long; the maximum is ${MAX_NAME}`);
  return { ok: true, name };
}

function fail(error: string): NormaliseDomainResult {
  return { ok: false, error };
}

/** `192.0.2.1` → `1.2.0.192`, the DNSBL query label order (RFC 5782 §2.1). Throws on a non-IPv4 input (a bug). */
export function reverseIpv4(ip: string): string {
  if (!ipaddr.IPv4.isValidFourPartDecimal(ip)) throw new Error(`not an IPv4 address: ${ip}`);
  return ip.split('.').map(Number).reverse().join('.');
}

/** `2001:db8::1` → `1.0.0.0.…​.8.b.d.0.1.0.0.2`: 32 nibbles, least significant first (RFC 5782 §2.4). */
export function reverseIpv6Nibbles(ip: string): string {
  if (!ipaddr.IPv6.isValid(ip)) throw new Error(`not an IPv6 address: ${ip}`);
  const bytes = ipaddr.IPv6.parse(ip).toByteArray();
  const nibbles: string[] = [];
  for (const b of bytes) nibbles.push((b >> 4).toString(16), (b & 15).toString(16));
  return nibbles.reverse().join('.');
}

/**
 * The DNSBL query label of an address: reversed octets for IPv4, reversed nibbles for IPv6.
 * IPv4-mapped IPv6 addresses are queried as the IPv4 address they stand for.
 */
export function reverseIp(ip: string): string {
  const addr = ipaddr.parse(ip);
  if (addr.kind() === 'ipv6') {
    const v6 = addr as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return reverseIpv4(v6.toIPv4Address().toString());
    return reverseIpv6Nibbles(ip);
  }
  return reverseIpv4(addr.toString());
}
