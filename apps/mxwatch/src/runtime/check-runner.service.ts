import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.types.js';
import { AppLogger } from '../common/app-logger.js';
import type { DomainRow } from '../storage/domains.repository.js';
import { FindingsService } from './findings.service.js';
import type { ProbeResult, ProbeStatus } from '../probes/probe.types.js';
import { ChecksRepository } from '../storage/checks.repository.js';
import { runDomainCheck, type DomainCheckOutcome } from './domain-check.js';
import { ProbeRuntime } from './probe-runtime.service.js';
import { EventEmitter } from 'node:events';

const ORDER: ProbeStatus[] = ['pass', 'untestable', 'warn', 'fail'];

/** fail > warn > untestable > pass: a run that could not test everything is not a clean pass. */
export function worstStatus(results: ReadonlyArray<Pick<ProbeResult, 'status'>>): ProbeStatus {
  let worst = 0;
  for (const r of results) worst = Math.max(worst, ORDER.indexOf(r.status));
  return ORDER[worst]!;
}

export interface CompletedCheck {
  domain: DomainRow;
  trigger: 'manual' | 'schedule';
  outcome: DomainCheckOutcome;
  startedAt: Date;
  finishedAt: Date;
  status: ProbeStatus;
}

/** probe -> store -> findings -> observers (metrics). One domain's failure never escapes. */
@Injectable()
export class CheckRunner {
  private readonly emitter = new EventEmitter();

  constructor(
    private readonly runtime: ProbeRuntime,
    private readonly checks: ChecksRepository,
    private readonly findings: FindingsService,
    private readonly logger: AppLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onCompleted(listener: (c: CompletedCheck) => void): void {
    this.emitter.on('completed', listener);
  }

  async run(domain: DomainRow, trigger: 'manual' | 'schedule') {
    const startedAt = new Date();
    const interval = (domain.intervalSeconds ?? this.config.checkIntervalSeconds) * 1000;
    const { ctx, dispose } = this.runtime.context();
    let outcome: DomainCheckOutcome;
    try {
      outcome = await runDomainCheck(
        ctx,
        { name: domain.name, submissionHosts: domain.submissionHosts, sendingIps: domain.sendingIps },
        // A scheduled check may reuse what another domain's check learnt within 90% of this
        // domain's interval; an operator's manual check always probes afresh.
        { shared: this.runtime.shared, perAddress: this.runtime.perAddress, maxAgeMs: trigger === 'manual' ? 0 : interval * 0.9 },
      );
    } finally {
      dispose();
    }
    this.runtime.outbound.observe(outcome.results);
    outcome = { ...outcome, results: this.runtime.outbound.reclassify(outcome.results) };
    const finishedAt = new Date();
    const status = worstStatus(outcome.results);
    const stored = await this.checks.storeRun({
      domainId: domain.id,
      trigger,
      status,
      startedAt,
      finishedAt,
      results: outcome.results,
      nextCheckAt: trigger === 'schedule' ? new Date(startedAt.getTime() + interval) : null,
    });
    const findings = await this.findings.applyRun({ id: domain.id, name: domain.name, labels: domain.labels as Record<string, string> }, outcome.results, finishedAt);
    this.logger.pino.info({ context: 'Check', domain: domain.name, trigger, status, ms: finishedAt.getTime() - startedAt.getTime(), results: outcome.results.length, opened: findings.opened.length, resolved: findings.resolved.length }, 'check finished');
    this.emitter.emit('completed', { domain, trigger, outcome, startedAt, finishedAt, status } satisfies CompletedCheck);
    return { run: stored, findings };
  }
}
