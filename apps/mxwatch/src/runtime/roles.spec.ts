import { describe, expect, it } from 'vitest';
import { rolePlan } from './roles.js';

const REDIS = 'redis://127.0.0.1:6379';

describe(rolePlan.name, () => {
  it('should keep the single process of today by default (no Redis, role all)', () => {
    expect(rolePlan({ role: 'all', redisUrl: undefined, scheduler: true })).toEqual({ http: 'full', scheduler: 'local', checks: 'local', manualChecks: 'local' });
  });

  it('should move scheduled and worker checks to the queue with Redis, keeping manual checks in an all-in-one process', () => {
    expect(rolePlan({ role: 'all', redisUrl: REDIS, scheduler: true })).toEqual({ http: 'full', scheduler: 'queue', checks: 'queue', manualChecks: 'local' });
  });

  it('should give an api replica no scheduler and no checks, and send its manual checks to workers when there is a queue', () => {
    expect(rolePlan({ role: 'api', redisUrl: REDIS, scheduler: true })).toEqual({ http: 'full', scheduler: 'none', checks: 'none', manualChecks: 'queue' });
    expect(rolePlan({ role: 'api', redisUrl: undefined, scheduler: true })).toEqual({ http: 'full', scheduler: 'none', checks: 'none', manualChecks: 'local' });
  });

  it('should give a worker only health over HTTP, and let workers share a database without Redis', () => {
    expect(rolePlan({ role: 'worker', redisUrl: REDIS, scheduler: true })).toEqual({ http: 'health', scheduler: 'queue', checks: 'queue', manualChecks: 'none' });
    expect(rolePlan({ role: 'worker', redisUrl: undefined, scheduler: true })).toEqual({ http: 'health', scheduler: 'local', checks: 'local', manualChecks: 'none' });
  });

  it('should honour MXWATCH_SCHEDULER=false on any role', () => {
    expect(rolePlan({ role: 'worker', redisUrl: REDIS, scheduler: false }).scheduler).toBe('none');
    expect(rolePlan({ role: 'all', redisUrl: undefined, scheduler: false }).scheduler).toBe('none');
  });
});
