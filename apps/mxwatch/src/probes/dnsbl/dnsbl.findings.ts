import type { FindingSpecs } from '../probe-definition.js';

/** Finding codes of the `dnsbl` probe. */
export const DNSBL_FINDINGS = {
  DNSBL_LISTED: {
    severity: 'critical',
    message: '{subject} is listed on {zone}: {meaning} ({code}){txt}',
    remediation: 'Find and stop the cause (compromised account, open relay, bad list hygiene), then request delisting on the list\'s own website; the TXT record usually links to it.',
  },
  DNSBL_SPF_IP_LISTED: {
    severity: 'warning',
    message: 'An address your SPF record authorises, {subject}, is listed on {zone}: {meaning} ({code}){txt}',
    remediation: 'If the address still sends your mail, find and stop the cause, then request delisting on the list\'s website. If it no longer does, remove it from your SPF record.',
  },
  DNSBL_QUERY_REFUSED: {
    severity: 'warning',
    // A fact about our path to the list: reported although the listing status is unknown.
    reportWhenUntestable: true,
    message: '{zone} refused to answer our query for {subject} ({answer}); listing status unknown',
    remediation: 'The list does not answer queries from public or shared resolvers (Cloudflare, Google, Quad9, DoH providers). Point MXWATCH_DNSBL_DNS_SERVERS at a recursive resolver of your own (e.g. unbound; MXWATCH_DNSBL_DNS_PROTOCOL=udp) or, for Spamhaus, set MXWATCH_SPAMHAUS_DQS_KEY (free Data Query Service key).',
  },
  MONITOR_DNSBL_RESOLVER_PUBLIC: {
    severity: 'warning',
    // About the monitor itself: raised whatever the lists answered.
    reportWhenUntestable: true,
    message: 'mxwatch asks the DNS blacklists through a public or shared resolver ({resolver}), which {lists} refuse to answer; listings there cannot be seen',
    remediation:
      'Point MXWATCH_DNSBL_DNS_SERVERS at a recursive resolver of your own that asks the lists directly (e.g. unbound on 127.0.0.1 with MXWATCH_DNSBL_DNS_PROTOCOL=udp, or `system` when /etc/resolv.conf names one; not a forwarder to your ISP or a public resolver); for Spamhaus you may instead set MXWATCH_SPAMHAUS_DQS_KEY (free Data Query Service key), which works through any resolver. Barracuda answers only resolvers registered with it. If the resolver is your own and only presumed shared, set MXWATCH_DNSBL_RESOLVER_SHARED=false.',
  },
  DNSBL_ZONE_UNHEALTHY: {
    severity: 'warning',
    reportWhenUntestable: true,
    message: 'DNSBL zone {zone} failed its RFC 5782 test points ({reason}); its answers are not trusted',
    remediation: 'The list may be defunct, returning wildcard answers, or blocking us. Check the list\'s status page and remove it from MXWATCH_DNSBL_ZONES if it is gone.',
  },
} as const satisfies FindingSpecs;
