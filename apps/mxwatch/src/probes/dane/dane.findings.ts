import type { FindingSpecs } from '../probe-definition.js';

/** Finding codes of the `dane` probe (RFC 7672). Public contract: add freely, rename only with a README migration note. */
export const DANE_FINDINGS = {
  DANE_TLSA_BOGUS: {
    severity: 'critical',
    message: 'The TLSA records of {mx} (_25._tcp.{mx}) fail DNSSEC validation: {detail}',
    remediation: 'Senders that validate DNSSEC hold mail for {mx} while its TLSA answer is bogus. Re-sign the zone of {mx} (expired signatures are the usual cause) or fix its DS/DNSKEY chain.',
  },
  DANE_TLSA_UNSIGNED: {
    severity: 'warning',
    message: '{mx} publishes TLSA records in a zone that is not DNSSEC-signed; senders ignore them',
    remediation: 'DANE needs DNSSEC: sign the zone of {mx} (and publish its DS) so the TLSA records take effect, or remove them.',
  },
  DANE_NO_MATCH: {
    severity: 'critical',
    message: 'No usable TLSA record of {mx} matches what {mx} ({ip}) presents: {problem}',
    remediation:
      'DANE senders refuse to deliver to {mx} at {ip}. Publish a TLSA record for the key or certificate this address presents (e.g. "3 1 1 <sha256 of its public key>"), or install the certificate the records describe. Check every address: each must present a matching chain.',
  },
  DANE_PKIX_USAGE: {
    severity: 'warning',
    message: '{mx} publishes TLSA records with certificate usage {usages} (PKIX-TA/PKIX-EE), which SMTP senders treat as unusable',
    remediation: 'RFC 7672 section 3.1.3: on port 25 only usages 2 (DANE-TA) and 3 (DANE-EE) are used. Replace them with "3 1 1" records (or "2 1 1" for your CA).',
  },
  DANE_TLSA_MALFORMED: {
    severity: 'warning',
    message: 'TLSA records of {mx} are malformed: {problems}',
    remediation: 'Each TLSA record needs usage 0-3, selector 0-1, matching type 0-2 and data of the right length (32 bytes for SHA-256, 64 for SHA-512). Senders ignore malformed records.',
  },
  DANE_NO_ROLLOVER: {
    severity: 'info',
    message: 'The TLSA records of {mx} match only the key in use now; the next key change breaks DANE',
    remediation:
      'Publish a second TLSA record for the next key before changing it (a "3 1 1" for the new key), or add a "2 1 1" record for the issuing CA, then remove the old record once the new key is in use (RFC 7671 section 8.1).',
  },
  DANE_ROLLOVER_RISK: {
    severity: 'warning',
    message: 'DANE rollover risk on {mx} ({ip}): {why}',
    remediation:
      'Publish the TLSA record for the next key before the certificate is renewed, wait for the old records\' TTL to pass, then deploy the new key; with automatic renewal either reuse the key or pre-publish the next one.',
  },
} as const satisfies FindingSpecs;
