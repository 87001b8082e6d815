import { BadRequestException, Inject, Injectable, NotFoundException, Optional } from '@nestjs/common';
import { REMOTE_CHECKS, type RemoteChecks } from './queue/queue-tokens.js';
import { DomainsService } from './domains.service.js';
import { FindingsRepository } from '../storage/findings.repository.js';
import { findingToDto, FindingsService } from './findings.service.js';
import { FINDING_CATALOG, isFindingCode } from '../findings/finding-catalog.js';
import { normaliseDomainName } from '../transport/dns/dns-names.js';
import type { ProbeStatus } from '../probes/probe.types.js';
import { PROBE_NAMES } from '../probes/registry.js';
import { CheckRunner, worstStatus } from './check-runner.service.js';
import { ChecksRepository, DomainGoneError, type CheckRun, type ProbeResultRow } from '../storage/checks.repository.js';
import { decodeCursor, encodeCursor } from '../storage/history-cursor.js';

/** What the history route accepts (validated by the API layer before it gets here). */
export interface HistoryQuery {
  probe?: string;
  status?: string;
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

/** What the findings route accepts (validated by the API layer before it gets here). */
export interface FindingsQuery {
  status?: 'open' | 'resolved' | 'pending';
  domain?: string;
  /** `monitor`: the findings about mxwatch itself (no domain); `domain`: only domains' findings. */
  scope?: 'domain' | 'monitor';
  severity?: string;
  code?: string;
  limit?: number;
  /** Labels the finding's domain must carry, all of them. */
  labels?: Record<string, string>;
}

export function resultToDto(r: ProbeResultRow) {
  return {
    id: r.id.toString(),
    runId: r.runId,
    probe: r.probe,
    target: r.target,
    status: r.status,
    reason: r.reason,
    startedAt: r.startedAt.toISOString(),
    durationMs: r.durationMs,
    details: r.details,
  };
}

function runToDto(run: CheckRun & { results: ProbeResultRow[] }, domain: string) {
  return {
    id: run.id,
    domain,
    trigger: run.trigger,
    status: run.status,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt.toISOString(),
    durationMs: run.durationMs,
    results: run.results.map(resultToDto),
    facts: run.facts,
  };
}

@Injectable()
export class ChecksService {
  constructor(
    private readonly domains: DomainsService,
    private readonly runner: CheckRunner,
    private readonly checks: ChecksRepository,
    private readonly findings: FindingsRepository,
    private readonly findingsService: FindingsService,
    /** On an `api` replica with Redis: manual checks run on a worker (runtime/queue). */
    @Optional() @Inject(REMOTE_CHECKS) private readonly remote?: RemoteChecks,
  ) {}

  async checkNow(name: string) {
    if (this.remote) return this.remote.checkNow(name) as Promise<Awaited<ReturnType<ChecksService['checkNowHere']>>>;
    return this.checkNowHere(name);
  }

  /** A manual check in this process (a worker runs the queued ones through here too). */
  private async checkNowHere(name: string) {
    const domain = await this.domains.getRow(name);
    let outcome;
    try {
      outcome = await this.runner.run(domain, 'manual');
    } catch (e) {
      if (e instanceof DomainGoneError) throw new NotFoundException(`domain ${domain.name} was deleted while it was being checked`);
      throw e;
    }
    const { run, findings } = outcome;
    const open = await this.findings.openFor(domain.id);
    const pending = await this.findingsService.pending(domain.id);
    return {
      ...runToDto(run, domain.name),
      findings: {
        /** what this run showed, whether or not it has opened yet (MXWATCH_ALERT_AFTER) */
        observed: findings.drafts.map((d) => ({ code: d.code, severity: d.severity, probe: d.probe, target: d.target, message: d.message, remediation: d.remediation, evidence: d.evidence, scope: d.scope })),
        opened: findings.opened.map((f) => findingToDto(f)),
        resolved: findings.resolved.map((f) => findingToDto(f)),
        open: open.map((f) => findingToDto(f)),
        /** seen, not yet MXWATCH_ALERT_AFTER runs in a row: not open, not notified */
        pending,
        /** what is pending and why, in one sentence; null when nothing is */
        note: this.findingsService.explainPending(pending),
      },
    };
  }

  async status(name: string) {
    const domain = await this.domains.getRow(name);
    const run = await this.checks.latestRun(domain.id);
    const open = await this.findings.openFor(domain.id);
    const pending = await this.findingsService.pending(domain.id);
    const probes: Record<string, unknown> = {};
    for (const probe of PROBE_NAMES) {
      const results = run?.results.filter((r) => r.probe === probe) ?? [];
      probes[probe] = { status: results.length === 0 ? null : worstStatus(results as Array<{ status: ProbeStatus }>), results: results.map(resultToDto) };
    }
    return {
      domain: this.domains.toDto(domain),
      lastRun: run ? { id: run.id, trigger: run.trigger, status: run.status, startedAt: run.startedAt.toISOString(), finishedAt: run.finishedAt.toISOString(), durationMs: run.durationMs, facts: run.facts } : null,
      probes,
      openFindings: open.map((f) => findingToDto(f)),
      pendingFindings: pending,
    };
  }

  async history(name: string, q: HistoryQuery) {
    const domain = await this.domains.getRow(name);
    let after: { startedAt: Date; id: bigint } | undefined;
    if (q.cursor !== undefined) {
      after = decodeCursor(q.cursor) ?? undefined;
      if (!after) throw new BadRequestException(['cursor is not a cursor returned by this endpoint']);
    }
    const since = q.since !== undefined ? new Date(q.since) : undefined;
    const until = q.until !== undefined ? new Date(q.until) : undefined;
    if (since && until && since >= until) throw new BadRequestException(['since must be before until']);
    const limit = q.limit ?? 50;
    const rows = await this.checks.history({ domainId: domain.id, probe: q.probe, status: q.status, since, until, limit: limit + 1, after });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(resultToDto),
      nextCursor: rows.length > limit && last ? encodeCursor(last.startedAt, last.id) : null,
    };
  }

  async listFindings(q: FindingsQuery) {
    let domainId: string | undefined;
    if (q.domain !== undefined && q.scope === 'monitor') throw new BadRequestException(['domain and scope=monitor exclude each other: a finding about mxwatch itself belongs to no domain']);
    if (q.domain !== undefined) {
      const n = normaliseDomainName(q.domain);
      if (!n.ok) throw new BadRequestException([`domain: ${n.error}`]);
      domainId = (await this.domains.getRow(n.name)).id;
    }
    if (q.code !== undefined && !isFindingCode(q.code)) {
      throw new BadRequestException([`code must be one of ${Object.keys(FINDING_CATALOG).join(', ')}`]);
    }
    const rows = await this.findings.list({ status: q.status, domainId, scope: q.scope, severity: q.severity, code: q.code, labels: q.labels, limit: q.limit ?? 200 });
    return rows.map((f) => findingToDto(f, f.domain?.name ?? null));
  }
}
