import type { FindingSpecs } from '../probe-definition.js';

/** Finding codes of the `dnssec` probe. Public contract: add freely, rename only with a README migration note. */
export const DNSSEC_FINDINGS = {
  DNSSEC_BOGUS: {
    severity: 'critical',
    message: 'DNSSEC validation fails for {name} ({types}): {detail}',
    remediation:
      'Validating resolvers answer SERVFAIL for {name}, so senders behind them cannot find where to deliver mail. Re-sign the zone (expired signatures are the usual cause), check that the DS record at the parent matches a published DNSKEY, or remove the DS at the registrar before turning DNSSEC off.',
  },
  DNSSEC_UNSIGNED: {
    severity: 'info',
    message: 'The zone of {domain} is not DNSSEC-signed',
    remediation:
      'Without DNSSEC, answers for {domain} (MX records included) can be forged on the path, and DANE cannot protect mail to it. Enable DNSSEC signing at your DNS host and publish the DS record at your registrar.',
  },
  DNSSEC_MX_HOST_UNSIGNED: {
    severity: 'info',
    message: 'MX host {mx} is in a zone that is not DNSSEC-signed, so DANE is impossible for it',
    remediation: 'DANE (RFC 7672) needs the MX host name in a signed zone. Sign the zone of {mx}, or use an MX host name inside a signed zone, before publishing TLSA records.',
  },
  MONITOR_RESOLVER_NOT_VALIDATING: {
    severity: 'warning',
    message: 'The DNS resolver mxwatch uses does not validate DNSSEC ({why}); DNSSEC and DANE cannot be checked',
    remediation:
      'Point MXWATCH_DNS_SERVERS at a validating resolver (e.g. a local unbound with its root trust anchor). On a closed network with its own trust anchors, set MXWATCH_DNSSEC_CANARY=<signed name>,<broken name> to names that must validate and must fail.',
    reportWhenUntestable: true,
  },
} as const satisfies FindingSpecs;
