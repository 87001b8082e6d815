import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.types.js';
import { PROBES } from '../probes/registry.js';
import { normaliseDomainName } from '../transport/dns/dns-names.js';
import { FindingsRepository, type Finding } from '../storage/findings.repository.js';
import { PagesRepository, WORST_SEVERITIES, type WorstSeverity } from '../storage/pages.repository.js';
import type { MonitorFindingView } from './page-layout.view.js';
import { renderDomain, renderNotFound, type ProbeInfo } from './domain.view.js';
import { renderFleet, type FleetFilters } from './fleet.view.js';
import type { Html } from './html.template.js';
import type { StoredResult } from './host-matrix.js';

export const PAGE_SIZE = 50;
export const RECENT_HOURS = 24;
const RECENT_LIMIT = 20;
const DAY_MS = 86_400_000;
export const TIMELINE_DAYS = 30;
const MAX_PAGE = 100_000;
const SEVERITY_RANK = ['critical', 'warning', 'info'];
const CHANGES_LIMIT = 50;

export type FleetQueryInput = Record<string, unknown>;

/** One value of a query parameter as text (the first when repeated), or '' when absent. */
function param(q: FleetQueryInput, key: string): string {
  const v = q[key];
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' ? first.trim() : '';
}

/** Reads the fleet page's query string; a bad value is reported and ignored, never a 500. */
export function parseFleetQuery(q: FleetQueryInput): { filters: FleetFilters; page: number; problems: string[] } {
  const problems: string[] = [];
  let text = param(q, 'q');
  if (text.length > 253) {
    problems.push('The domain filter was cut to 253 characters.');
    text = text.slice(0, 253);
  }
  let label = param(q, 'label');
  if (label.length > 200 || (label !== '' && label.startsWith('='))) {
    problems.push('The label filter must be "key" or "key=value" (at most 200 characters); it was ignored.');
    label = '';
  }
  let severity = param(q, 'severity').toLowerCase() as WorstSeverity | '';
  if (severity !== '' && !WORST_SEVERITIES.includes(severity)) {
    problems.push(`Severity must be one of ${WORST_SEVERITIES.join(', ')}; it was ignored.`);
    severity = '';
  }
  const rawPage = param(q, 'page');
  let page = 1;
  if (rawPage !== '') {
    if (/^\d{1,6}$/.test(rawPage) && Number(rawPage) >= 1 && Number(rawPage) <= MAX_PAGE) page = Number(rawPage);
    else problems.push('The page number was not a page; showing the first page.');
  }
  return { filters: { text, label, severity }, page, problems };
}

export function parseLabelFilter(label: string): { key: string; value?: string } | undefined {
  if (label === '') return undefined;
  const i = label.indexOf('=');
  return i < 0 ? { key: label } : { key: label.slice(0, i).trim(), value: label.slice(i + 1).trim() };
}

/** Start of the day (UTC) `days - 1` days before `now`'s, so the last bucket is today. */
export function timelineStart(now: Date, days: number): Date {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return new Date(today - (days - 1) * DAY_MS);
}

/** Assembles the pages from the repository: no HTML here, no SQL in the views. */
@Injectable()
export class PagesService {
  constructor(
    private readonly repo: PagesRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly findings: FindingsRepository,
  ) {}

  async fleet(query: FleetQueryInput, signedIn: boolean, now = new Date()): Promise<Html> {
    const { filters, page, problems } = parseFleetQuery(query);
    const since = new Date(now.getTime() - RECENT_HOURS * 3600_000);
    const [result, domainRecent, monitorRecent, monitor] = await Promise.all([
      this.repo.fleet({
        text: filters.text || undefined,
        label: parseLabelFilter(filters.label),
        severity: filters.severity || undefined,
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
      }),
      this.repo.recent(since, RECENT_LIMIT),
      this.findings.recentAboutMonitor(since, RECENT_LIMIT),
      this.findings.openAboutMonitor(),
    ]);
    const recent = [
      ...domainRecent,
      ...monitorRecent.map((e) => ({ event: e.event, at: e.at, domain: null, code: e.finding.code, severity: e.finding.severity, target: e.finding.target, message: e.finding.message })),
    ]
      .sort((a, b) => b.at.getTime() - a.at.getTime())
      .slice(0, RECENT_LIMIT);
    return renderFleet({ now, filters, page, pageSize: PAGE_SIZE, result, recent, monitor: monitor.map(monitorView), recentHours: RECENT_HOURS, signedIn, problems });
  }

  /** null when the domain is not monitored (the controller answers 404). */
  async domain(rawName: string, signedIn: boolean, now = new Date()): Promise<{ status: number; page: Html }> {
    const norm = normaliseDomainName(rawName);
    const row = norm.ok ? await this.repo.domain(norm.name) : null;
    if (!row) return { status: 404, page: renderNotFound(rawName, signedIn) };
    const since = timelineStart(now, TIMELINE_DAYS);
    const [run, findings, cells, changes, monitor] = await Promise.all([
      this.repo.latestRun(row.id),
      this.repo.openFindings(row.id),
      this.repo.timeline(row.id, since, DAY_MS, TIMELINE_DAYS),
      this.repo.changes(row.id, CHANGES_LIMIT),
      this.findings.openAboutMonitor(),
    ]);
    const results: StoredResult[] = (run?.results ?? []).map((r) => ({
      probe: r.probe,
      target: r.target,
      status: r.status,
      reason: r.reason,
      details: r.details && typeof r.details === 'object' && !Array.isArray(r.details) ? (r.details as Record<string, unknown>) : {},
    }));
    const probes: ProbeInfo[] = PROBES.map((p) => ({ name: p.name, title: p.title, scope: p.scope }));
    for (const name of [...results.map((r) => r.probe), ...cells.map((c) => c.probe)]) {
      if (!probes.some((p) => p.name === name)) probes.push({ name, title: name, scope: 'unregistered' });
    }
    const page = renderDomain({
      now,
      signedIn,
      tokenRequired: Boolean(this.config.apiToken),
      domain: {
        name: row.name,
        labels: (row.labels ?? {}) as Record<string, string>,
        enabled: row.enabled,
        intervalSeconds: row.intervalSeconds ?? this.config.checkIntervalSeconds,
        lastCheckAt: row.lastCheckAt,
      },
      lastRun: run ? { status: run.status, trigger: run.trigger, startedAt: run.startedAt, durationMs: run.durationMs } : null,
      results,
      findings: [...findings].sort((a, b) => SEVERITY_RANK.indexOf(a.severity) - SEVERITY_RANK.indexOf(b.severity)).map((f) => ({ code: f.code, severity: f.severity, probe: f.probe, target: f.target, message: f.message, remediation: f.remediation, openedAt: f.openedAt })),
      probes,
      timeline: { since, bucketMs: DAY_MS, buckets: TIMELINE_DAYS, cells },
      changes: changes.map((c) => ({ at: c.observedAt, probe: c.probe, kind: c.kind, weakening: c.weakening, text: c.text })),
      monitor: monitor.map(monitorView),
    });
    return { status: 200, page };
  }
}

function monitorView(f: Finding): MonitorFindingView {
  return { code: f.code, severity: f.severity, message: f.message, remediation: f.remediation, openedAt: f.openedAt };
}
