import type { Severity } from '../probes/probe-definition.js';
import type { ProbeResult, ProbeStatus } from '../probes/probe.types.js';
import { scopeOfCode } from '../findings/finding-catalog.js';
import type { CliFinding, CliReport } from './cli-report.schema.js';

export interface ProbeMeta {
  name: string;
  title: string;
  scope: string;
}

export interface ReportInput {
  version: string;
  domain: string;
  startedAt: Date;
  finishedAt: Date;
  failOn: Severity;
  settings: CliReport['settings'];
  probes: readonly ProbeMeta[];
  results: readonly ProbeResult[];
  /** `scope` defaults to what the code says (MONITOR_*: about mxwatch itself). */
  findings: ReadonlyArray<Omit<CliFinding, 'scope'> & { scope?: CliFinding['scope'] }>;
}

const STATUS_ORDER: ProbeStatus[] = ['pass', 'untestable', 'warn', 'fail'];
const SEVERITY_ORDER: Severity[] = ['critical', 'warning', 'info'];

function worst(statuses: readonly ProbeStatus[]): ProbeStatus | null {
  if (statuses.length === 0) return null;
  return statuses.reduce((w, s) => (STATUS_ORDER.indexOf(s) > STATUS_ORDER.indexOf(w) ? s : w), 'pass' as ProbeStatus);
}

/** Whether `severity` is at least as severe as `threshold`. */
export function atLeast(severity: Severity, threshold: Severity): boolean {
  return SEVERITY_ORDER.indexOf(severity) <= SEVERITY_ORDER.indexOf(threshold);
}

/**
 * Findings at or above --fail-on decide first (exit 1): what was found is real even when another
 * part could not be tested. Otherwise any untestable result means the answer is incomplete (3).
 * A finding about mxwatch itself (its resolver, its path to the lists) says nothing about the
 * domain: the results it made untestable speak for it.
 */
export function outcomeOf(findings: readonly (Pick<CliFinding, 'severity'> & { scope?: CliFinding['scope'] })[], results: readonly Pick<ProbeResult, 'status'>[], failOn: Severity): { outcome: CliReport['outcome']; exitCode: CliReport['exitCode'] } {
  if (findings.some((f) => f.scope !== 'monitor' && atLeast(f.severity, failOn))) return { outcome: 'findings', exitCode: 1 };
  if (results.some((r) => r.status === 'untestable')) return { outcome: 'untestable', exitCode: 3 };
  return { outcome: 'ok', exitCode: 0 };
}

/** JSON-safe details without the observations (they are the findings). */
function plainDetails(details: unknown): Record<string, unknown> {
  if (!details || typeof details !== 'object' || Array.isArray(details)) return {};
  const { observations: _observations, ...rest } = JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  return rest;
}

export function buildReport(input: ReportInput): CliReport {
  const findings: CliFinding[] = input.findings.map((f) => ({ ...f, scope: f.scope ?? scopeOfCode(f.code) })).sort((a, b) => SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity) || a.probe.localeCompare(b.probe) || a.code.localeCompare(b.code) || a.target.localeCompare(b.target));
  const metas = [...input.probes];
  for (const r of input.results) if (!metas.some((m) => m.name === r.probe)) metas.push({ name: r.probe, title: r.probe, scope: 'unregistered' });
  const probes = metas.map((m) => {
    const results = input.results.filter((r) => r.probe === m.name);
    return {
      name: m.name,
      title: m.title,
      scope: m.scope,
      status: worst(results.map((r) => r.status)),
      results: results.map((r) => ({ target: r.target, status: r.status, reason: r.reason ?? null, durationMs: Math.max(0, Math.round(r.durationMs)), details: plainDetails(r.details) })),
      findings: findings.filter((f) => f.probe === m.name),
    };
  });
  const { outcome, exitCode } = outcomeOf(findings, input.results, input.failOn);
  return {
    schemaVersion: 1,
    tool: 'mxwatch',
    version: input.version,
    domain: input.domain,
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    durationMs: Math.max(0, input.finishedAt.getTime() - input.startedAt.getTime()),
    status: worst(input.results.map((r) => r.status)) ?? 'untestable',
    failOn: input.failOn,
    outcome,
    exitCode,
    settings: input.settings,
    summary: {
      critical: findings.filter((f) => f.severity === 'critical').length,
      warning: findings.filter((f) => f.severity === 'warning').length,
      info: findings.filter((f) => f.severity === 'info').length,
      results: input.results.length,
      untestable: input.results.filter((r) => r.status === 'untestable').length,
    },
    findings,
    probes,
  };
}

