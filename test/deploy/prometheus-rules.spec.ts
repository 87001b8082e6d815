import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROBES } from '../../apps/mxwatch/src/probes/registry.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const rulesFile = 'deploy/prometheus/alerts.yml';
const rulesTestFile = 'deploy/prometheus/alerts.test.yml';
const configFile = 'deploy/prometheus/prometheus.yml';
const dashboardFile = 'deploy/grafana/dashboards/mxwatch.json';

/** The mxwatch metrics of the public contract: rules and dashboards may use nothing else. */
const MXWATCH_METRICS = {
  gauges: [
    'mxwatch_probe_success', 'mxwatch_domain_mx_info', 'mxwatch_mx_records', 'mxwatch_smtp_port_open',
    'mxwatch_starttls_supported', 'mxwatch_tls_cert_not_after_timestamp_seconds', 'mxwatch_tls_version_info',
    'mxwatch_dnsbl_listed', 'mxwatch_findings_open', 'mxwatch_domain_findings_open',
    'mxwatch_last_check_timestamp_seconds', 'mxwatch_domains', 'mxwatch_scheduler_lag_seconds',
    'mxwatch_smtp_outbound_blocked', 'mxwatch_probe_success_domains', 'mxwatch_database_up',
  ],
  counters: ['mxwatch_probe_runs_total', 'mxwatch_dnsbl_errors_total', 'mxwatch_check_runs_total', 'mxwatch_notifications_total', 'mxwatch_policy_changes_total', 'mxwatch_check_runs_dropped_total', 'mxwatch_check_runs_store_retries_total', 'mxwatch_queue_jobs_recovered_total'],
  histograms: ['mxwatch_probe_duration_seconds', 'mxwatch_check_duration_seconds'],
};
// Every metric a registered probe declares is part of the contract too.
for (const spec of PROBES.flatMap((p) => p.metrics?.specs ?? [])) {
  (spec.type === 'counter' ? MXWATCH_METRICS.counters : MXWATCH_METRICS.gauges).push(spec.name);
  // The count of domains a per-domain `*_info` gauge declares (kept without per-domain series).
  if (spec.domainCount) MXWATCH_METRICS.gauges.push(spec.domainCount.name);
}
const ALLOWED_MXWATCH = new Set([
  ...MXWATCH_METRICS.gauges,
  ...MXWATCH_METRICS.counters,
  ...MXWATCH_METRICS.histograms.flatMap((h) => [`${h}_bucket`, `${h}_sum`, `${h}_count`]),
]);

const REQUIRED_ALERTS = [
  'SpfLookupLimitExceeded', 'DmarcNotEnforced', 'PolicyWeakened', 'DnssecBogus', 'DaneNoMatch',
  'MxwatchDown', 'MxMissing', 'SmtpPort25Unreachable', 'SmtpOutboundBlocked', 'StarttlsMissing',
  'TlsCertExpiringSoon', 'TlsCertExpired', 'DnsblListed', 'DnsblQueryRefused', 'ChecksStalled',
  'CriticalFindingsOpen',
];

function mxwatchMetricsIn(text: string): string[] {
  return [...new Set(text.match(/\bmxwatch_[a-z_]+/g) ?? [])];
}

function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error(
      "promtool is not installed: install Debian's prometheus package, which ships it " +
        '(apt-get update && apt-get install -y prometheus; CI installs it). These checks never skip.',
    );
  }
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RulesFile { groups: { name: string; rules: AlertRule[] }[] }
interface RulesTestFile {
  tests: { alert_rule_test?: { alertname: string; eval_time: string; exp_alerts?: unknown[] | null }[] }[];
}

interface Target { expr?: string; datasource?: { type?: string; uid?: string } }
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
  gridPos: { x: number; y: number; w: number; h: number };
}
interface Dashboard {
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string }; datasource?: { uid?: string } }[] };
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

