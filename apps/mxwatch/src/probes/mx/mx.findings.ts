import type { FindingSpecs } from '../probe-definition.js';

/** Finding codes of the `mx` probe. Codes are part of the public contract: add freely, rename only with a migration note in the README. */
export const MX_FINDINGS = {
  MX_NXDOMAIN: {
    severity: 'critical',
    message: 'The domain {domain} does not exist in DNS (NXDOMAIN)',
    remediation: 'Register the domain or fix its delegation (NS records at the parent zone); stop monitoring it if it was retired.',
  },
  MX_MISSING: {
    severity: 'warning',
    message: '{domain} has no MX records; {fallback}',
    remediation: 'Publish MX records naming your mail servers. Without them senders fall back to the A/AAAA record of the domain (RFC 5321 section 5.1) if there is one, which rarely is a mail server.',
  },
  MX_NULL: {
    severity: 'info',
    message: '{domain} publishes a null MX (RFC 7505): it accepts no mail',
    remediation: 'Nothing to do if the domain is not meant to receive mail. Otherwise replace "MX 0 ." with MX records naming your mail servers.',
  },
  MX_NULL_MIXED: {
    severity: 'critical',
    message: '{domain} publishes a null MX beside other MX records',
    remediation: 'A null MX ("MX 0 .") must be the only MX record (RFC 7505). Remove it if the domain receives mail, or remove the other MX records if it does not.',
  },
  MX_TARGET_CNAME: {
    severity: 'warning',
    message: 'MX target {mx} is an alias (CNAME to {cname})',
    remediation: 'Point the MX record at the canonical host name ({cname}) instead of an alias: RFC 5321 section 5.1 forbids aliases there and some senders refuse them.',
  },
  MX_TARGET_IP_LITERAL: {
    severity: 'critical',
    message: 'MX target {mx} is an IP address, not a host name',
    remediation: 'An MX record must name a host that has A/AAAA records. Create a host name (e.g. mail.{domain}) with that address and point the MX at it.',
  },
  MX_TARGET_UNRESOLVABLE: {
    severity: 'critical',
    message: 'MX target {mx} has no A or AAAA record ({error})',
    remediation: 'Add A/AAAA records for {mx}, or remove the MX record that names it; senders cannot deliver to a host without an address.',
  },
  MX_TARGET_PRIVATE_IP: {
    severity: 'critical',
    message: 'MX target {mx} resolves to {ip}, a {range} address',
    remediation: 'Publish the public address of the mail server. Private, loopback and reserved addresses are unreachable from the Internet (split-horizon DNS leaking internal records is a common cause).',
  },
  MX_DUPLICATE: {
    severity: 'warning',
    message: 'MX target {mx} is listed {count} times',
    remediation: 'Remove the duplicate MX records; keep one record per host with the intended preference.',
  },
  MX_TOO_MANY_TARGETS: {
    severity: 'warning',
    message: '{domain} names {hosts} MX hosts with {addresses} addresses; only the first {maxHosts} hosts and {maxAddresses} addresses (by preference) are checked',
    remediation: 'Publish a handful of MX hosts with a few addresses each: senders try only some of them anyway. If this fleet is real, raise MXWATCH_MAX_MX_HOSTS / MXWATCH_MAX_ADDRESSES.',
  },
} as const satisfies FindingSpecs;
