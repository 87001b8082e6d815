import type { FindingSpecs } from '../probe-definition.js';

/** Finding codes of the `dmarc` probe (RFC 7489; DMARCbis where it differs). */
export const DMARC_FINDINGS = {
  DMARC_MISSING: {
    severity: 'warning',
    message: 'No DMARC record applies to {domain} (none at {names})',
    remediation: 'Publish a TXT record at _dmarc.{domain}, e.g. "v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}", read the reports, then move to p=quarantine or p=reject.',
  },
  DMARC_MULTIPLE: {
    severity: 'critical',
    message: '{recordName} publishes {count} DMARC records; receivers then apply none of them',
    remediation: 'Keep exactly one TXT record starting with "v=DMARC1" at {recordName} (RFC 7489 section 6.6.3). Receivers do not fall back to the organisational domain in this case.',
  },
  DMARC_SYNTAX: {
    severity: 'critical',
    message: 'The DMARC record at {recordName} is invalid: {problems}',
    remediation: 'Fix the record: it must start with "v=DMARC1", and p (none, quarantine or reject) is required (RFC 7489 section 6.3).',
  },
  DMARC_TAG_UNKNOWN: {
    severity: 'info',
    message: 'The DMARC record at {recordName} has tags receivers ignore: {tags}',
    remediation: 'Remove or correct them; a misspelt tag (e.g. "rua " vs "ruf") silently does nothing.',
  },
  DMARC_TAG_DEPRECATED: {
    severity: 'info',
    message: 'The DMARC record at {recordName} uses tags DMARCbis removes: {tags}',
    remediation: 'pct, rf and ri are dropped by DMARCbis and ignored by many receivers; use t=y instead of pct for a test rollout.',
  },
  DMARC_POLICY_NONE: {
    severity: 'warning',
    message: 'The DMARC policy in force for {domain} is "none" ({tag} in the record at {recordName}): spoofed mail is delivered',
    remediation: 'Once the aggregate reports show your own mail passing, raise the policy to p=quarantine, then p=reject.',
  },
  DMARC_RUA_UNAUTHORIZED: {
    severity: 'warning',
    message: 'DMARC reports for {recordDomain} go to {destinations}, which has not authorised them',
    remediation: 'Receivers send no reports to another organisation unless it publishes "v=DMARC1" at {recordDomain}._report._dmarc.<its domain> (or a wildcard); ask the report receiver to publish it, or change rua (RFC 7489 section 7.1).',
  },
  DMARC_NO_REPORTS: {
    severity: 'info',
    message: 'The DMARC record at {recordName} asks for no aggregate reports (no rua)',
    remediation: 'Add rua=mailto:<address> to learn who sends mail as {domain} before tightening the policy.',
  },
} as const satisfies FindingSpecs;
