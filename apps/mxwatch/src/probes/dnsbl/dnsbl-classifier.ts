import ipaddr from 'ipaddr.js';
import type { DnsAnswer, DnsErrorKind } from '../probe.types.js';
import type { DnsblListErrorReason, DnsblZoneConfig } from './dnsbl-zones.js';

export interface DnsblCode {
  code: string;
  meaning: string;
}

export type DnsblErrorReason =
  | DnsblListErrorReason
  /** The resolver path said REFUSED (rcode 5). */
  | 'refused'
  | Exclude<DnsErrorKind, 'nxdomain' | 'nodata' | 'refused'>
  /** 127.0.0.0/8 answers the table does not know. */
  | 'unknown_answer'
  /** An A record outside 127.0.0.0/8: a hijacking resolver or a wildcard, never a DNSBL code. */
  | 'answer_outside_loopback'
  /** A listing code and an error code in one answer: nothing in it can be trusted. */
  | 'mixed_answer';

export type DnsblClassification =
  | { state: 'listed'; codes: DnsblCode[] }
  | { state: 'clean'; /** set when the name exists without an A record, which lists do not normally publish */ note?: string }
  | { state: 'error'; reason: DnsblErrorReason; /** the A records, comma separated, when the error came from them */ answer?: string; detail: string };

/** Errors that mean "the list (or our path to it) would not answer us", each with a fix for the operator. */
export const REFUSAL_REASONS: ReadonlySet<DnsblErrorReason> = new Set(['refused', 'query_refused_by_list', 'rate_limited']);

const UNRECOGNISED = 'unrecognised return code';

/** Reads one DNSBL A answer with the zone's own table. Pure. */
export function classifyDnsblAnswer(zone: DnsblZoneConfig, answer: DnsAnswer<'A'>): DnsblClassification {
  if (!answer.ok) {
    switch (answer.error) {
      case 'nxdomain':
        return { state: 'clean' };
      case 'nodata':
        return { state: 'clean', note: `${answer.name} exists but has no A record` };
      default:
        return { state: 'error', reason: answer.error, detail: answer.cause };
    }
  }

  const addresses = [...new Set(answer.records)];
  const joined = addresses.join(', ');
  if (addresses.length === 0) return { state: 'clean', note: `${answer.name} answered with no A record` };

  const outside = addresses.filter((a) => !isLoopbackV4(a));
  if (outside.length) {
    return { state: 'error', reason: 'answer_outside_loopback', answer: joined, detail: `${zone.zone} answered ${outside.join(', ')}, outside 127.0.0.0/8: not a DNSBL code (a resolver that rewrites NXDOMAIN, or a wildcard record)` };
  }

  const errors = addresses.filter((a) => zone.errors[a]);
  const codes: DnsblCode[] = [];
  const unknown: string[] = [];
  for (const a of addresses) {
    if (zone.errors[a]) continue;
    const meaning = listingMeaning(zone, a);
    if (meaning) codes.push({ code: a, meaning });
    else unknown.push(a);
  }

  if (errors.length) {
    const first = zone.errors[errors[0]];
    if (codes.length) {
      return { state: 'error', reason: 'mixed_answer', answer: joined, detail: `${zone.zone} answered both listing and error codes (${joined})` };
    }
    return { state: 'error', reason: first.reason, answer: joined, detail: `${zone.zone} answered ${errors[0]}: ${first.meaning}` };
  }
  if (codes.length === 0) {
    return { state: 'error', reason: 'unknown_answer', answer: joined, detail: `${zone.zone} answered ${joined}, which is not one of its documented codes` };
  }
  // A known code beside an unknown one is still a listing; the unknown code is shown as such
  // rather than hiding the listing behind an error.
  for (const a of unknown) codes.push({ code: a, meaning: UNRECOGNISED });
  return { state: 'listed', codes };
}

function listingMeaning(zone: DnsblZoneConfig, address: string): string | null {
  const exact = zone.listed[address];
  if (exact) return exact;
  const [a, b, c, d] = address.split('.').map(Number);
  if (zone.bitmask && a === 127 && b === 0 && c === 0) {
    const meanings = Object.entries(zone.bitmask)
      .filter(([bit]) => (d & Number(bit)) !== 0)
      .map(([, m]) => m);
    return meanings.length ? meanings.join('; ') : null;
  }
  if (zone.listedRange && a === 127 && b === 0 && c === 0 && d >= 2 && d <= 254) return 'listed';
  return null;
}

function isLoopbackV4(address: string): boolean {
  if (!ipaddr.IPv4.isValidFourPartDecimal(address)) return false;
  return ipaddr.IPv4.parse(address).range() === 'loopback';
}
