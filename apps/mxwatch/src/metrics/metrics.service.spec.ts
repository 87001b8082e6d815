import { describe, expect, it } from 'vitest';
import type { CompletedCheck } from '../runtime/check-runner.service.js';
import type { DomainRow } from '../storage/domains.repository.js';
import type { ProbeResult, ProbeStatus } from '../probes/probe.types.js';
import type { AppConfig } from '../config/config.types.js';
import type { ScrapeFacts } from '../storage/metrics.repository.js';
import { isDatabaseUnavailable } from '../storage/database-errors.js';
import { fleetSource, MetricsService, QUEUE_STATES } from './metrics.service.js';
import { FleetGauge } from './fleet-gauge.js';

const T0 = new Date('2026-05-01T10:00:00.000Z');

interface HostSpec {
  host: string;
  ip: string;
  preference?: number;
  /** default: open, pass */
  smtp?: { status?: ProbeStatus; open?: boolean; reason?: string };
  /** null: no STARTTLS result (session never reached EHLO) */
  starttls?: { status?: ProbeStatus; offered?: boolean; handshakeOk?: boolean; tlsVersion?: string | null; notAfter?: string | null } | null;
}

interface DnsblSpec {
  subject: string;
  zone: string;
  state: 'listed' | 'clean' | 'error';
  /** the result's reason (`dns_timeout`) */
  reason?: string;
  /** the list's own machine reason (`timeout`, `query_refused_by_list`) */
  errorReason?: string;
}

interface CheckSpec {
  hosts: HostSpec[];
  dnsbl?: DnsblSpec[];
  mxStatus?: ProbeStatus;
  trigger?: 'manual' | 'schedule';
  at?: Date;
  enabled?: boolean;
}

function result<D extends object>(probe: ProbeResult['probe'], target: string, status: ProbeStatus, details: D, reason?: string): ProbeResult<D> {
  return { probe, target, status, ...(reason ? { reason } : {}), startedAt: T0, durationMs: 12, details, observations: [] };
}

function completed(name: string, spec: CheckSpec): CompletedCheck {
  const mxStatus = spec.mxStatus ?? 'pass';
  const mx = result('mx', name, mxStatus, {
    domain: name,
    nullMx: false,
    implicit: false,
    hosts: mxStatus === 'untestable' ? [] : spec.hosts.map((h) => ({ host: h.host, preference: h.preference ?? 10, addresses: [h.ip], cname: null, ipLiteral: false, resolveError: null })),
  });
  const results: ProbeResult[] = [mx];
  if (mxStatus !== 'untestable') {
    for (const h of spec.hosts) {
      const target = `${h.host}[${h.ip}]:25`;
      const smtp = { status: 'pass' as ProbeStatus, open: true, ...h.smtp };
      results.push(result('smtp', target, smtp.status, { host: h.host, ip: h.ip, port: 25, role: 'mx', open: smtp.open }, smtp.reason));
      if (h.starttls !== null) {
        const s = { status: 'pass' as ProbeStatus, offered: true, handshakeOk: true, tlsVersion: 'TLSv1.3', notAfter: '2027-01-01T00:00:00.000Z', ...h.starttls };
        results.push(
          result('starttls', target, s.status, {
            host: h.host,
            ip: h.ip,
            port: 25,
            offered: s.offered,
            handshakeOk: s.handshakeOk,
            tlsVersion: s.tlsVersion,
            cert: s.notAfter ? { notAfter: s.notAfter } : null,
          }),
        );
      }
    }
  }
  for (const d of spec.dnsbl ?? []) {
    const status: ProbeStatus = d.state === 'listed' ? 'fail' : d.state === 'clean' ? 'pass' : 'untestable';
    results.push(result('dnsbl', `${d.subject}@${d.zone}`, status, { subject: d.subject, zone: d.zone, state: d.state, error: d.state === 'error' ? `free text about ${d.subject}` : null, errorReason: d.errorReason ?? null }, d.reason));
  }
  const at = spec.at ?? T0;
  const worst = (['fail', 'warn', 'untestable', 'pass'] as ProbeStatus[]).find((s) => results.some((r) => r.status === s)) ?? 'pass';
  return {
    domain: { id: `id-${name}`, name, enabled: spec.enabled ?? true } as DomainRow,
    trigger: spec.trigger ?? 'schedule',
    results,
    opened: [],
    resolved: [],
    startedAt: at,
    finishedAt: new Date(at.getTime() + 1500),
    status: worst,
    policyStates: new Map(),
  };
}

