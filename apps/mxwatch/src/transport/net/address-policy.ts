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
  ['ff00::/8', 'multicast'],
  ['2001:db8::/32', 'documentation'],
  ['64:ff9b:1::/48', 'nat64-local'],
  ['100::/64', 'discard'],
];

const RESERVED_PARSED = RESERVED.map(([cidr, name]) => ({ range: ipaddr.parseCIDR(cidr), name }));

/** Parses an IP literal; IPv4-mapped IPv6 addresses are folded to IPv4 so they cannot dodge the policy. */
export function parseIp(ip: string): Addr | null {
  if (!ipaddr.isValid(ip)) return null;
  const addr = ipaddr.parse(ip);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (addr as ipaddr.IPv6).toIPv4Address();
  }
  return addr;
}

export function isIpLiteral(value: string): boolean {
  const v = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  return ipaddr.isValid(v) && (v.includes(':') || ipaddr.IPv4.isValidFourPartDecimal(v));
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
    const addr = parseIp(ip);
    if (!addr) return 'invalid';
    for (const { range, name } of RESERVED_PARSED) {
      if (addr.kind() === range[0].kind() && addr.match(range as [Addr, number])) return name;
    }
    return null;
  }

  forbiddenRange(ip: string): string | null {
    const range = AddressPolicy.reservedRange(ip);
    if (range === null || range === 'invalid') return range;
    const addr = parseIp(ip)!;
    const ok = this.allowed.some(([net, bits]) => net.kind() === addr.kind() && addr.match([net, bits] as [Addr, number]));
    return ok ? null : range;
  }
}
