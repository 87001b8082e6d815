import type { FindingSpecs } from '../probe-definition.js';

/** Finding codes of the `dkim` probe: keys at the selectors the operator named (RFC 6376, 8301, 8463). */
export const DKIM_FINDINGS = {
  DKIM_KEY_MISSING: {
    severity: 'critical',
    message: 'No DKIM key is published at {name} (selector {selector})',
    remediation: 'Publish the public key your mail system signs with as a TXT record at {name}, or remove the selector from the domain\'s dkimSelectors if it was retired. Signatures with this selector fail verification.',
  },
  DKIM_KEY_INVALID: {
    severity: 'critical',
    message: 'The DKIM key record at {name} is invalid: {problem}',
    remediation: 'Republish the record exactly as your mail system generated it: "v=DKIM1; k=rsa; p=<base64 public key>" (RFC 6376 section 3.6.1). Receivers treat signatures with an unusable key as failed.',
  },
  DKIM_KEY_REVOKED: {
    severity: 'info',
    message: 'The DKIM key at {name} is revoked (empty p=)',
    remediation: 'Nothing to do if the selector was retired on purpose; remove it from dkimSelectors. If you still sign with it, publish the key again.',
  },
  DKIM_KEY_WEAK: {
    severity: 'warning',
    message: 'The DKIM key at {name} is a {bits}-bit RSA key',
    remediation: 'RFC 8301: keys below 1024 bits must not be used (receivers ignore them) and signers should use at least 2048 bits. Generate a 2048-bit key under a new selector, publish it, switch signing to it, then revoke this one.',
  },
  DKIM_TESTING: {
    severity: 'info',
    message: 'The DKIM key at {name} is in testing mode (t=y)',
    remediation: 'With t=y receivers may treat signatures as unsigned. Remove the "y" flag once signing works.',
  },
} as const satisfies FindingSpecs;