export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  status(status: string, s: string): string;
}

const CODES: Record<string, string> = { pass: '32', ok: '32', warn: '33', warning: '33', fail: '31', critical: '31', untestable: '35', info: '36' };

export function style(color: boolean): Style {
  const wrap = (code: string, s: string) => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  return {
    bold: (s) => wrap('1', s),
    dim: (s) => wrap('2', s),
    status: (status, s) => wrap(CODES[status] ?? '0', s),
  };
}

const MARK: Record<string, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', untestable: 'UNTESTABLE' };

/**
 * Terminal text escapes: a banner or TXT record from the internet must not move the cursor or
 * recolour the operator's terminal.
 */
export function sanitize(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The human report: grouped by probe, each finding with its remediation, then the verdict. */
export function formatHuman(report: CliReport, s: Style, options: { verbose: boolean }): string {
  const lines: string[] = [];
  const { settings } = report;
  lines.push(`${s.bold(`mxwatch check ${sanitize(report.domain)}`)}  ${s.dim(`(${(report.durationMs / 1000).toFixed(1)} s, DNS ${settings.dnsServers.join(',')} over ${settings.dnsProtocol}, ports ${settings.smtpPorts.join(',')})`)}`);
  lines.push('');
  for (const p of report.probes) {
    const status = p.status ?? 'pass';
    const mark = (p.status === null ? 'NOTHING TO TEST' : (MARK[status] ?? status.toUpperCase())).padEnd(15);
    const label = p.status === null ? s.dim(mark) : s.status(status, mark);
    const counts = (['fail', 'warn', 'untestable', 'pass'] as const).map((st) => [st, p.results.filter((r) => r.status === st).length] as const).filter(([, n]) => n > 0);
    lines.push(`${label} ${s.bold(p.name)} ${s.dim(`— ${sanitize(p.title)}`)}${counts.length ? s.dim(`  [${counts.map(([st, n]) => `${n} ${st}`).join(', ')}]`) : ''}`);
    for (const r of p.results) {
      if (r.status === 'pass' && !options.verbose) continue;
      lines.push(`    ${s.status(r.status, r.status.padEnd(10))} ${sanitize(r.target)}${r.reason ? s.dim(` (${sanitize(r.reason)})`) : ''}`);
    }
    for (const f of p.findings) {
      lines.push(`    ${s.status(f.severity, f.severity.toUpperCase())} ${s.bold(f.code)} ${sanitize(f.target)}${f.scope === 'monitor' ? s.dim(' (about mxwatch itself, not the domain)') : ''}`);
      lines.push(`      ${sanitize(f.message)}`);
      lines.push(`      ${s.dim('fix:')} ${sanitize(f.remediation)}`);
    }
  }
  lines.push('');
  const sum = report.summary;
  const found = `${sum.critical} critical, ${sum.warning} warning, ${sum.info} info`;
  const verdict =
    report.outcome === 'findings'
      ? s.status('fail', `Findings at or above ${report.failOn}: ${found}.`)
      : report.outcome === 'untestable'
        ? s.status('untestable', `Could not test everything: ${sum.untestable} of ${sum.results} results untestable (${found}).`)
        : s.status('pass', `Nothing at or above ${report.failOn} (${found}).`);
  lines.push(`${verdict} ${s.dim(`exit ${report.exitCode}`)}`);
  return `${lines.join('\n')}\n`;
}
