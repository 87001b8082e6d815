import type { FindingSpecs } from '../probe-definition.js';

/** Finding codes of the `smtp` probe (reachability, banner, EHLO). */
export const SMTP_FINDINGS = {
  SMTP_PORT_UNREACHABLE: {
    severity: 'critical',
    message: 'Port {port} on {host} ({ip}) is unreachable: {error}',
    remediation: 'Check that the mail server listens on this port and that firewalls and security groups let inbound TCP {port} through.',
  },
  SMTP_BANNER_REJECT: {
    severity: 'critical',
    message: '{host} ({ip}) port {port} rejects connections at the banner: {reply}',
    remediation: 'The server answers with a permanent error (5xx) to every new connection. Check its access rules (client restrictions, postscreen, rate limits) and that it is not in maintenance mode.',
  },
  SMTP_SLOW_BANNER: {
    severity: 'warning',
    message: '{host} ({ip}) port {port} took {bannerMs} ms to send its banner',
    remediation: 'A banner slower than a few seconds makes senders time out or retry. Check reverse-DNS lookups, overloaded hosts or an intentional greet delay (postscreen) that is too long.',
  },
  SMTP_EHLO_FAILED: {
    severity: 'warning',
    message: '{host} ({ip}) port {port} did not accept EHLO: {reply}',
    remediation: 'Modern senders require ESMTP (EHLO, RFC 5321). Enable ESMTP on the server and check HELO/EHLO restrictions.',
  },
  SUBMISSION_HOST_PRIVATE_IP: {
    severity: 'warning',
    message: 'Submission host {host} resolves to {ip}, a {range} address: users outside your network cannot reach port {port}',
    remediation: 'Publish the public address of the submission server (split-horizon DNS leaking internal records is a common cause); if the host is internal on purpose, remove it from the domain\'s submissionHosts or from the _submission._tcp SRV record.',
  },
} as const satisfies FindingSpecs;
