import type { Domain } from '../../generated/prisma/client.js';

/** The BullMQ queue every check goes through when MXWATCH_REDIS_URL is set. */
export const CHECK_QUEUE = 'checks';

/** Tuning of the queue, with production defaults; tests shorten the timings. */
export interface CheckQueueOptions {
  /** Redis key prefix of this installation (redisPrefixFor). */
  prefix: string;
  /** How long the scheduler role stays with a replica that stopped renewing it. */
  leaderTtlMs: number;
  /** A worker holds a job's lock this long without renewing it before the job counts as stalled. */
  lockDurationMs: number;
  /** How often workers look for stalled jobs (a killed worker's). */
  stalledIntervalMs: number;
  /** Jobs waiting in Redis at most; the scheduler claims more only below it. */
  maxWaiting: number;
  /** How long the API waits for a worker to run a manual check. */
  manualDeadlineMs: number;
  /**
   * A claimed slot that stored no run is looked for in Redis (and enqueued again if Redis lost
   * its job) once it was enqueued, or last found there, this long ago; longer than a check runs.
   */
  recoverAfterMs: number;
}

export interface ScheduledCheckJob {
  trigger: 'schedule';
  domainId: string;
  name: string;
  /** ISO time of the slot the domain was due for. */
  dueAt: string;
  /**
   * The domain's row as the claim left it: a worker that has heard of no change to the domain
   * since starts from it instead of reading it again (one statement per check fewer). Absent in
   * jobs of earlier versions.
   */
  row?: QueuedDomainRow;
  /**
   * Redis's clock (TIME, ms) read after the claim and before the enqueue: a worker whose
   * subscription to domain changes came up before it heard every change made after the claim
   * (domain-changes.ts). One clock for every process, so no host's clock skew matters.
   */
  claimedAt?: number;
  /**
   * Enqueued again by the scheduler's recovery pass after Redis lost the job: its worker reads
   * the row and looks for a run stored under the job's id first, as for any re-run.
   */
  recovered?: boolean;
}

/** A domain row as JSON in a job: its times as ISO strings. */
export type QueuedDomainRow = Omit<Domain, 'nextCheckAt' | 'lastCheckAt' | 'queuedSlot' | 'queuedAt' | 'createdAt' | 'updatedAt'> & {
  nextCheckAt: string | null;
  lastCheckAt: string | null;
  /** Absent in jobs of earlier versions. */
  queuedSlot?: string | null;
  queuedAt?: string | null;
  createdAt: string;
  updatedAt: string;
};

/** The row a claim returned, as a job carries it (without the claim's `dueAt`); a new column travels too. */
export function rowForJob(d: Domain & { dueAt?: Date }): QueuedDomainRow {
  const { dueAt: _, nextCheckAt, lastCheckAt, queuedSlot, queuedAt, createdAt, updatedAt, ...rest } = d;
  const iso = (t: Date | null | undefined) => t?.toISOString() ?? null;
  return { ...rest, nextCheckAt: iso(nextCheckAt), lastCheckAt: iso(lastCheckAt), queuedSlot: iso(queuedSlot), queuedAt: iso(queuedAt), createdAt: createdAt.toISOString(), updatedAt: updatedAt.toISOString() };
}

/** The row a job carries, as the repositories return it. */
export function rowFromJob(r: QueuedDomainRow): Domain {
  const at = (s: string | null | undefined) => (s === null || s === undefined ? null : new Date(s));
  return { ...r, nextCheckAt: at(r.nextCheckAt), lastCheckAt: at(r.lastCheckAt), queuedSlot: at(r.queuedSlot), queuedAt: at(r.queuedAt), createdAt: new Date(r.createdAt), updatedAt: new Date(r.updatedAt) };
}

export interface ManualCheckJob {
  trigger: 'manual';
  domainId: string;
  name: string;
}

export type CheckJobData = ScheduledCheckJob | ManualCheckJob;

/**
 * One job per domain and due slot: whichever scheduler enqueues the same claim again (a new
 * leader repeating a claim whose transaction it cannot know committed) adds nothing. BullMQ
 * refuses ':' in custom ids.
 */
export function scheduledJobId(domainId: string, dueAt: Date): string {
  return `s-${domainId}-${dueAt.getTime()}`;
}

/** What a processed job returns (JSON, kept in Redis with the job). */
export type CheckJobResult =
  | { outcome: 'stored'; runId: string }
  /** the run was already stored under this job's key: a re-run after a stall, nothing redone */
  | { outcome: 'duplicate'; runId: string | null }
  /** deleted or disabled before its turn */
  | { outcome: 'skipped' }
  | { outcome: 'manual'; response: unknown };
