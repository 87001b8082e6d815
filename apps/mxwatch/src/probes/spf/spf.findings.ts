import type { FindingSpecs } from '../probe-definition.js';

/** Finding codes of the `spf` probe (RFC 7208). */
export const SPF_FINDINGS = {
  SPF_MISSING: {
    severity: 'warning',
    message: '{domain} publishes no SPF record{note}',
    remediation: 'Publish one TXT record starting with "v=spf1" that lists the servers sending mail for {domain} and ends in "-all" or "~all". A domain that sends no mail publishes "v=spf1 -all".',
  },
  SPF_MULTIPLE_RECORDS: {
    severity: 'critical',
    message: '{domain} publishes {count} SPF records; receivers treat that as a permanent error',
    remediation: 'Merge them into one TXT record starting with "v=spf1" (RFC 7208 section 4.5) and delete the others.',
  },
  SPF_SYNTAX: {
    severity: 'critical',
    message: 'The SPF policy of {domain} has syntax errors: {problems}',
    remediation: 'Fix the record so it follows RFC 7208 section 12: receivers reject the whole policy (permerror) over one bad term.',
  },
  SPF_LOOKUP_LIMIT: {
    severity: 'critical',
    message: 'The SPF policy of {domain} exceeds a DNS lookup limit: {problem}',
    remediation: 'Receivers stop at 10 DNS-querying terms (include, a, mx, ptr, exists, redirect) and return permerror (RFC 7208 section 4.6.4). Replace a/mx terms with ip4/ip6, drop includes of services you no longer use, or ask the heaviest provider for a smaller include.',
  },
  SPF_LOOKUP_NEAR_LIMIT: {
    severity: 'warning',
    message: 'The SPF policy of {domain} needs {count} of the 10 allowed DNS lookups{top}',
    remediation: 'One more include (or a provider growing its own record) breaks SPF for {domain}. Replace a/mx terms with ip4/ip6 and remove includes no longer needed.',
  },
  SPF_VOID_LOOKUPS: {
    severity: 'critical',
    message: 'The SPF policy of {domain} makes {count} lookups that find nothing (more than 2 is a permanent error): {names}',
    remediation: 'Remove terms naming hosts or domains that no longer exist or have no records (RFC 7208 section 4.6.4).',
  },
  SPF_INCLUDE_INVALID: {
    severity: 'critical',
    message: 'The SPF policy of {domain} includes or redirects to a domain without exactly one SPF record: {problems}',
    remediation: 'An include or redirect target without an SPF record (or with several) is a permanent error for receivers. Fix the name, or remove the term.',
  },
  SPF_LOOP: {
    severity: 'critical',
    message: 'The SPF policy of {domain} includes itself: {loops}',
    remediation: 'Break the cycle of include/redirect terms; receivers evaluate it until the lookup limit and return permerror.',
  },
  SPF_ALL_PERMISSIVE: {
    severity: 'warning',
    message: 'The SPF policy of {domain} does not reject unlisted senders: {problems}',
    remediation: 'End the record in "-all" (or "~all" while testing). "+all" authorises every host on the Internet to send as {domain}; "?all" or no "all" gives no verdict.',
  },
  SPF_PTR_MECHANISM: {
    severity: 'warning',
    message: 'The SPF policy of {domain} uses the "ptr" mechanism: {terms}',
    remediation: 'RFC 7208 section 5.5 says "ptr" SHOULD NOT be used: it is slow, unreliable and some receivers ignore it. List the addresses with ip4/ip6 or a/mx instead.',
  },
  SPF_RECORD_TOO_LONG: {
    severity: 'info',
    message: 'An SPF record of {domain} is longer than 450 bytes: {records}',
    remediation: 'Long records may not fit a 512-byte DNS answer (RFC 7208 section 3.4) and force TCP fallback. Shorten it, e.g. by merging ip4 ranges.',
  },
  SPF_RANGE_TOO_BROAD: {
    severity: 'warning',
    message: 'The SPF policy of {domain} authorises very broad address ranges: {terms}',
    remediation: 'An ip4 range wider than /16 or an ip6 range wider than /48 authorises hosts you do not run. List only your sending networks.',
  },
} as const satisfies FindingSpecs;
