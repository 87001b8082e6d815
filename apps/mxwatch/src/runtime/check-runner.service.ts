import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.types.js';
import { AppLogger } from '../common/app-logger.js';
import type { ProbeResult, ProbeStatus } from '../probes/probe.types.js';
import { ChecksRepository, type RunBaseline, type StoredRun } from '../storage/checks.repository.js';
import type { DomainRow } from '../storage/domains.repository.js';
import { runDomainCheck, type DomainCheckOutcome } from './domain-check.js';
import { EventBus, type CheckCompletedEvent } from './events.js';
import { FindingsService } from './findings.service.js';
import { ProbeRuntime } from './probe-runtime.service.js';
import { DatabaseOutage } from './run-buffer.js';

const ORDER: ProbeStatus[] = ['pass', 'untestable', 'warn', 'fail'];

/** fail > warn > untestable > pass: a run that could not test everything is not a clean pass. */
export function worstStatus(results: ReadonlyArray<Pick<ProbeResult, 'status'>>): ProbeStatus {
  let worst = 0;
  for (const r of results) worst = Math.max(worst, ORDER.indexOf(r.status));
  return ORDER[worst]!;
}

/** Too many manual checks are already waiting: the API answers 429 with Retry-After. */
export class ManualQueueFullError extends Error {
  constructor(readonly waiting: number, readonly retryAfterSeconds: number) {
    super(`${waiting} manual checks are already waiting; try again in ${retryAfterSeconds} s`);
  }
}

export type CompletedCheck = CheckCompletedEvent;

export interface RunOptions {
  /**
   * A queued check's job id: the run is stored under it, once (a second store of the same job
   * throws DuplicateRunError). Passed explicitly rather than through an AsyncLocalStorage, whose
   * promise hooks cost every promise of a worker ~3 % of its CPU.
   */
  idempotencyKey?: string;
}

/** probe -> store -> findings -> `check.completed`. One domain's failure never escapes a cycle. */
@Injectable()
export class CheckRunner {
  private manualWaiting = 0;

  constructor(
    private readonly runtime: ProbeRuntime,
    private readonly checks: ChecksRepository,
    private readonly findings: FindingsService,
    private readonly events: EventBus,
    private readonly logger: AppLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly outage: DatabaseOutage,
  ) {}

  /**
   * Manual and scheduled checks share one limit of checks at once (MXWATCH_CHECK_CONCURRENCY) and
   * one of connections at once (MXWATCH_MAX_CONNECTIONS); at most MXWATCH_MANUAL_QUEUE manual
   * checks wait, beyond that the caller is told to come back (ManualQueueFullError).
   */
  async run(domain: DomainRow, trigger: 'manual' | 'schedule', options: RunOptions = {}) {
    if (trigger !== 'manual') return this.runtime.checks(() => this.runNow(domain, trigger, options));
    if (this.manualWaiting >= this.config.limits.manualQueue) throw new ManualQueueFullError(this.manualWaiting, Math.max(1, Math.ceil(this.config.checkTimeoutSeconds / 4)));
    this.manualWaiting++;
    let started = false;
    return this.runtime.checks(() => {
      started = true;
      this.manualWaiting--;
      return this.runNow(domain, trigger, options);
    }).finally(() => {
      if (!started) this.manualWaiting--;
    });
  }

  private async runNow(domain: DomainRow, trigger: 'manual' | 'schedule', options: RunOptions) {
    const startedAt = new Date();
    const interval = (domain.intervalSeconds ?? this.config.checkIntervalSeconds) * 1000;
    const { ctx, dispose } = this.runtime.context();
    let outcome: DomainCheckOutcome;
    try {
      outcome = await runDomainCheck(
        ctx,
        { name: domain.name, submissionHosts: domain.submissionHosts, sendingIps: domain.sendingIps, dkimSelectors: domain.dkimSelectors },
        {
          probes: this.runtime.probes,
          shared: this.runtime.shared,
          perAddress: this.runtime.perAddress,
          connections: this.runtime.connections,
          // A scheduled check may reuse what another domain's check learnt within 90% of this
          // domain's interval; an operator's manual check always probes afresh.
          maxAgeMs: trigger === 'manual' ? 0 : interval * 0.9,
        },
      );
    } finally {
      dispose();
    }
    const results = outcome.results;
    const finishedAt = new Date();
    const status = worstStatus(results);
    // When the database is unavailable the finished run is kept (bounded) and stored once it is
    // back (runtime/run-buffer.ts); a step that already succeeded is not repeated then.
    let stored: StoredRun | undefined;
    return this.outage.persistOrKeep(domain.name, async () => {
      // What the run is compared with comes with the statement that stores it; a later attempt
      // (the database came back after the store) reads it afresh.
      let baseline: RunBaseline | undefined;
      if (!stored) ({ run: stored, baseline } = await this.checks.storeRunWithBaseline({
        domainId: domain.id,
        trigger,
        status,
        startedAt,
        finishedAt,
        results,
        nextCheckAt: trigger === 'schedule' ? new Date(startedAt.getTime() + interval) : null,
        idempotencyKey: options.idempotencyKey,
      }));
      const findings = await this.findings.applyRun({ id: domain.id, name: domain.name, labels: domain.labels as Record<string, string> }, results, finishedAt, baseline);
      this.logger.pino.info({ context: 'Check', domain: domain.name, trigger, status, ms: finishedAt.getTime() - startedAt.getTime(), results: results.length, opened: findings.opened.length, resolved: findings.resolved.length }, 'check finished');
      await this.events.emit('check.completed', { domain, trigger, results, startedAt, finishedAt, status, opened: findings.opened, resolved: findings.resolved, policyStates: findings.policyStates });
      return { run: stored, findings };
    });
  }
}
