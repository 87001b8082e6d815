import ipaddr from 'ipaddr.js';
import type { AddressPolicyLike } from '../transport.types.js';

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * Ranges a probe must not connect to unless the operator allows them: a user can add any
 * domain, and the monitor must not become a port scanner of its own network.
 */
const RESERVED: Array<[string, string]> = [
  ['0.0.0.0/8', 'this-network'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'cgnat'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.169.254/32', 'cloud-metadata'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'ietf-protocol'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', '6to4-relay'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['255.255.255.255/32', 'broadcast'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['fd00:ec2::254/128', 'cloud-metadata'],
  ['fc00::/7', 'unique-local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
  ['2001:db8::/32', 'documentation'],
  ['3fff::/20', 'documentation'],
  ['2001:2::/48', 'benchmarking'],
  ['2001:10::/28', 'orchid'],
  ['2001:20::/28', 'orchid'],
  ['100::/64', 'discard'],
  ['5f00::/16', 'srv6-sid'],
];

const RESERVED_PARSED = RESERVED.map(([cidr, name]) => ({ range: ipaddr.parseCIDR(cidr), name }));

/** Only 2000::/3 is global unicast; everything else not named above (or carrying an IPv4 address) is IETF-reserved. */
const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');

/** An IPv4 address carried inside an IPv6 one, and the mechanism that carries it. */
export interface EmbeddedIpv4 {
  form: 'ipv4-compatible' | 'siit' | 'nat64' | 'nat64-local' | '6to4' | 'teredo-server' | 'teredo-client';
  ipv4: string;
}

const v4 = (b: number[], at: number): string => ipaddr.fromByteArray(b.slice(at, at + 4)).toString();
const allZero = (b: number[], from: number, to: number): boolean => b.slice(from, to).every((x) => x === 0);

/**
 * The RFC 6052 layouts a local-use NAT64 prefix (64:ff9b:1::/48, RFC 8215) may use, as the byte
 * positions of the IPv4 address. Bits 64-71 (the "u" octet) never carry address bits and the suffix
 * is zero, so a layout whose u octet or suffix is not zero cannot be the one in use.
 */
const LOCAL_NAT64_LAYOUTS: Array<{ bytes: number[]; zero: number[] }> = [
  { bytes: [6, 7, 9, 10], zero: [8, 11, 12, 13, 14, 15] }, // /48
  { bytes: [7, 9, 10, 11], zero: [8, 12, 13, 14, 15] }, // /56
  { bytes: [9, 10, 11, 12], zero: [8, 13, 14, 15] }, // /64
  { bytes: [12, 13, 14, 15], zero: [] }, // /96
];

/**
 * The IPv4 addresses an IPv6 address reaches through a translation or tunnelling mechanism. A
 * translator or relay turns the packet into IPv4 towards that address, so it must pass the IPv4
 * rules: otherwise `64:ff9b::10.0.0.1` would reach a private host the IPv4 form is refused for.
 */
export function embeddedIpv4(addr: ipaddr.IPv6): EmbeddedIpv4[] {
  const b = addr.toByteArray();
  const w = addr.parts;
  // ::a.b.c.d (RFC 4291 2.5.5.1, deprecated), but :: and ::1 are addresses of their own.
  if (allZero(b, 0, 12) && !(w[6] === 0 && w[7] <= 1)) return [{ form: 'ipv4-compatible', ipv4: v4(b, 12) }];
  // ::ffff:0:a.b.c.d, the IPv4-translated form of SIIT (RFC 6145 / RFC 7915).
  if (allZero(b, 0, 8) && w[4] === 0xffff && w[5] === 0) return [{ form: 'siit', ipv4: v4(b, 12) }];
  // 64:ff9b::/96, the NAT64 well-known prefix (RFC 6052).
  if (w[0] === 0x64 && w[1] === 0xff9b && allZero(b, 4, 12)) return [{ form: 'nat64', ipv4: v4(b, 12) }];
  // 64:ff9b:1::/48, local-use NAT64 (RFC 8215): the prefix length is the operator's choice, so every layout that fits counts.
  if (w[0] === 0x64 && w[1] === 0xff9b && w[2] === 1) {
    return LOCAL_NAT64_LAYOUTS.filter((l) => l.zero.every((i) => b[i] === 0)).map((l) => ({
      form: 'nat64-local' as const,
      ipv4: ipaddr.fromByteArray(l.bytes.map((i) => b[i])).toString(),
    }));
  }
  // 2002:a.b.c.d::/48, 6to4 (RFC 3056): a relay delivers to the IPv4 address in bits 16-47.
  if (w[0] === 0x2002) return [{ form: '6to4', ipv4: v4(b, 2) }];
  // 2001:0::/32, Teredo (RFC 4380): the server's IPv4 in bits 32-63, the client's in bits 96-127 inverted.
  if (w[0] === 0x2001 && w[1] === 0) {
    return [
      { form: 'teredo-server', ipv4: v4(b, 4) },
      { form: 'teredo-client', ipv4: ipaddr.fromByteArray(b.slice(12, 16).map((x) => x ^ 0xff)).toString() },
    ];
  }
  return [];
}

function namedRange(addr: Addr): string | null {
  for (const { range, name } of RESERVED_PARSED) {
    if (addr.kind() === range[0].kind() && addr.match(range as [Addr, number])) return name;
  }
  return null;
}

/**
 * ipaddr.js reads `::a.b.c.d` as `::ffff:a.b.c.d` (IPv4-mapped), but the operating system, which
 * is what dials, reads it as the IPv4-compatible `::a.b:c.d`. Writing a trailing dotted quad as two
 * hex groups first makes the policy judge the address that is actually dialled.
 */
function dottedQuadToHex(ip: string): string {
  const m = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(%.*)?$/.exec(ip);
  if (!m) return ip;
  const o = m.slice(2, 6).map(Number);
  if (o.some((x) => x > 255)) return ip;
  return `${m[1]}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}${m[6] ?? ''}`;
}

/** Parses an IP literal; IPv4-mapped IPv6 addresses are folded to IPv4 so they cannot dodge the policy. */
export function parseIp(ip: string): Addr | null {
  if (ip.includes(':')) ip = dottedQuadToHex(ip);
  if (!ipaddr.isValid(ip)) return null;
  const addr = ipaddr.parse(ip);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (addr as ipaddr.IPv6).toIPv4Address();
  }
  return addr;
}

/**
 * False only for what ipaddr.js can never read as an address: its IPv6 forms have a colon and its
 * IPv4 forms (decimal, octal, `0x` hex parts) use no other characters than these. Asked first
 * because ipaddr.isValid throws and catches an Error for every host name (with its stack: a few
 * percent of a check's CPU, names being normalised on every lookup path).
 */
export function mayBeIpLiteral(value: string): boolean {
  return value.includes(':') || /^[0-9a-fx.]*$/i.test(value);
}

export function isIpLiteral(value: string): boolean {
  const v = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  return mayBeIpLiteral(v) && ipaddr.isValid(v) && (v.includes(':') || ipaddr.IPv4.isValidFourPartDecimal(v));
}

/** Parses a CIDR list (`127.0.0.0/8,10.1.2.3`); throws with the offending item on bad input. */
export function parseCidrList(list: string): Array<[Addr, number]> {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      try {
        if (item.includes('/')) return ipaddr.parseCIDR(item) as [Addr, number];
        const addr = ipaddr.parse(item);
        return [addr, addr.kind() === 'ipv4' ? 32 : 128] as [Addr, number];
      } catch {
        throw new Error(`"${item}" is not an IP address or CIDR range`);
      }
    });
}

