import type { FindingSpecs } from '../probe-definition.js';

/** Finding codes of the `starttls` probe (STARTTLS, TLS and the certificate). */
export const STARTTLS_FINDINGS = {
  STARTTLS_NOT_OFFERED: {
    severity: 'critical',
    message: '{host} ({ip}) port {port} does not offer STARTTLS',
    remediation: 'Enable STARTTLS with a valid certificate (Postfix: smtpd_tls_security_level = may, smtpd_tls_chain_files; Exim: tls_advertise_hosts = *). Without it mail travels in clear text.',
  },
  STARTTLS_FAILED: {
    severity: 'critical',
    message: 'TLS with {host} ({ip}) port {port} failed: {error}',
    remediation: 'The server offers TLS but the handshake fails. Check that the certificate and key files are readable and match, and that the server supports TLS 1.2 or later with current ciphers.',
  },
  TLS_CERT_EXPIRED: {
    severity: 'critical',
    message: 'The certificate of {host} port {port} expired on {notAfter}',
    remediation: 'Renew the certificate and reload the mail server; check that automatic renewal (certbot, acme.sh) also reloads the MTA.',
  },
  TLS_CERT_EXPIRING: {
    severity: 'warning',
    message: 'The certificate of {host} port {port} expires in {days} days ({notAfter})',
    remediation: 'Renew the certificate before it expires and make sure the renewal reloads the mail server.',
  },
  TLS_CERT_UNTRUSTED: {
    severity: 'warning',
    message: 'The certificate of {host} port {port} is not trusted: {error}',
    remediation: 'Use a certificate from a public CA and serve the full chain (leaf plus intermediates). MTA-STS and DANE senders refuse untrusted certificates.',
  },
  TLS_CERT_NAME_MISMATCH: {
    severity: 'warning',
    message: 'The certificate of {host} port {port} does not cover {host} (names: {names})',
    remediation: 'Issue a certificate whose subject alternative names include the MX host name. MTA-STS senders refuse a certificate that does not name the MX host.',
  },
  TLS_PROTOCOL_OUTDATED: {
    severity: 'warning',
    message: '{host} ({ip}) port {port} only speaks {version}',
    remediation: 'Enable TLS 1.2 and 1.3 on the server; TLS 1.0 and 1.1 are deprecated (RFC 8996) and refused by current senders.',
  },
  AUTH_BEFORE_TLS: {
    severity: 'warning',
    message: '{host} ({ip}) port {port} offers AUTH ({mechanisms}) before TLS',
    remediation: 'Advertise AUTH only after STARTTLS (Postfix: smtpd_tls_auth_only = yes; Exim: auth_advertise_hosts = ${if eq{$tls_in_cipher}{}{}{*}}) so passwords never travel in clear text.',
  },
} as const satisfies FindingSpecs;
