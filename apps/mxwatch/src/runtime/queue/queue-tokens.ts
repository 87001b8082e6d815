/** Injection tokens of the queue module (kept apart so services can import them without cycles). */
export const CHECK_QUEUE_OPTIONS = Symbol('CHECK_QUEUE_OPTIONS');
/** Present on an `api` replica with Redis: manual checks go through the queue. */
export const REMOTE_CHECKS = Symbol('REMOTE_CHECKS');

export interface RemoteChecks {
  /** The same answer as an in-process manual check, produced by a worker. */
  checkNow(name: string): Promise<unknown>;
}

/** Present whenever MXWATCH_REDIS_URL is set: whether Redis answers, for /health/ready. */
export const QUEUE_HEALTH = Symbol('QUEUE_HEALTH');

export interface QueueHealth {
  /**
   * `required`: this process cannot do its work without Redis (it runs checks or the
   * scheduler), so readiness fails; an `api` replica only loses manual checks.
   */
  check(): Promise<{ ok: true } | { ok: false; error: string; required: boolean }>;
}

/** Present where the queue scheduler runs: the jobs its recovery pass enqueued again, for /metrics. */
export const QUEUE_RECOVERY = Symbol('QUEUE_RECOVERY');

export interface QueueRecovery {
  /** `listener` hears how many lost jobs each recovery pass enqueued again (when any). */
  onRecovered(listener: (jobs: number) => void): void;
}

/** Present whenever MXWATCH_REDIS_URL is set: the check queue's job counts, for /metrics. */
export const QUEUE_STATS = Symbol('QUEUE_STATS');

export interface QueueStats {
  getJobCounts(...states: Array<'waiting' | 'active' | 'delayed' | 'prioritized' | 'paused' | 'failed' | 'completed'>): Promise<Record<string, number>>;
}