/** recordCheck and forgetDomain use none of the collaborators (they serve the Nest wiring and scrape). */
function service(config: Partial<AppConfig> = {}, queue?: { getJobCounts(...s: string[]): Promise<Record<string, number>> }): MetricsService {
  const Ctor = MetricsService as unknown as new (...args: unknown[]) => MetricsService;
  const facts: ScrapeFacts = { findingsBySeverityCode: [{ severity: 'critical', code: 'MX_MISSING', count: 1 }], findingsByDomainSeverity: [], domains: { enabled: 1, disabled: 0 }, mostOverdue: null };
  return new Ctor({ on: () => () => {} }, { scrapeFacts: async () => facts }, { scheduler: true, ...config }, undefined, queue);
}

/** A stored run as the database feed applies it. */
function stored(name: string, spec: CheckSpec) {
  const c = completed(name, spec);
  for (const r of c.results) r.startedAt = c.startedAt;
  return { domain: name, startedAt: c.startedAt, finishedAt: c.finishedAt, results: c.results };
}

type Series = Record<string, string> & { value: string };

/** The registry's own text exposition of one metric, parsed back into label sets. */
async function series(svc: MetricsService, name: string, sample = name): Promise<Series[]> {
  const text = await svc.m.registry.getSingleMetricAsString(name);
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== sample) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ ...labels, value: m[3]! } as Series);
  }
  return out;
}

const hostsOf = async (svc: MetricsService, name: string) => [...new Set((await series(svc, name)).map((s) => s.host))].sort();

const MX1 = { host: 'mx1.shared.test', ip: '127.0.0.11' };
const MX2 = { host: 'mx2.shared.test', ip: '127.0.0.12', preference: 20 };
const PER_HOST = ['mxwatch_smtp_port_open', 'mxwatch_starttls_supported', 'mxwatch_tls_cert_not_after_timestamp_seconds', 'mxwatch_tls_version_info'];

