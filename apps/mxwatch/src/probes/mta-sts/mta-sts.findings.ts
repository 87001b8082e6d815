import type { FindingSpecs } from '../probe-definition.js';

/** Finding codes of the `mta-sts` probe (RFC 8461). Public contract: add freely, rename only with a README migration note. */
export const MTA_STS_FINDINGS = {
  MTASTS_MISSING: {
    severity: 'info',
    message: '{domain} publishes no MTA-STS record (_mta-sts.{domain} TXT)',
    remediation:
      'Without MTA-STS (RFC 8461) or DANE, an attacker on the path can strip STARTTLS and read mail sent to {domain}. Publish a policy at https://mta-sts.{domain}/.well-known/mta-sts.txt (start with "mode: testing"), then a TXT record "v=STSv1; id=<new id>" at _mta-sts.{domain}.',
  },
  MTASTS_TXT_INVALID: {
    severity: 'critical',
    message: 'The MTA-STS record of {domain} is invalid: {problems}',
    remediation:
      'Publish exactly one TXT record at _mta-sts.{domain} that begins with "v=STSv1;" and carries an id of 1 to 32 letters or digits, e.g. "v=STSv1; id=20240101T000000". Senders ignore an invalid record, so the policy does not protect mail.',
  },
  MTASTS_POLICY_UNREACHABLE: {
    severity: 'critical',
    message: 'The MTA-STS policy of {domain} cannot be fetched from {url}: {cause} ({error})',
    remediation:
      'Serve the policy at {url} over HTTPS with a certificate valid for mta-sts.{domain} from a public CA, status 200, no redirect, at most 64 KiB. Senders that cannot fetch it ignore MTA-STS, or keep applying an old cached policy.',
  },
  MTASTS_POLICY_INVALID: {
    severity: 'critical',
    message: 'The MTA-STS policy of {domain} is invalid: {problems}',
    remediation:
      'The policy needs "version: STSv1", "mode: enforce|testing|none", "max_age: <seconds, at most 31557600>" and one "mx: <host or *.domain>" line per MX (unless mode is none), one key per line (LF or CRLF). Senders ignore an invalid policy.',
  },
  MTASTS_CONTENT_TYPE: {
    severity: 'warning',
    message: 'The MTA-STS policy of {domain} is served as "{contentType}", not text/plain',
    remediation: 'Serve /.well-known/mta-sts.txt with "Content-Type: text/plain" (RFC 8461 section 3.3); some senders refuse any other type.',
  },
  MTASTS_MX_NOT_COVERED: {
    severity: 'critical',
    message: 'MX host {mx} of {domain} matches no "mx" line of its MTA-STS policy ({mode}; patterns: {patterns})',
    remediation:
      'Add "mx: {mx}" to the policy (a "*." pattern covers exactly one label: *.example.net matches mx.example.net, not a.b.example.net nor example.net), publish it with a new id in the TXT record. In enforce mode senders will not deliver to an uncovered MX.',
  },
  MTASTS_MX_CERT_INVALID: {
    severity: 'critical',
    message: 'MX {mx} ({ip}) fails the TLS checks MTA-STS senders make while the policy of {domain} enforces: {problems}',
    remediation:
      'Give {mx} a certificate from a public CA that names {mx} and is in date, and offer STARTTLS. Senders honouring the enforcing policy refuse to deliver to this MX; switch the policy to "mode: testing" (new id) until it is fixed.',
  },
  MTASTS_MAX_AGE_SHORT: {
    severity: 'info',
    message: 'The MTA-STS policy of {domain} has max_age {maxAge} s, under one day',
    remediation:
      'A short max_age leaves senders without a cached policy whenever a fetch is blocked, which is the attack MTA-STS defends against. Once the policy is stable, raise max_age to a week or more (604800; RFC 8461 suggests weeks).',
  },
  MTASTS_TESTING: {
    severity: 'info',
    message: 'The MTA-STS policy of {domain} is in testing mode',
    remediation: 'In testing mode senders report failures (TLS-RPT) but still deliver without TLS. When reports are clean, switch to "mode: enforce" and change the TXT id.',
  },
  MTASTS_ID_STALE: {
    severity: 'warning',
    message: 'The MTA-STS policy of {domain} changed ({change}) but the TXT id stayed "{id}"',
    remediation:
      'Senders refetch the policy only when the id in _mta-sts.{domain} changes, so they keep the old one for up to {maxAge} s. Publish a new id (e.g. a timestamp) in the TXT record whenever the policy changes.',
  },
  MTASTS_MX_CHANGE_UNCOVERED: {
    severity: 'critical',
    message: 'MX host {mx} of {domain} is not covered by the enforcing MTA-STS policy id "{id}" that senders may hold until {until}',
    remediation:
      'Senders that cached that policy refuse {mx} until it expires. Keep the old MX in service (or in the MX set) until {until}; next time add the new MX to the policy, with a new id, at least max_age before switching MX records.',
  },
  MTASTS_REMOVED_UNSAFELY: {
    severity: 'warning',
    message: 'The MTA-STS {what} of {domain} disappeared while the enforcing policy id "{id}" may be cached by senders until {until}',
    remediation:
      'Senders keep applying a cached enforcing policy after the record is gone. The safe removal (RFC 8461 section 8.3) is: publish "mode: none" with a new id, wait for the old max_age to pass, then remove the record and the policy.',
  },
} as const satisfies FindingSpecs;
