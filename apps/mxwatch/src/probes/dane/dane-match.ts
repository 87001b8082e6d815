/**
 * TLSA records (RFC 6698, RFC 7671, RFC 7672) against the chain an MX address presented.
 * Only usages 2 (DANE-TA) and 3 (DANE-EE) count on port 25. Usage 3 ignores names and dates.
 * Usage 2 needs its trust anchor among the certificates the server sent and the leaf to name the
 * MX host.
 */
import { createHash } from 'node:crypto';
import type { TlsaRecord } from '../probe.types.js';
import type { ChainCertificate } from '../smtp/certificate-facts.js';

/** One certificate of a presented chain (leaf first), as the `starttls` results describe it; hashes in hex. */
export type ChainElement = ChainCertificate;

const DIGEST_HEX = { 1: 64, 2: 128 } as const;

/** Why a record cannot be used at all, or null when it is well formed. */
export function malformation(r: TlsaRecord): string | null {
  const data = r.data.toLowerCase();
  if (![0, 1, 2, 3].includes(r.usage)) return `usage ${r.usage} is not defined`;
  if (![0, 1].includes(r.selector)) return `selector ${r.selector} is not defined`;
  if (![0, 1, 2].includes(r.matchingType)) return `matching type ${r.matchingType} is not defined`;
  if (!/^[0-9a-f]*$/.test(data) || data.length % 2) return 'data is not hexadecimal';
  if (r.matchingType === 0) return data.length === 0 ? 'full-data record with no data' : null;
  const want = DIGEST_HEX[r.matchingType as 1 | 2];
  if (data.length !== want) return `${r.matchingType === 1 ? 'SHA-256' : 'SHA-512'} data of ${data.length / 2} bytes, not ${want / 2}`;
  return null;
}

export function describeTlsa(r: TlsaRecord): string {
  const d = r.data.toLowerCase();
  return `${r.usage} ${r.selector} ${r.matchingType} ${d.length > 16 ? `${d.slice(0, 16)}...` : d}`;
}

/** Usage 2 or 3, well formed: the records an SMTP sender uses. */
export function usable(r: TlsaRecord): boolean {
  return (r.usage === 2 || r.usage === 3) && malformation(r) === null;
}

/** Whether the record's association data describes this certificate (or its public key). */
export function matchesElement(r: TlsaRecord, c: ChainElement): boolean {
  const data = r.data.toLowerCase();
  const sha256 = (r.selector === 0 ? c.certSha256 : c.spkiSha256).toLowerCase();
  const sha512 = (r.selector === 0 ? c.certSha512 : c.spkiSha512).toLowerCase();
  if (r.matchingType === 1) return data === sha256;
  if (r.matchingType === 2) return data === sha512;
  // Full data: the chain carries digests only, so the data is hashed and compared with them.
  return createHash('sha256').update(Buffer.from(data, 'hex')).digest('hex') === sha256;
}

/** Whether one usable record authenticates this chain (leaf first) for this MX host. */
export function recordMatchesChain(r: TlsaRecord, chain: readonly ChainElement[], nameMatch: boolean | null): boolean {
  if (!usable(r) || chain.length === 0) return false;
  if (r.usage === 3) return matchesElement(r, chain[0]!);
  // DANE-TA: the anchor must be among the certificates sent (a leaf alone cannot be checked against it), and the name must match.
  return nameMatch === true && chain.slice(1).some((c) => matchesElement(r, c));
}
