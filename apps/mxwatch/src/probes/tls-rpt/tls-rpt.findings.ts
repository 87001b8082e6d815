import type { FindingSpecs } from '../probe-definition.js';

/** Finding codes of the `tls-rpt` probe (RFC 8460). Public contract: add freely, rename only with a README migration note. */
export const TLS_RPT_FINDINGS = {
  TLSRPT_MISSING: {
    severity: 'info',
    message: '{domain} publishes no TLS-RPT record (_smtp._tls.{domain} TXT){deployed}',
    remediation:
      'Publish a TXT record "v=TLSRPTv1; rua=mailto:tls-reports@{domain}" at _smtp._tls.{domain}: senders then report the TLS failures they meet delivering to you, which is how a broken MTA-STS policy or DANE record gets noticed before mail bounces.',
  },
  TLSRPT_INVALID: {
    severity: 'warning',
    message: 'The TLS-RPT record of {domain} is invalid: {problems}',
    remediation:
      'Publish exactly one TXT record at _smtp._tls.{domain} that begins with "v=TLSRPTv1;" and has "rua=" with one or more mailto: or https: URIs, separated by commas. Senders ignore an invalid record and send no reports.',
  },
} as const satisfies FindingSpecs;
