import type { FindingSpecs } from '../probe-definition.js';

/** Finding codes of the `ptr` probe: reverse DNS of mail addresses and the names servers greet with. */
export const PTR_FINDINGS = {
  PTR_MISSING: {
    severity: 'warning',
    message: '{ip} ({roles}) has no reverse DNS (PTR) record',
    remediation: 'Ask whoever runs the address block (your hosting or ISP) to publish a PTR record naming the mail host, e.g. {suggestion}. Many receivers reject or score down mail from addresses without reverse DNS; for an address that only receives mail it matters less.',
  },
  PTR_FCRDNS_MISMATCH: {
    severity: 'warning',
    message: 'The reverse DNS of {ip} ({names}) does not resolve back to {ip}',
    remediation: 'Make one PTR name of {ip} have an A/AAAA record with {ip} (forward-confirmed reverse DNS), or point the PTR at a name that does. Receivers check this before trusting the PTR name.',
  },
  HELO_NAME_INVALID: {
    severity: 'warning',
    message: 'The mail server at {ip} greets with "{name}" ({where}), not a fully qualified domain name or address literal',
    remediation: 'Set the server\'s host name (Postfix myhostname, Exim primary_hostname) to its fully qualified name, ideally the one its PTR record names (RFC 5321 section 4.1.1.1).',
  },
} as const satisfies FindingSpecs;
