import type { FindingSpecs } from '../probe-definition.js';

/** Finding codes of the `bimi` probe (the BIMI record only; the logo is not fetched). */
export const BIMI_FINDINGS = {
  BIMI_RECORD_INVALID: {
    severity: 'warning',
    message: 'The BIMI record at {recordName} is invalid: {problem}',
    remediation: 'Publish one TXT record "v=BIMI1; l=https://<host>/logo.svg; a=https://<host>/vmc.pem" (both URLs https, a= may be empty); mailbox providers ignore an invalid record and show no logo.',
  },
  BIMI_DMARC_NOT_ENFORCED: {
    severity: 'warning',
    message: '{domain} publishes a BIMI record, but its DMARC policy is not enforced ({why})',
    remediation: 'Mailbox providers show a BIMI logo only for domains whose DMARC policy is p=quarantine or p=reject (with pct=100 and sp not none). Tighten the DMARC record first.',
  },
} as const satisfies FindingSpecs;