export class AddressPolicy implements AddressPolicyLike {
  constructor(private readonly allowed: Array<[Addr, number]> = []) {}

  static fromList(list: string | undefined): AddressPolicy {
    return new AddressPolicy(list ? parseCidrList(list) : []);
  }

  /** The reserved range the address falls in, whether or not it is allowed. */
  static reservedRange(ip: string): string | null {
    return new AddressPolicy().forbiddenRange(ip);
  }

  forbiddenRange(ip: string): string | null {
    const addr = parseIp(ip);
    if (!addr) return 'invalid';
    const range = this.ownRange(addr);
    if (range === null || this.isAllowed(addr)) return null;
    return range;
  }

  private ownRange(addr: Addr): string | null {
    const named = namedRange(addr);
    if (named !== null || addr.kind() === 'ipv4') return named;
    const v6 = addr as ipaddr.IPv6;
    for (const { form, ipv4 } of embeddedIpv4(v6)) {
      const inner = parseIp(ipv4)!;
      const innerRange = namedRange(inner);
      if (innerRange !== null && !this.isAllowed(inner)) return `${innerRange} (${ipv4} embedded by ${form})`;
    }
    return v6.match(GLOBAL_UNICAST as [Addr, number]) || embeddedIpv4(v6).length > 0 ? null : 'reserved';
  }

  private isAllowed(addr: Addr): boolean {
    return this.allowed.some(([net, bits]) => net.kind() === addr.kind() && addr.match([net, bits] as [Addr, number]));
  }
}
