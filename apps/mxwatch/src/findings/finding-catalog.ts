import type { ProbeName } from '../probes/probe.types.js';

export type Severity = 'critical' | 'warning' | 'info';
export const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];

export interface CatalogEntry {
  probe: ProbeName;
  severity: Severity;
  /** One line; `{name}` placeholders are filled from the observation's params. */
  message: string;
  remediation: string;
}

/**
 * Every finding code mxwatch can raise. Codes are part of the public contract (REST, metrics,
 * alert rules): add freely, rename only with a migration note in the README.
 */
export const FINDING_CATALOG = {
  // --- MX -------------------------------------------------------------------------------------
  MX_NXDOMAIN: {
    probe: 'mx',
    severity: 'critical',
    message: 'The domain {domain} does not exist in DNS (NXDOMAIN)',
    remediation: 'Register the domain or fix its delegation (NS records at the parent zone); stop monitoring it if it was retired.',
  },
  MX_MISSING: {
    probe: 'mx',
    severity: 'warning',
    message: '{domain} has no MX records; {fallback}',
    remediation: 'Publish MX records naming your mail servers. Without them senders fall back to the A/AAAA record of the domain (RFC 5321 section 5.1) if there is one, which rarely is a mail server.',
  },
  MX_NULL: {
    probe: 'mx',
    severity: 'info',
    message: '{domain} publishes a null MX (RFC 7505): it accepts no mail',
    remediation: 'Nothing to do if the domain is not meant to receive mail. Otherwise replace "MX 0 ." with MX records naming your mail servers.',
  },
  MX_NULL_MIXED: {
    probe: 'mx',
    severity: 'critical',
    message: '{domain} publishes a null MX beside other MX records',
    remediation: 'A null MX ("MX 0 .") must be the only MX record (RFC 7505). Remove it if the domain receives mail, or remove the other MX records if it does not.',
  },
  MX_TARGET_CNAME: {
    probe: 'mx',
    severity: 'warning',
    message: 'MX target {mx} is an alias (CNAME to {cname})',
    remediation: 'Point the MX record at the canonical host name ({cname}) instead of an alias: RFC 5321 section 5.1 forbids aliases there and some senders refuse them.',
  },
  MX_TARGET_IP_LITERAL: {
    probe: 'mx',
    severity: 'critical',
    message: 'MX target {mx} is an IP address, not a host name',
    remediation: 'An MX record must name a host that has A/AAAA records. Create a host name (e.g. mail.{domain}) with that address and point the MX at it.',
  },
  MX_TARGET_UNRESOLVABLE: {
    probe: 'mx',
    severity: 'critical',
    message: 'MX target {mx} has no A or AAAA record ({error})',
    remediation: 'Add A/AAAA records for {mx}, or remove the MX record that names it; senders cannot deliver to a host without an address.',
  },
  MX_TARGET_PRIVATE_IP: {
    probe: 'mx',
    severity: 'critical',
    message: 'MX target {mx} resolves to {ip}, a {range} address',
    remediation: 'Publish the public address of the mail server. Private, loopback and reserved addresses are unreachable from the Internet (split-horizon DNS leaking internal records is a common cause).',
  },
  MX_DUPLICATE: {
    probe: 'mx',
    severity: 'warning',
    message: 'MX target {mx} is listed {count} times',
    remediation: 'Remove the duplicate MX records; keep one record per host with the intended preference.',
  },

  // --- DNSBL ----------------------------------------------------------------------------------
  DNSBL_LISTED: {
    probe: 'dnsbl',
    severity: 'critical',
    message: '{subject} is listed on {zone}: {meaning} ({code}){txt}',
    remediation: 'Find and stop the cause (compromised account, open relay, bad list hygiene), then request delisting on the list\'s own website; the TXT record usually links to it.',
  },
  DNSBL_QUERY_REFUSED: {
    probe: 'dnsbl',
    severity: 'warning',
    message: '{zone} refused to answer our query for {subject} ({answer}); listing status unknown',
    remediation: 'The list does not answer queries from public or shared resolvers (Cloudflare, Google, Quad9, DoH providers). Point MXWATCH_DNS_SERVERS at a recursive resolver of your own (e.g. unbound) or use the list\'s paid data feed (Spamhaus DQS key).',
  },
  DNSBL_ZONE_UNHEALTHY: {
    probe: 'dnsbl',
    severity: 'warning',
    message: 'DNSBL zone {zone} failed its RFC 5782 test points ({reason}); its answers are not trusted',
    remediation: 'The list may be defunct, returning wildcard answers, or blocking us. Check the list\'s status page and remove it from MXWATCH_DNSBL_ZONES if it is gone.',
  },

  // --- SMTP -----------------------------------------------------------------------------------
  SMTP_PORT_UNREACHABLE: {
    probe: 'smtp',
    severity: 'critical',
    message: 'Port {port} on {host} ({ip}) is unreachable: {error}',
    remediation: 'Check that the mail server listens on this port and that firewalls and security groups let inbound TCP {port} through.',
  },
  SMTP_BANNER_REJECT: {
    probe: 'smtp',
    severity: 'critical',
    message: '{host} ({ip}) port {port} rejects connections at the banner: {reply}',
    remediation: 'The server answers with a permanent error (5xx) to every new connection. Check its access rules (client restrictions, postscreen, rate limits) and that it is not in maintenance mode.',
  },
  SMTP_SLOW_BANNER: {
    probe: 'smtp',
    severity: 'warning',
    message: '{host} ({ip}) port {port} took {bannerMs} ms to send its banner',
    remediation: 'A banner slower than a few seconds makes senders time out or retry. Check reverse-DNS lookups, overloaded hosts or an intentional greet delay (postscreen) that is too long.',
  },
  SMTP_EHLO_FAILED: {
    probe: 'smtp',
    severity: 'warning',
    message: '{host} ({ip}) port {port} did not accept EHLO: {reply}',
    remediation: 'Modern senders require ESMTP (EHLO, RFC 5321). Enable ESMTP on the server and check HELO/EHLO restrictions.',
  },

  // --- STARTTLS / TLS -------------------------------------------------------------------------
  STARTTLS_NOT_OFFERED: {
    probe: 'starttls',
    severity: 'critical',
    message: '{host} ({ip}) port {port} does not offer STARTTLS',
    remediation: 'Enable STARTTLS with a valid certificate (Postfix: smtpd_tls_security_level = may, smtpd_tls_chain_files; Exim: tls_advertise_hosts = *). Without it mail travels in clear text.',
  },
  STARTTLS_FAILED: {
    probe: 'starttls',
    severity: 'critical',
    message: 'TLS with {host} ({ip}) port {port} failed: {error}',
    remediation: 'The server offers TLS but the handshake fails. Check that the certificate and key files are readable and match, and that the server supports TLS 1.2 or later with current ciphers.',
  },
  TLS_CERT_EXPIRED: {
    probe: 'starttls',
    severity: 'critical',
    message: 'The certificate of {host} port {port} expired on {notAfter}',
    remediation: 'Renew the certificate and reload the mail server; check that automatic renewal (certbot, acme.sh) also reloads the MTA.',
  },
  TLS_CERT_EXPIRING: {
    probe: 'starttls',
    severity: 'warning',
    message: 'The certificate of {host} port {port} expires in {days} days ({notAfter})',
    remediation: 'Renew the certificate before it expires and make sure the renewal reloads the mail server.',
  },
  TLS_CERT_UNTRUSTED: {
    probe: 'starttls',
    severity: 'warning',
    message: 'The certificate of {host} port {port} is not trusted: {error}',
    remediation: 'Use a certificate from a public CA and serve the full chain (leaf plus intermediates). MTA-STS and DANE senders refuse untrusted certificates.',
  },
  TLS_CERT_NAME_MISMATCH: {
    probe: 'starttls',
    severity: 'warning',
    message: 'The certificate of {host} port {port} does not cover {host} (names: {names})',
    remediation: 'Issue a certificate whose subject alternative names include the MX host name. MTA-STS senders refuse a certificate that does not name the MX host.',
  },
  TLS_PROTOCOL_OUTDATED: {
    probe: 'starttls',
    severity: 'warning',
    message: '{host} ({ip}) port {port} only speaks {version}',
    remediation: 'Enable TLS 1.2 and 1.3 on the server; TLS 1.0 and 1.1 are deprecated (RFC 8996) and refused by current senders.',
  },
  AUTH_BEFORE_TLS: {
    probe: 'starttls',
    severity: 'warning',
    message: '{host} ({ip}) port {port} offers AUTH ({mechanisms}) before TLS',
    remediation: 'Advertise AUTH only after STARTTLS (Postfix: smtpd_tls_auth_only = yes; Exim: auth_advertise_hosts = ${if eq{$tls_in_cipher}{}{}{*}}) so passwords never travel in clear text.',
  },
} as const satisfies Record<string, CatalogEntry>;

export type FindingCode = keyof typeof FINDING_CATALOG;

export function isFindingCode(code: string): code is FindingCode {
  return Object.prototype.hasOwnProperty.call(FINDING_CATALOG, code);
}

/** Fills `{name}` placeholders; a missing value is left visible rather than silently blank. */
export function renderTemplate(template: string, params: Record<string, unknown>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const v = params[key];
    return v === undefined || v === null ? whole : String(v);
  });
}
