import type { AppConfig } from '../config/config.types.js';

/** What one process does, from MXWATCH_ROLE, MXWATCH_REDIS_URL and MXWATCH_SCHEDULER. */
export interface RolePlan {
  /** `full`: REST API, pages, metrics, health; `health`: only /health/* and the worker's own /metrics. */
  http: 'full' | 'health';
  /**
   * Who finds due domains: `local` claims them (FOR UPDATE SKIP LOCKED, safe with several
   * replicas on one database) and checks them in this process; `queue` runs for the leader
   * lock and enqueues them to Redis.
   */
  scheduler: 'none' | 'local' | 'queue';
  /** `queue`: this process consumes check jobs from Redis. */
  checks: 'none' | 'local' | 'queue';
  /** `queue`: `POST /domains/{name}/check` is run by a worker; `local`: in this process. */
  manualChecks: 'local' | 'queue' | 'none';
}

/**
 * `all` (default) is today's single process; `api` serves HTTP and runs no scheduled checks;
 * `worker` runs checks and answers only health (and its own metrics). Without Redis an `api`
 * replica still runs a manual check itself (an operator asked for it); scheduled checks are
 * claimed by `all`/`worker` replicas through the database.
 */
export function rolePlan(config: Pick<AppConfig, 'role' | 'redisUrl' | 'scheduler'>): RolePlan {
  const role = config.role ?? 'all';
  const redis = Boolean(config.redisUrl);
  const checks = role === 'api' ? 'none' : redis ? 'queue' : 'local';
  return {
    http: role === 'worker' ? 'health' : 'full',
    scheduler: role === 'api' || !config.scheduler ? 'none' : redis ? 'queue' : 'local',
    checks,
    manualChecks: role === 'worker' ? 'none' : role === 'api' && redis ? 'queue' : 'local',
  };
}
