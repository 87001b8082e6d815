import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric of mxwatch, in one place. Names and labels are a public contract (dashboards,
 * alert rules): see README "Metrics". Per-host facts are keyed by host/ip/port, never by
 * domain, so a provider serving thousands of domains is one series; domains join through
 * mxwatch_domain_mx_info. No label ever carries free text such as an error message.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges named *_total break the exposition conventions (promtool check metrics fails the
  // scrape); the same counts stay available as nodejs_active_handles / _requests / _resources.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  const r = [registry];
  return {
    registry,
    probeSuccess: new Gauge({ name: 'mxwatch_probe_success', help: 'Whether the probe passed for the domain at its last check (1 pass or warn, 0 fail; absent when untestable)', labelNames: ['domain', 'probe'] as const, registers: r }),
    probeDuration: new Histogram({ name: 'mxwatch_probe_duration_seconds', help: 'Duration of one probe on one target', labelNames: ['probe'] as const, buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: r }),
    probeRuns: new Counter({ name: 'mxwatch_probe_runs_total', help: 'Probe results recorded, by probe and status', labelNames: ['probe', 'status'] as const, registers: r }),
    domainMxInfo: new Gauge({ name: 'mxwatch_domain_mx_info', help: 'MX hosts of each domain (value 1), to join per-host series to domains', labelNames: ['domain', 'mx', 'preference'] as const, registers: r }),
    mxRecords: new Gauge({ name: 'mxwatch_mx_records', help: 'Number of MX records of the domain (0 when none or null MX)', labelNames: ['domain'] as const, registers: r }),
    smtpPortOpen: new Gauge({ name: 'mxwatch_smtp_port_open', help: 'Whether the SMTP port accepted a TCP connection', labelNames: ['host', 'ip', 'port'] as const, registers: r }),
    starttlsSupported: new Gauge({ name: 'mxwatch_starttls_supported', help: 'Whether TLS works on the port (STARTTLS offered and handshake completed, or implicit TLS on 465)', labelNames: ['host', 'ip', 'port'] as const, registers: r }),
    certNotAfter: new Gauge({ name: 'mxwatch_tls_cert_not_after_timestamp_seconds', help: 'Expiry of the certificate served on the port (unix time), kept even when the certificate is invalid', labelNames: ['host', 'ip', 'port'] as const, registers: r }),
    tlsVersionInfo: new Gauge({ name: 'mxwatch_tls_version_info', help: 'TLS version negotiated on the port (value 1)', labelNames: ['host', 'ip', 'port', 'version'] as const, registers: r }),
    dnsblListed: new Gauge({ name: 'mxwatch_dnsbl_listed', help: 'Whether the address or domain is listed on the zone (1 listed, 0 clean; absent when the list did not answer)', labelNames: ['ip', 'zone'] as const, registers: r }),
    dnsblErrors: new Counter({ name: 'mxwatch_dnsbl_errors_total', help: 'DNSBL queries that gave no usable answer, by zone and reason', labelNames: ['zone', 'reason'] as const, registers: r }),
    findingsOpen: new Gauge({ name: 'mxwatch_findings_open', help: 'Open findings by severity and code', labelNames: ['severity', 'code'] as const, registers: r }),
    domainFindingsOpen: new Gauge({ name: 'mxwatch_domain_findings_open', help: 'Open findings of each domain by severity', labelNames: ['domain', 'severity'] as const, registers: r }),
    lastCheck: new Gauge({ name: 'mxwatch_last_check_timestamp_seconds', help: 'When the last check of the domain finished (unix time)', labelNames: ['domain'] as const, registers: r }),
    checkRuns: new Counter({ name: 'mxwatch_check_runs_total', help: 'Domain checks finished, by trigger and worst status', labelNames: ['trigger', 'status'] as const, registers: r }),
    checkDuration: new Histogram({ name: 'mxwatch_check_duration_seconds', help: 'Duration of one whole domain check', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: r }),
    domains: new Gauge({ name: 'mxwatch_domains', help: 'Monitored domains by state', labelNames: ['state'] as const, registers: r }),
    schedulerLag: new Gauge({ name: 'mxwatch_scheduler_lag_seconds', help: 'How overdue the most overdue enabled domain is (0 when none is due)', registers: r }),
    outboundBlocked: new Gauge({ name: 'mxwatch_smtp_outbound_blocked', help: '1 when every recent port-25 probe failed the same way: our own outbound port 25 is likely blocked', registers: r }),
    notifications: new Counter({ name: 'mxwatch_notifications_total', help: 'Notification deliveries by channel and final status', labelNames: ['channel', 'status'] as const, registers: r }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