describe('Prometheus configuration and alert rules', () => {
  const rules = parse(readFileSync(path.join(root, rulesFile), 'utf8')) as RulesFile;
  const alerts = rules.groups.flatMap((g) => g.rules).filter((r): r is AlertRule & { alert: string } => !!r.alert);

  it('should pass promtool check rules', () => {
    const r = promtool('check', 'rules', '--lint-fatal', rulesFile);
    expect(r.status, r.output).toBe(0);
  });

  // promtool check config opens no socket (checked with strace: it only reads files), so
  // the unresolvable compose host names in the targets are fine here.
  it('should pass promtool check config', () => {
    const r = promtool('check', 'config', '--lint-fatal', configFile);
    expect(r.status, r.output).toBe(0);
  });

  it('should pass the rule unit tests (promtool test rules)', () => {
    const r = promtool('test', 'rules', rulesTestFile);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  });

  it('should define every required alert', () => {
    expect(alerts.map((a) => a.alert)).toEqual(expect.arrayContaining(REQUIRED_ALERTS));
    expect(new Set(alerts.map((a) => a.alert)).size).toBe(alerts.length);
  });

  it('should give every alert a for, a severity, and templated summary, description and runbook', () => {
    for (const a of alerts) {
      expect(a.for, `${a.alert}: for`).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning', 'info'], `${a.alert}: severity`).toContain(a.labels?.severity);
      expect(a.annotations?.summary, `${a.alert}: summary`).toMatch(/\{\{\s*\$(labels\.\w+|value)/);
      expect(a.annotations?.description?.length ?? 0, `${a.alert}: description`).toBeGreaterThan(20);
      expect(a.annotations?.runbook?.length ?? 0, `${a.alert}: runbook`).toBeGreaterThan(40);
    }
  });

  it('should use only metrics mxwatch exposes in rules and their annotations', () => {
    // Prose may name a histogram itself; a query must name one of its series.
    const inProse = new Set([...ALLOWED_MXWATCH, ...MXWATCH_METRICS.histograms]);
    for (const a of alerts) {
      for (const m of mxwatchMetricsIn(a.expr)) expect(ALLOWED_MXWATCH, `${a.alert} uses ${m}`).toContain(m);
      for (const m of mxwatchMetricsIn(Object.values(a.annotations ?? {}).join('\n'))) {
        expect(inProse, `${a.alert} annotations name ${m}`).toContain(m);
      }
    }
  });

  it('should unit-test every alert both firing and silent', () => {
    const tests = parse(readFileSync(path.join(root, rulesTestFile), 'utf8')) as RulesTestFile;
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      expect(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${a.alert} has a firing case`).toBe(true);
      expect(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${a.alert} has a silent case`).toBe(true);
    }
    const known = new Set(alerts.map((a) => a.alert));
    for (const c of cases) expect(known, `test case for unknown alert ${c.alertname}`).toContain(c.alertname);
  });
});

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(path.join(root, dashboardFile), 'utf8')) as Dashboard;
  const panels = allPanels(dashboard.panels);
  const queryPanels = panels.filter((p) => p.type !== 'row');
  const exprs = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })));
  let defaultMetrics: Set<string>;
  let tmp: string;

  beforeAll(async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const names = (await registry.getMetricsAsJSON()).flatMap((m) =>
      String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
    );
    registry.clear();
    defaultMetrics = new Set(names);
    tmp = mkdtempSync(path.join(tmpdir(), 'mxwatch-dashboard-'));
  });

  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('should be a schemaVersion 39 dashboard with unique panel ids', () => {
    expect(dashboard.uid).toBe('mxwatch');
    expect(dashboard.schemaVersion).toBe(39);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(queryPanels.length).toBeGreaterThan(20);
  });

  it('should lay panels out on the 24-column grid without overlaps', () => {
    const top = dashboard.panels;
    for (const p of top) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    for (let i = 0; i < top.length; i++) {
      for (let j = i + 1; j < top.length; j++) {
        const a = top[i].gridPos;
        const b = top[j].gridPos;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `${top[i].title} overlaps ${top[j].title}`).toBe(false);
      }
    }
  });

  it('should query the provisioned Prometheus data source (uid prometheus) in every panel', () => {
    for (const p of queryPanels) {
      expect(p.datasource?.uid, p.title).toBe('prometheus');
      expect(p.targets?.length ?? 0, `${p.title} has targets`).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource?.uid ?? 'prometheus', p.title).toBe('prometheus');
    }
  });

  it('should offer a domain variable listing the checked domains', () => {
    const v = dashboard.templating.list.find((x) => x.name === 'domain');
    const query = typeof v?.query === 'string' ? v.query : v?.query.query;
    expect(query).toBe('label_values(mxwatch_last_check_timestamp_seconds, domain)');
    expect(v?.datasource?.uid).toBe('prometheus');
  });

  it('should use only metrics mxwatch exposes, plus up and the prom-client defaults', () => {
    for (const { panel, expr } of exprs) {
      for (const m of mxwatchMetricsIn(expr)) expect(ALLOWED_MXWATCH, `${panel} uses ${m}`).toContain(m);
      for (const m of expr.match(/\b(?:process|nodejs)_[a-z0-9_]+/g) ?? []) expect(defaultMetrics, `${panel} uses ${m}`).toContain(m);
    }
  });

  it('should cover the fleet, the domain drill-down, certificates, DNSBL, latency and throughput', () => {
    const all = exprs.map((e) => e.expr).join('\n');
    for (const needle of [
      'mxwatch_domain_mx_info{domain="$domain"}',
      'mxwatch_probe_success{domain="$domain"}',
      'mxwatch_domain_findings_open{domain="$domain"}',
      'time() - mxwatch_last_check_timestamp_seconds{domain="$domain"}',
      '(mxwatch_tls_cert_not_after_timestamp_seconds - time()) / 86400',
      'mxwatch_dnsbl_listed == 1',
      'sum by (zone, reason) (rate(mxwatch_dnsbl_errors_total',
      'histogram_quantile(0.95, sum by (probe, le) (rate(mxwatch_probe_duration_seconds_bucket',
      'rate(mxwatch_check_runs_total',
      'mxwatch_tls_version_info',
    ]) {
      expect(all, needle).toContain(needle);
    }
  });

  it('should contain only valid PromQL (checked by promtool as recording rules)', () => {
    // Grafana's variables replaced by values of the right type, so promtool can parse them.
    const concrete = (expr: string) => expr.replaceAll('$__rate_interval', '2m').replaceAll('$domain', 'example.com');
    const file = path.join(tmp, 'dashboard-queries.yml');
    const groups = [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `dashboard:query_${i}`, expr: concrete(e.expr) })) }];
    writeFileSync(file, JSON.stringify({ groups }));
    const r = promtool('check', 'rules', file);
    expect(r.status, r.output).toBe(0);
  });
});