describe(MetricsService.name, () => {
  it('should publish per-domain and per-host series for a check', async () => {
    const svc = service();
    svc.recordCheck(completed('alpha.test', { hosts: [MX1, MX2], dnsbl: [{ subject: '127.0.0.11', zone: 'bl.test', state: 'clean' }] }));

    expect(await series(svc, 'mxwatch_probe_success')).toEqual(
      expect.arrayContaining([
        { domain: 'alpha.test', probe: 'mx', value: '1' },
        { domain: 'alpha.test', probe: 'smtp', value: '1' },
        { domain: 'alpha.test', probe: 'starttls', value: '1' },
        { domain: 'alpha.test', probe: 'dnsbl', value: '1' },
      ]),
    );
    expect(await series(svc, 'mxwatch_last_check_timestamp_seconds')).toEqual([{ domain: 'alpha.test', value: String((T0.getTime() + 1500) / 1000) }]);
    expect(await series(svc, 'mxwatch_mx_records')).toEqual([{ domain: 'alpha.test', value: '2' }]);
    expect(await series(svc, 'mxwatch_domain_mx_info')).toEqual([
      { domain: 'alpha.test', mx: 'mx1.shared.test', preference: '10', value: '1' },
      { domain: 'alpha.test', mx: 'mx2.shared.test', preference: '20', value: '1' },
    ]);
    expect(await series(svc, 'mxwatch_smtp_port_open')).toEqual([
      { host: 'mx1.shared.test', ip: '127.0.0.11', port: '25', value: '1' },
      { host: 'mx2.shared.test', ip: '127.0.0.12', port: '25', value: '1' },
    ]);
    expect(await series(svc, 'mxwatch_tls_version_info')).toEqual([
      { host: 'mx1.shared.test', ip: '127.0.0.11', port: '25', version: 'TLSv1.3', value: '1' },
      { host: 'mx2.shared.test', ip: '127.0.0.12', port: '25', version: 'TLSv1.3', value: '1' },
    ]);
    expect((await series(svc, 'mxwatch_tls_cert_not_after_timestamp_seconds'))[0]!.value).toBe(String(Date.parse('2027-01-01T00:00:00.000Z') / 1000));
    expect(await series(svc, 'mxwatch_dnsbl_listed')).toEqual([{ ip: '127.0.0.11', zone: 'bl.test', value: '0' }]);
    expect(await series(svc, 'mxwatch_check_runs_total')).toEqual([{ trigger: 'schedule', status: 'pass', value: '1' }]);
  });

  it('should keep a shared host series while any domain mentions it and drop it with the last one', async () => {
    const svc = service();
    const listing = { subject: '127.0.0.11', zone: 'bl.test', state: 'listed' as const };
    svc.recordCheck(completed('alpha.test', { hosts: [MX1, MX2], dnsbl: [listing] }));
    svc.recordCheck(completed('beta.test', { hosts: [MX1], dnsbl: [listing] }));
    // Re-checking a domain must not count its references twice.
    svc.recordCheck(completed('beta.test', { hosts: [MX1], dnsbl: [listing] }));

    svc.forgetDomain('beta.test');
    for (const name of PER_HOST) expect(await hostsOf(svc, name)).toEqual(['mx1.shared.test', 'mx2.shared.test']);
    expect(await series(svc, 'mxwatch_dnsbl_listed')).toEqual([{ ip: '127.0.0.11', zone: 'bl.test', value: '1' }]);
    for (const name of ['mxwatch_probe_success', 'mxwatch_last_check_timestamp_seconds', 'mxwatch_mx_records', 'mxwatch_domain_mx_info']) {
      expect((await series(svc, name)).map((s) => s.domain)).not.toContain('beta.test');
    }

    svc.forgetDomain('alpha.test');
    for (const name of [...PER_HOST, 'mxwatch_dnsbl_listed', 'mxwatch_probe_success', 'mxwatch_last_check_timestamp_seconds', 'mxwatch_mx_records', 'mxwatch_domain_mx_info']) {
      expect(await series(svc, name), name).toEqual([]);
    }
    // Forgetting twice, or a domain never checked, is harmless.
    svc.forgetDomain('alpha.test');
    svc.forgetDomain('never.test');
  });

  it('should drop a host that left the MX set at the next check unless another domain still uses it', async () => {
    const svc = service();
    svc.recordCheck(completed('alpha.test', { hosts: [MX1, MX2] }));
    svc.recordCheck(completed('gamma.test', { hosts: [MX2] }));
    svc.recordCheck(completed('alpha.test', { hosts: [MX1] }));
    expect(await hostsOf(svc, 'mxwatch_smtp_port_open')).toEqual(['mx1.shared.test', 'mx2.shared.test']);
    expect((await series(svc, 'mxwatch_domain_mx_info')).filter((s) => s.domain === 'alpha.test').map((s) => s.mx)).toEqual(['mx1.shared.test']);
    expect(await series(svc, 'mxwatch_mx_records')).toContainEqual({ domain: 'alpha.test', value: '1' });

    svc.recordCheck(completed('gamma.test', { hosts: [MX1] }));
    for (const name of PER_HOST) expect(await hostsOf(svc, name), name).toEqual(['mx1.shared.test']);
  });

  it('should replace the TLS version series when the negotiated version changes, whichever domain saw it', async () => {
    const svc = service();
    svc.recordCheck(completed('alpha.test', { hosts: [{ ...MX1, starttls: { tlsVersion: 'TLSv1.2' } }] }));
    svc.recordCheck(completed('beta.test', { hosts: [{ ...MX1, starttls: { tlsVersion: 'TLSv1.3' } }] }));
    expect(await series(svc, 'mxwatch_tls_version_info')).toEqual([{ host: 'mx1.shared.test', ip: '127.0.0.11', port: '25', version: 'TLSv1.3', value: '1' }]);

    // The handshake stops working: no version is negotiated any more.
    svc.recordCheck(completed('alpha.test', { hosts: [{ ...MX1, starttls: { status: 'fail', handshakeOk: false, tlsVersion: null, notAfter: null } }] }));
    expect(await series(svc, 'mxwatch_tls_version_info')).toEqual([]);
    expect(await series(svc, 'mxwatch_starttls_supported')).toEqual([{ host: 'mx1.shared.test', ip: '127.0.0.11', port: '25', value: '0' }]);
  });

  it('should keep a host series that the same result sets again, and set it anew when its value changes or it went missing', async () => {
    const svc = service();
    svc.recordCheck(completed('alpha.test', { hosts: [MX1] }));
    const before = await series(svc, 'mxwatch_tls_cert_not_after_timestamp_seconds');
    // Every domain on a provider's MX brings the same result about it: nothing changes.
    svc.recordCheck(completed('beta.test', { hosts: [MX1] }));
    svc.recordCheck(completed('gamma.test', { hosts: [MX1] }));
    expect(await series(svc, 'mxwatch_tls_cert_not_after_timestamp_seconds')).toEqual(before);
    // A new certificate: the value follows.
    svc.recordCheck(completed('beta.test', { hosts: [{ ...MX1, starttls: { notAfter: '2028-01-01T00:00:00.000Z' } }] }));
    expect((await series(svc, 'mxwatch_tls_cert_not_after_timestamp_seconds')).map((x) => x.value)).toEqual([String(Date.parse('2028-01-01T00:00:00.000Z') / 1000)]);
    // A series gone from its gauge (a reset) is set again by the next result, though that result is the same.
    svc.m.registry.getSingleMetric('mxwatch_starttls_supported')!.reset();
    svc.recordCheck(completed('gamma.test', { hosts: [{ ...MX1, starttls: { notAfter: '2028-01-01T00:00:00.000Z' } }] }));
    expect(await series(svc, 'mxwatch_starttls_supported')).toEqual([{ host: 'mx1.shared.test', ip: '127.0.0.11', port: '25', value: '1' }]);
    // And the host still goes with the last domain that mentions it.
    for (const d of ['alpha.test', 'beta.test', 'gamma.test']) svc.forgetDomain(d);
    for (const name of PER_HOST) expect(await series(svc, name), name).toEqual([]);
  });

  it('should drop the certificate expiry of a port that no longer serves a certificate', async () => {
    const svc = service();
    svc.recordCheck(completed('alpha.test', { hosts: [MX1] }));
    expect(await series(svc, 'mxwatch_tls_cert_not_after_timestamp_seconds')).toHaveLength(1);
    svc.recordCheck(completed('alpha.test', { hosts: [{ ...MX1, starttls: { status: 'fail', offered: false, handshakeOk: false, tlsVersion: null, notAfter: null } }] }));
    expect(await series(svc, 'mxwatch_starttls_supported')).toEqual([{ host: 'mx1.shared.test', ip: '127.0.0.11', port: '25', value: '0' }]);
    expect(await series(svc, 'mxwatch_tls_cert_not_after_timestamp_seconds')).toEqual([]);
  });

  it('should remove probe_success and dnsbl_listed when the probe could not test, and count DNSBL errors', async () => {
    const svc = service();
    svc.recordCheck(completed('solo.test', { hosts: [MX1], dnsbl: [{ subject: '127.0.0.11', zone: 'bl.test', state: 'listed' }] }));
    expect(await series(svc, 'mxwatch_dnsbl_listed')).toEqual([{ ip: '127.0.0.11', zone: 'bl.test', value: '1' }]);
    expect((await series(svc, 'mxwatch_probe_success')).find((s) => s.probe === 'dnsbl')?.value).toBe('0');

    svc.recordCheck(
      completed('solo.test', {
        hosts: [{ ...MX1, smtp: { status: 'untestable', open: false, reason: 'network_unreachable' }, starttls: null }],
        dnsbl: [{ subject: '127.0.0.11', zone: 'bl.test', state: 'error', reason: 'dns_timeout', errorReason: 'timeout' }],
      }),
    );
    const probes = (await series(svc, 'mxwatch_probe_success')).map((s) => s.probe).sort();
    expect(probes).toEqual(['mx']);
    expect(await series(svc, 'mxwatch_dnsbl_listed')).toEqual([]);
    expect(await series(svc, 'mxwatch_smtp_port_open')).toEqual([]);
    expect(await series(svc, 'mxwatch_starttls_supported')).toEqual([]);
    expect(await series(svc, 'mxwatch_dnsbl_errors_total')).toEqual([{ zone: 'bl.test', reason: 'timeout', value: '1' }]);

    svc.recordCheck(completed('solo.test', { hosts: [MX1], dnsbl: [{ subject: '127.0.0.11', zone: 'bl.test', state: 'error', reason: 'dns_timeout', errorReason: 'timeout' }] }));
    expect(await series(svc, 'mxwatch_dnsbl_errors_total')).toEqual([{ zone: 'bl.test', reason: 'timeout', value: '2' }]);
    expect(await series(svc, 'mxwatch_probe_runs_total')).toContainEqual({ probe: 'dnsbl', status: 'untestable', value: '2' });
  });

  it('should label DNSBL errors with the documented machine reason, never with free text', async () => {
    const svc = service();
    svc.recordCheck(
      completed('solo.test', {
        hosts: [MX1],
        dnsbl: [
          { subject: '127.0.0.11', zone: 'zen.spamhaus.org', state: 'error', reason: 'dnsbl_query_refused', errorReason: 'query_refused_by_list' },
          { subject: '127.0.0.11', zone: 'bl.test', state: 'error', reason: 'zone_unhealthy', errorReason: 'zone_unhealthy' },
          { subject: '127.0.0.11', zone: 'other.test', state: 'error' },
        ],
      }),
    );
    // deploy/prometheus/alerts.yml and the README select on these values.
    expect((await series(svc, 'mxwatch_dnsbl_errors_total')).sort((a, b) => a.zone!.localeCompare(b.zone!))).toEqual([
      { zone: 'bl.test', reason: 'zone_unhealthy', value: '1' },
      { zone: 'other.test', reason: 'error', value: '1' },
      { zone: 'zen.spamhaus.org', reason: 'query_refused_by_list', value: '1' },
    ]);
  });

  it('should keep the MX series it knew when the MX lookup itself was untestable', async () => {
    const svc = service();
    svc.recordCheck(completed('alpha.test', { hosts: [MX1, MX2] }));
    svc.recordCheck(completed('alpha.test', { hosts: [MX1, MX2], mxStatus: 'untestable' }));
    expect((await series(svc, 'mxwatch_domain_mx_info')).map((s) => s.mx)).toEqual(['mx1.shared.test', 'mx2.shared.test']);
    expect(await series(svc, 'mxwatch_mx_records')).toEqual([{ domain: 'alpha.test', value: '2' }]);
    expect(await series(svc, 'mxwatch_probe_success')).toEqual([]);
    svc.forgetDomain('alpha.test');
    expect(await series(svc, 'mxwatch_domain_mx_info')).toEqual([]);
  });

  it('should not let a check that was running when its domain was disabled bring the series back', async () => {
    const svc = service();
    const startedBefore = new Date(Date.now() - 5_000);
    svc.recordCheck(completed('alpha.test', { hosts: [MX1], at: new Date(startedBefore.getTime() - 60_000) }));
    svc.forgetDomain('alpha.test');
    svc.recordCheck(completed('alpha.test', { hosts: [MX1], at: startedBefore }));
    for (const name of ['mxwatch_probe_success', 'mxwatch_last_check_timestamp_seconds', 'mxwatch_domain_mx_info', 'mxwatch_mx_records', ...PER_HOST]) {
      expect(await series(svc, name), name).toEqual([]);
    }
    // The work was still done: the process-wide counters count it.
    expect((await series(svc, 'mxwatch_check_runs_total'))[0]?.value).toBe('2');

    // Re-enabled: its next check is recorded as usual.
    svc.recordCheck(completed('alpha.test', { hosts: [MX1], at: new Date(Date.now() + 1) }));
    expect(await series(svc, 'mxwatch_last_check_timestamp_seconds')).toHaveLength(1);
    expect(await hostsOf(svc, 'mxwatch_smtp_port_open')).toEqual(['mx1.shared.test']);
  });

  it('should publish no domain or host series for a manual check of a disabled domain', async () => {
    const svc = service();
    svc.recordCheck(completed('off.test', { hosts: [MX1], trigger: 'manual', enabled: false }));
    for (const name of ['mxwatch_probe_success', 'mxwatch_last_check_timestamp_seconds', 'mxwatch_domain_mx_info', 'mxwatch_mx_records', ...PER_HOST]) {
      expect(await series(svc, name), name).toEqual([]);
    }
    expect(await series(svc, 'mxwatch_check_runs_total')).toEqual([{ trigger: 'manual', status: 'pass', value: '1' }]);
  });

  it('should count check runs by trigger and worst status', async () => {
    const svc = service();
    svc.recordCheck(completed('alpha.test', { hosts: [MX1], trigger: 'manual' }));
    svc.recordCheck(completed('alpha.test', { hosts: [MX1], dnsbl: [{ subject: '127.0.0.11', zone: 'bl.test', state: 'listed' }] }));
    svc.recordCheck(completed('beta.test', { hosts: [MX1] }));
    expect((await series(svc, 'mxwatch_check_runs_total')).sort((a, b) => (a.trigger + a.status).localeCompare(b.trigger + b.status))).toEqual([
      { trigger: 'manual', status: 'pass', value: '1' },
      { trigger: 'schedule', status: 'fail', value: '1' },
      { trigger: 'schedule', status: 'pass', value: '1' },
    ]);
    expect((await series(svc, 'mxwatch_check_duration_seconds', 'mxwatch_check_duration_seconds_count'))[0]?.value).toBe('3');
  });

  it('should count the run statements sent again after a conflict, by reason', async () => {
    const listeners: Array<(reason: 'deadlock' | 'serialization') => void> = [];
    const checks = { onConflictRetry: (l: (reason: 'deadlock' | 'serialization') => void) => listeners.push(l) };
    const Ctor = MetricsService as unknown as new (...args: unknown[]) => MetricsService;
    const svc = new Ctor({ on: () => () => {} }, { scrapeFacts: async () => ({}) }, { scheduler: true }, undefined, undefined, checks);
    svc.onModuleInit();
    expect(listeners).toHaveLength(1);
    listeners[0]!('deadlock');
    listeners[0]!('deadlock');
    listeners[0]!('serialization');
    expect((await series(svc, 'mxwatch_check_runs_store_retries_total')).sort((a, b) => a.reason!.localeCompare(b.reason!))).toEqual([
      { reason: 'deadlock', value: '2' },
      { reason: 'serialization', value: '1' },
    ]);
  });

  it('should answer scrapes during a database outage with the facts last read, and say the database is down', async () => {
    const Ctor = MetricsService as unknown as new (...args: unknown[]) => MetricsService;
    const facts: ScrapeFacts = { findingsBySeverityCode: [{ severity: 'critical', code: 'MX_MISSING', count: 3 }], findingsByDomainSeverity: [], domains: { enabled: 7, disabled: 0 }, mostOverdue: null };
    let fail: Error | null = null;
    const repo = { scrapeFacts: async () => (fail ? Promise.reject(fail) : facts) };
    // DatabaseOutage as the service has it: it tells an outage from other errors and remembers it.
    const outage = { down: false, onDropped: () => undefined, failed(e: unknown) { this.down ||= isDatabaseUnavailable(e); return this.down; } };
    const svc = new Ctor({ on: () => () => {} }, repo, { scheduler: true }, outage);
    await svc.scrape();
    expect(await series(svc, 'mxwatch_database_up')).toEqual([{ value: '1' }]);
    fail = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    await expect(svc.scrape()).resolves.toBeDefined();
    expect(await series(svc, 'mxwatch_database_up')).toEqual([{ value: '0' }]);
    expect(await series(svc, 'mxwatch_findings_open')).toEqual([{ severity: 'critical', code: 'MX_MISSING', value: '3' }]);
    expect(await series(svc, 'mxwatch_domains')).toEqual([{ state: 'enabled', value: '7' }, { state: 'disabled', value: '0' }]);
    // Any other error is a fault, not an outage: the scrape fails as before.
    outage.down = false;
    fail = new TypeError('boom');
    await expect(svc.scrape()).rejects.toThrow('boom');
  });

  it('should count the queued checks the scheduler enqueued again after Redis lost them', async () => {
    const listeners: Array<(jobs: number) => void> = [];
    const recovery = { onRecovered: (l: (jobs: number) => void) => listeners.push(l) };
    const Ctor = MetricsService as unknown as new (...args: unknown[]) => MetricsService;
    const svc = new Ctor({ on: () => () => {} }, { scrapeFacts: async () => ({}) }, { scheduler: true }, undefined, undefined, undefined, recovery);
    svc.onModuleInit();
    expect(await series(svc, 'mxwatch_queue_jobs_recovered_total')).toEqual([{ value: '0' }]);
    listeners[0]!(20);
    listeners[0]!(3);
    expect(await series(svc, 'mxwatch_queue_jobs_recovered_total')).toEqual([{ value: '23' }]);
  });

  describe('fed from the database', () => {
    const at = (s: number) => new Date(T0.getTime() + s * 1000);
    const tls = async (svc: MetricsService) => (await series(svc, 'mxwatch_tls_version_info')).map((x) => `${x.host} ${x.version}`).sort();

    it('should only count the checks this process runs, and take fleet series from stored runs', async () => {
      const svc = service({ role: 'api' });
      svc.recordCheck(completed('alpha.test', { hosts: [MX1] }));
      expect(await series(svc, 'mxwatch_probe_success')).toEqual([]);
      expect(await series(svc, 'mxwatch_smtp_port_open')).toEqual([]);
      expect(await series(svc, 'mxwatch_check_runs_total')).toEqual([{ trigger: 'schedule', status: 'pass', value: '1' }]);

      svc.applyRun(stored('alpha.test', { hosts: [MX1] }));
      expect(await hostsOf(svc, 'mxwatch_smtp_port_open')).toEqual(['mx1.shared.test']);
      expect((await series(svc, 'mxwatch_check_runs_total'))[0]?.value).toBe('1');
    });

    it("should keep a domain's series when a stored result has a shape its probe does not know, instead of failing the feed", async () => {
      const svc = service({ role: 'api' });
      svc.applyRun(stored('alpha.test', { hosts: [MX1], at: at(10) }));
      const before = await series(svc, 'mxwatch_mx_records');
      expect(before).toEqual([{ domain: 'alpha.test', value: '1' }]);
      // An MX result without its hosts, as an earlier version or a hand-made row could have stored it.
      const odd = stored('alpha.test', { hosts: [MX1], at: at(20) });
      odd.results = odd.results.map((r) => (r.probe === 'mx' ? { ...r, details: { synthetic: true } } : r));
      expect(() => svc.applyRun(odd)).not.toThrow();
      expect(await series(svc, 'mxwatch_mx_records')).toEqual(before);
      expect(await hostsOf(svc, 'mxwatch_smtp_port_open')).toEqual(['mx1.shared.test']);
    });

    it('should show the latest result about a host by its time, whatever order the runs come in', async () => {
      const older = stored('beta.test', { hosts: [{ ...MX1, starttls: { tlsVersion: 'TLSv1.3' } }], at: at(20) });
      const newer = stored('alpha.test', { hosts: [{ ...MX1, starttls: { tlsVersion: 'TLSv1.2' } }], at: at(30) });
      const one = service({ role: 'api' });
      one.applyRun(older);
      one.applyRun(newer);
      const other = service({ role: 'api' });
      other.applyRun(newer);
      other.applyRun(older);
      expect(await tls(one)).toEqual(['mx1.shared.test TLSv1.2']);
      expect(await tls(other)).toEqual(['mx1.shared.test TLSv1.2']);
      expect(one.takeReapply()).toEqual(new Set());
    });

    it('should ask for the run of the domain with the best remaining result when the one shown lets go of the host', async () => {
      const svc = service({ role: 'api' });
      svc.applyRun(stored('beta.test', { hosts: [{ ...MX1, starttls: { tlsVersion: 'TLSv1.3' } }], at: at(20) }));
      svc.applyRun(stored('gamma.test', { hosts: [{ ...MX1, starttls: { tlsVersion: 'TLSv1.3' } }], at: at(10) }));
      svc.applyRun(stored('alpha.test', { hosts: [{ ...MX1, starttls: { tlsVersion: 'TLSv1.2' } }], at: at(30) }));
      svc.applyRun(stored('alpha.test', { hosts: [MX2], at: at(40) }));
      // Still shown until the feed applies beta's run again; then it is beta's.
      expect(svc.takeReapply()).toEqual(new Set(['beta.test']));
      svc.applyRun(stored('beta.test', { hosts: [{ ...MX1, starttls: { tlsVersion: 'TLSv1.3' } }], at: at(20) }));
      expect(await tls(svc)).toEqual(['mx1.shared.test TLSv1.3', 'mx2.shared.test TLSv1.3']);
      svc.dropDomain('beta.test');
      svc.dropDomain('gamma.test');
      expect(await hostsOf(svc, 'mxwatch_smtp_port_open')).toEqual(['mx2.shared.test']);
    });

    it('should say which probes of a run keep earlier series', () => {
      const svc = service({ role: 'api' });
      expect(svc.keepProbes(stored('alpha.test', { hosts: [MX1], mxStatus: 'untestable' }))).toEqual(new Set(['mx']));
      expect(svc.keepProbes(stored('alpha.test', { hosts: [MX1] }))).toEqual(new Set());
    });
  });

  it('should keep the rendering of its fleet series only where it runs no checks', async () => {
    const rendered = (svc: MetricsService) => Object.values(svc.m).reduce((n, g) => n + (g instanceof FleetGauge ? g.pagesRendered : 0), 0);
    // The fleet's series (the process's own change from one scrape to the next).
    const fleet = async (svc: MetricsService) => (await svc.scrape()).body.toString().split('\n').filter((l) => l.startsWith('mxwatch_')).join('\n');
    const api = service({ role: 'api' });
    api.applyRun(stored('alpha.test', { hosts: [MX1] }));
    const first = await fleet(api);
    const pages = rendered(api);
    expect(pages).toBeGreaterThan(0);
    expect(await fleet(api)).toBe(first);
    expect(rendered(api)).toBe(pages);
    api.applyRun(stored('alpha.test', { hosts: [MX1], mxStatus: 'fail', at: new Date(T0.getTime() + 60_000) }));
    const second = await fleet(api);
    expect(second).not.toBe(first);
    expect(rendered(api)).toBeGreaterThan(pages);
    expect(api.m.lastCheck.pagesToRender()).not.toBeNull();
    const all = service({});
    all.recordCheck(completed('alpha.test', { hosts: [MX1] }));
    await all.scrape();
    expect(all.m.lastCheck.pagesToRender()).toBeNull();
    expect(rendered(all)).toBe(0);
  });

  it('should take its fleet series from its own checks alone, from the database, or not at all, by role', () => {
    const table: Array<[Partial<AppConfig>, string]> = [
      [{}, 'events'],
      [{ role: 'all', scheduler: false }, 'events'],
      [{ role: 'all', redisUrl: 'redis://r' }, 'database'],
      [{ role: 'api' }, 'database'],
      [{ role: 'api', redisUrl: 'redis://r' }, 'database'],
      [{ role: 'worker' }, 'none'],
      [{ role: 'worker', redisUrl: 'redis://r' }, 'none'],
    ];
    for (const [config, source] of table) expect(fleetSource({ scheduler: true, ...config } as AppConfig), JSON.stringify(config)).toBe(source);
  });

  it("should export the shared queue's job counts, and none when Redis does not answer", async () => {
    let answer: () => Promise<Record<string, number>> = async () => ({ waiting: 3, active: 2, delayed: 1, failed: 4, completed: 9, paused: 0, prioritized: 0 });
    const svc = service({ role: 'api', redisUrl: 'redis://r' }, { getJobCounts: (...states) => (expect(states).toEqual([...QUEUE_STATES]), answer()) });
    let text = (await svc.scrape()).body.toString();
    expect(text.split('\n').filter((l) => l.startsWith('mxwatch_queue_jobs{'))).toEqual([
      'mxwatch_queue_jobs{state="waiting"} 3',
      'mxwatch_queue_jobs{state="active"} 2',
      'mxwatch_queue_jobs{state="delayed"} 1',
      'mxwatch_queue_jobs{state="prioritized"} 0',
      'mxwatch_queue_jobs{state="paused"} 0',
      'mxwatch_queue_jobs{state="failed"} 4',
      'mxwatch_queue_jobs{state="completed"} 9',
    ]);
    answer = () => Promise.reject(new Error('Connection is closed.'));
    text = (await svc.scrape()).body.toString();
    expect(text).not.toMatch(/^mxwatch_queue_jobs\{/m);
  });

  it('should count domains per probe outcome and per policy state, also with per-domain series off, and keep the counts right as domains change and leave', async () => {
    for (const metricsPerDomain of [false, true]) {
      const svc = service({ metricsPerDomain });
      const withSts = (name: string, spec: CheckSpec, mode: string | null) => {
        const c = completed(name, spec);
        c.results.push(result('mta-sts', name, mode === null ? 'untestable' : 'pass', { state: mode ?? 'unreachable' }));
        return c;
      };
      const counts = async (name: string): Promise<Array<Record<string, string | number>>> =>
        (await series(svc, name)).map(({ value, ...labels }) => ({ ...labels, n: Number(value) })).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
      svc.recordCheck(withSts('alpha.test', { hosts: [MX1] }, 'enforce'));
      svc.recordCheck(withSts('beta.test', { hosts: [MX1] }, 'enforce'));
      svc.recordCheck(withSts('gamma.test', { hosts: [MX2], mxStatus: 'fail' }, 'testing'));
      expect(await counts('mxwatch_mtasts_mode_domains')).toEqual([
        { mode: 'enforce', n: 2 },
        { mode: 'testing', n: 1 },
      ]);
      expect((await counts('mxwatch_probe_success_domains')).filter((c) => c.probe === 'mx')).toEqual([
        { probe: 'mx', result: 'fail', n: 1 },
        { probe: 'mx', result: 'pass', n: 2 },
      ]);
      // alpha lowers its policy; gamma's MTA-STS lookup cannot be tested (its mode stays counted), its MX is fixed.
      svc.recordCheck(withSts('alpha.test', { hosts: [MX1], at: new Date(T0.getTime() + 60_000) }, 'testing'));
      svc.recordCheck(withSts('gamma.test', { hosts: [MX2], at: new Date(T0.getTime() + 60_000) }, null));
      expect(await counts('mxwatch_mtasts_mode_domains')).toEqual([
        { mode: 'enforce', n: 1 },
        { mode: 'testing', n: 2 },
      ]);
      expect((await counts('mxwatch_probe_success_domains')).filter((c) => c.probe === 'mx')).toEqual([{ probe: 'mx', result: 'pass', n: 3 }]);
      // A deleted domain counts no more; a state nobody is in any more has no series.
      svc.forgetDomain('beta.test');
      expect(await counts('mxwatch_mtasts_mode_domains')).toEqual([{ mode: 'testing', n: 2 }]);
      expect((await counts('mxwatch_probe_success_domains')).filter((c) => c.probe === 'mx')).toEqual([{ probe: 'mx', result: 'pass', n: 2 }]);
      // The per-domain series follow the setting; the counts are there either way.
      expect((await series(svc, 'mxwatch_mtasts_mode_info')).length).toBe(metricsPerDomain ? 2 : 0);
      expect((await series(svc, 'mxwatch_probe_success')).length > 0).toBe(metricsPerDomain);
    }
  });

  it("should export a worker's own series only: no findings, domains, lag or per-domain series", async () => {
    const svc = service({ role: 'worker' });
    svc.recordCheck(completed('alpha.test', { hosts: [MX1] }));
    const text = (await svc.scrape()).body.toString();
    expect(text).toMatch(/^mxwatch_check_runs_total\{trigger="schedule",status="pass"\} 1$/m);
    expect(text).toMatch(/^mxwatch_smtp_outbound_blocked 0$/m);
    expect(text).not.toMatch(/^mxwatch_(findings_open|domains|scheduler_lag_seconds|probe_success|smtp_port_open|last_check_timestamp_seconds)[{ ]/m);
    const api = (await service({ role: 'api' }).scrape()).body.toString();
    expect(api).toMatch(/^mxwatch_findings_open\{severity="critical",code="MX_MISSING"\} 1$/m);
    expect(api).toMatch(/^mxwatch_scheduler_lag_seconds 0$/m);
    // An api replica runs no probe: the process-wide probe series are the workers'.
    expect(api).not.toMatch(/^mxwatch_smtp_outbound_blocked /m);
  });
});
