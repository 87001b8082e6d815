/**
 * Which addresses the domain's own SPF part authorises that are worth asking DNS blacklists
 * about. Single hosts always; small ranges (/28–/31) address by address; medium ranges
 * (/24–/27) by their first and last usable address (lists often list those of a block that
 * sends); wider ranges are not queried (a /16 is 65 536 questions to a free list).
 */
import ipaddr from 'ipaddr.js';
import type { ProbeResult } from '../probe.types.js';
import type { SpfDetails } from './spf.probe.js';

export const MAX_SPF_SENDING_ADDRESSES = 64;

export function spfSendingAddresses(result: Pick<ProbeResult<SpfDetails>, 'status' | 'details'> | null | undefined, max = MAX_SPF_SENDING_ADDRESSES): string[] {
  if (!result || result.status === 'untestable' || !result.details?.ownNetworks) return [];
  const out = new Set<string>();
  for (const network of result.details.ownNetworks) {
    for (const ip of addressesOf(network)) {
      if (out.size >= max) return [...out];
      out.add(ip);
    }
  }
  return [...out];
}

function addressesOf(network: string): string[] {
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    // By family, not ipaddr.parseCIDR: that tries IPv6 first and builds (and throws) an Error for
    // every IPv4 network, once per network per check.
    parsed = network.includes(':') ? ipaddr.IPv6.parseCIDR(network) : ipaddr.IPv4.parseCIDR(network);
  } catch {
    return [];
  }
  const [addr, length] = parsed;
  if (addr.kind() === 'ipv6') return length === 128 ? [addr.toString()] : [];
  const base = ipv4ToNumber(ipaddr.IPv4.networkAddressFromCIDR(network).toString());
  if (length === 32) return [numberToIpv4(base)];
  const size = 2 ** (32 - length);
  if (length >= 28) return Array.from({ length: size }, (_, i) => numberToIpv4(base + i));
  if (length >= 24) return [numberToIpv4(base + 1), numberToIpv4(base + size - 2)];
  return [];
}

function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

function numberToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}
