import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import type { ProbeResult } from '../probes/probe.types.js';
import { cliReportJsonSchema } from './cli-report.schema.js';
import { buildReport, formatHuman, outcomeOf, sanitize, style, type ReportInput } from './cli-report.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const PUBLISHED = path.join(ROOT, 'docs/cli-report.schema.json');
const T = new Date('2026-06-01T10:00:00.000Z');

function result(probe: string, target: string, status: ProbeResult['status'], reason?: string): ProbeResult {
  return { probe: probe as ProbeResult['probe'], target, status, ...(reason ? { reason } : {}), startedAt: T, durationMs: 12.4, details: { banner: '220 \u001b[31mhi', observations: [{ code: 'X' }] }, observations: [] };
}

function input(over: Partial<ReportInput> = {}): ReportInput {
  return {
    version: '0.1.0',
    domain: 'a.test',
    startedAt: T,
    finishedAt: new Date(T.getTime() + 1500),
    failOn: 'warning',
    settings: { dnsServers: ['127.0.0.1:53'], dnsProtocol: 'udp', dnsblZones: ['zen.spamhaus.org'], smtpPorts: [25], timeoutSeconds: 60 },
    probes: [
      { name: 'mx', title: 'MX records', scope: 'domain' },
      { name: 'smtp', title: 'SMTP', scope: 'endpoint' },
      { name: 'spf', title: 'SPF', scope: 'domain' },
    ],
    results: [result('mx', 'a.test', 'pass'), result('smtp', 'mx.a.test[192.0.2.1]:25', 'fail', 'connect_refused')],
    findings: [
      { code: 'MX_NULL', severity: 'info', probe: 'mx', target: 'a.test', message: 'null', remediation: 'none' },
      { code: 'SMTP_PORT_UNREACHABLE', severity: 'critical', probe: 'smtp', target: 'mx.a.test[192.0.2.1]:25', message: 'Port 25 is closed', remediation: 'Open port 25' },
    ],
    ...over,
  };
}

describe('docs/cli-report.schema.json', () => {
  it('should be what the code generates (regenerate with: node dist/cli/main.js schema > docs/cli-report.schema.json)', () => {
    expect(JSON.parse(readFileSync(PUBLISHED, 'utf8'))).toEqual(cliReportJsonSchema());
  });

  it('should accept a built report and refuse one with a field it does not know or a wrong status', () => {
    const validate = new Ajv2020({ strict: true, allErrors: true }).compile(JSON.parse(readFileSync(PUBLISHED, 'utf8')));
    const report = JSON.parse(JSON.stringify(buildReport(input())));
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...report, extra: 1 })).toBe(false);
    expect(validate({ ...report, status: 'ok' })).toBe(false);
    expect(validate({ ...report, findings: [{ ...report.findings[0], severity: 'high' }] })).toBe(false);
  });
});

describe(buildReport.name, () => {
  it('should group results and findings by probe in registry order, most severe finding first', () => {
    const r = buildReport(input());
    expect(r.probes.map((p) => [p.name, p.status, p.results.length, p.findings.map((f) => f.code)])).toEqual([
      ['mx', 'pass', 1, ['MX_NULL']],
      ['smtp', 'fail', 1, ['SMTP_PORT_UNREACHABLE']],
      ['spf', null, 0, []],
    ]);
    expect(r.findings.map((f) => f.code)).toEqual(['SMTP_PORT_UNREACHABLE', 'MX_NULL']);
    expect(r).toMatchObject({ status: 'fail', outcome: 'findings', exitCode: 1, durationMs: 1500, summary: { critical: 1, warning: 0, info: 1, results: 2, untestable: 0 } });
    expect(r.probes[1]!.results[0]).toEqual({ target: 'mx.a.test[192.0.2.1]:25', status: 'fail', reason: 'connect_refused', durationMs: 12, details: { banner: '220 \u001b[31mhi' } });
  });
});

describe(outcomeOf.name, () => {
  const crit = [{ severity: 'critical' as const }];
  const info = [{ severity: 'info' as const }];
  it.each([
    ['findings at the threshold', crit, [{ status: 'fail' as const }], 'critical' as const, 1],
    ['findings even when something was untestable', crit, [{ status: 'untestable' as const }], 'warning' as const, 1],
    ['only findings below the threshold', info, [{ status: 'pass' as const }], 'warning' as const, 0],
    ['info counted when --fail-on info', info, [{ status: 'pass' as const }], 'info' as const, 1],
    ['nothing found but something untestable', [], [{ status: 'pass' as const }, { status: 'untestable' as const }], 'warning' as const, 3],
    ['nothing found', [], [{ status: 'pass' as const }], 'warning' as const, 0],
    ['only a finding about mxwatch itself, its results untestable', [{ severity: 'warning' as const, scope: 'monitor' as const }], [{ status: 'untestable' as const }], 'warning' as const, 3],
  ])('should exit right for %s', (_name, findings, results, failOn, code) => {
    expect(outcomeOf(findings, results, failOn).exitCode).toBe(code);
  });
});

describe('a finding about mxwatch itself', () => {
  it('should be marked as such in the report and the text, and decide no exit 1', () => {
    const monitor = { code: 'MONITOR_RESOLVER_NOT_VALIDATING', severity: 'warning' as const, probe: 'mx', target: 'resolver', message: 'our resolver does not validate', remediation: 'r' };
    const r = buildReport(input({ findings: [monitor] }));
    expect(r.findings).toEqual([{ ...monitor, scope: 'monitor' }]);
    expect(r.outcome).not.toBe('findings');
    expect(formatHuman(r, style(false), { verbose: false })).toContain('WARNING MONITOR_RESOLVER_NOT_VALIDATING resolver (about mxwatch itself, not the domain)');
  });
});

describe(formatHuman.name, () => {
  it('should print each finding with its remediation, the verdict, and no escape codes without colour', () => {
    const text = formatHuman(buildReport(input()), style(false), { verbose: false });
    expect(text).toContain('FAIL            smtp — SMTP  [1 fail]');
    expect(text).toContain('    fail       mx.a.test[192.0.2.1]:25 (connect_refused)');
    expect(text).toContain('    CRITICAL SMTP_PORT_UNREACHABLE mx.a.test[192.0.2.1]:25\n      Port 25 is closed\n      fix: Open port 25');
    expect(text).toContain('NOTHING TO TEST spf');
    expect(text).toMatch(/Findings at or above warning: 1 critical, 0 warning, 1 info\. exit 1\n$/);
    expect(text).not.toContain('\u001b');
    // A passing result is listed only with --verbose.
    expect(text).not.toContain('    pass');
    expect(formatHuman(buildReport(input()), style(false), { verbose: true })).toContain('    pass       a.test');
  });

  it('should colour on request and neutralise escape codes that came from the network', () => {
    const report = buildReport(input({ findings: [{ code: 'X_Y', severity: 'warning', probe: 'mx', target: 'a.test', message: 'banner \u001b[2J said', remediation: 'r' }] }));
    const text = formatHuman(report, style(true), { verbose: false });
    expect(text).toContain('\u001b[33mWARNING\u001b[0m');
    expect(text).toContain('banner \\x1b[2J said');
  });
});

describe(sanitize.name, () => {
  it('should keep printable text and escape control characters', () => {
    expect(sanitize('ok é ✓')).toBe('ok é ✓');
    expect(sanitize('a\rb\u0007\u009b')).toBe('a\\x0db\\x07\\x9b');
  });
});
