import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AgedCache, KeyedLimiter, type AgedEntry } from './shared-work.js';

/**
 * What SharedWork and KeyedLimiter do inside one process, across every worker of a fleet on
 * Redis:
 * - a result is stored in Redis with the time it was obtained, and reused by any worker whose
 *   asking domain tolerates its age (the same rule as in-process);
 * - a cross-process single flight: while one worker probes a key, the others wait for its
 *   result instead of probing the same host at the same time;
 * - the per-address limit holds fleet-wide (a semaphore of leases), so N workers do not open
 *   N connections at once to a provider's MX.
 * A local SharedWork in front keeps the common case (a provider's MX asked by thousands of
 * domains) to one Redis read per key per process and cycle. When Redis fails, work falls back
 * to the process-local behaviour: a check is never lost for want of sharing.
 */

/** JSON with the types probe results carry (Date, Map, Set, bigint, bytes) kept as such. */
export const sharedCodec = {
  encode(value: unknown): string {
    return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
      const raw = this[key];
      if (raw instanceof Date) return { $t: 'date', v: Number.isNaN(raw.getTime()) ? null : raw.toISOString() };
      if (raw instanceof Map) return { $t: 'map', v: [...raw.entries()] };
      if (raw instanceof Set) return { $t: 'set', v: [...raw.values()] };
      if (typeof raw === 'bigint') return { $t: 'bigint', v: raw.toString() };
      if (raw instanceof Uint8Array) return { $t: 'bytes', v: Buffer.from(raw).toString('base64') };
      if (raw === undefined && Array.isArray(this)) return { $t: 'undef' };
      if (typeof raw === 'number' && !Number.isFinite(raw)) return { $t: 'num', v: String(raw) };
      // An object of ours that happens to have a `$t` key is escaped, so it cannot be read as a tag.
      if (v && typeof v === 'object' && !Array.isArray(v) && Object.prototype.hasOwnProperty.call(v, '$t')) return { $t: 'obj', v: Object.entries(v) };
      return v;
    });
  },
  decode<T>(text: string): T {
    return JSON.parse(text, (_key, v: unknown) => {
      if (!v || typeof v !== 'object' || Array.isArray(v) || !('$t' in v)) return v;
      const t = v as { $t: string; v: unknown };
      switch (t.$t) {
        case 'date':
          return new Date(t.v === null ? NaN : (t.v as string));
        case 'map':
          return new Map(t.v as Array<[unknown, unknown]>);
        case 'set':
          return new Set(t.v as unknown[]);
        case 'bigint':
          return BigInt(t.v as string);
        case 'bytes':
          return Buffer.from(t.v as string, 'base64');
        case 'undef':
          return undefined;
        case 'num':
          return Number(t.v);
        case 'obj':
          return Object.fromEntries(t.v as Array<[string, unknown]>);
        default:
          return v;
      }
    }) as T;
  },
};

export interface RedisSharedWorkOptions {
  /** Key prefix of the installation (redisPrefixFor). */
  prefix: string;
  /** How long a result stays in Redis at most (the longest interval any domain may have). */
  resultTtlMs?: number;
  /** How long a single flight may hold its key; a worker that died frees it after this. */
  flightTtlMs?: number;
  /** A Redis call waited for at most, before falling back to local work. */
  redisTimeoutMs?: number;
  now?: () => number;
  /** Bounds of this process's copy of what is in Redis. */
  localMaxEntries?: number;
  localMaxBytes?: number;
}

/** Injection token: the fleet-wide SharedWork and per-address limiter, present when Redis is configured. */
export const FLEET_SHARING = Symbol('FLEET_SHARING');

export interface FleetSharing {
  shared: RedisSharedWork;
  perAddress: RedisKeyedLimiter;
}

/**
 * One round trip where there were three: the result, if there is one young enough
 * (`at >= ARGV[1]`, the stored text being `<at>|<json>`), else the flight (`{2}` taken, `{0}`
 * held by another worker). Atomic, so a worker that stored its result and let go of the flight
 * between a read and a SET NX can no longer be missed (the second read that covered that race
 * is gone too).
 */
const CLAIM = `
local r = redis.call('get', KEYS[1])
if r then
  local sep = string.find(r, '|', 1, true)
  local at = sep and tonumber(string.sub(r, 1, sep - 1))
  if at and at >= tonumber(ARGV[1]) then return {1, r} end
end
if redis.call('set', KEYS[2], ARGV[2], 'PX', ARGV[3], 'NX') then return {2} end
return {0}`;
/** The result stored and the flight let go (if still ours), in one round trip. */
const STORE = `
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('get', KEYS[2]) == ARGV[3] then redis.call('del', KEYS[2]) end
return 1`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const ACQUIRE = `
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])
if redis.call('zcard', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('zadd', KEYS[1], ARGV[3], ARGV[4])
  redis.call('pexpire', KEYS[1], ARGV[5])
  return 1
end
return 0`;
const EXTEND = `if redis.call('zscore', KEYS[1], ARGV[2]) then redis.call('zadd', KEYS[1], ARGV[1], ARGV[2]) redis.call('pexpire', KEYS[1], ARGV[3]) return 1 end return 0`;

const SCRIPTS = {
  claim: { keys: 2, lua: CLAIM },
  store: { keys: 2, lua: STORE },
  release: { keys: 1, lua: RELEASE },
  acquire: { keys: 1, lua: ACQUIRE },
  extend: { keys: 1, lua: EXTEND },
};
type ScriptCall = (...args: Array<string | number>) => Promise<unknown>;
type FleetScripts = Record<keyof typeof SCRIPTS, ScriptCall>;
const defined = new WeakMap<Redis, FleetScripts>();

/**
 * The scripts as ioredis commands of this connection: sent as EVALSHA (the script's text and
 * Redis's hashing of it once per connection, not once per call), EVAL again after a NOSCRIPT.
 */
function scriptsOf(redis: Redis): FleetScripts {
  let known = defined.get(redis);
  if (!known) {
    const commands = redis as unknown as Record<string, ScriptCall>;
    const out = {} as FleetScripts;
    for (const [name, { keys, lua }] of Object.entries(SCRIPTS) as Array<[keyof FleetScripts, (typeof SCRIPTS)['claim']]>) {
      const command = `mxwatchFleet_${name}`;
      if (typeof commands[command] !== 'function') redis.defineCommand(command, { numberOfKeys: keys, lua });
      out[name] = (...args) => commands[command]!(...args);
    }
    defined.set(redis, (known = out));
  }
  return known;
}

interface Stored {
  at: number;
  value: unknown;
}

/** A result as kept in Redis: the time it was obtained, readable by CLAIM, then the value (wrapped: it may be `undefined`). */
function storedText(at: number, value: unknown): string {
  return `${at}|${sharedCodec.encode({ value })}`;
}

export class RedisSharedWork {
  /**
   * This process's view: in-flight promises and results with the time they were obtained
   * (possibly by another worker). Redis holds them all; here only what is asked for often (a
   * provider's MX), within a few MB: anything else is one Redis read away.
   */
  private readonly local: AgedCache;
  private readonly resultTtlMs: number;
  private readonly flightTtlMs: number;
  private readonly now: () => number;
  /** Counters for tests and metrics: results found in Redis, probes run here, waits on another worker's flight. */
  readonly stats = { redisHits: 0, ran: 0, waited: 0, fallbacks: 0 };

  private readonly scripts: FleetScripts;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisSharedWorkOptions,
  ) {
    this.scripts = scriptsOf(redis);
    this.now = options.now ?? Date.now;
    this.resultTtlMs = options.resultTtlMs ?? 24 * 3600_000;
    this.flightTtlMs = options.flightTtlMs ?? 120_000;
    this.local = new AgedCache({ maxEntries: options.localMaxEntries ?? 10_000, maxBytes: options.localMaxBytes ?? 8 * 1024 * 1024, now: this.now });
  }

  /** The same contract as SharedWork.run: a result no older than `maxAgeMs`, probed at most once at a time fleet-wide. */
  run<T>(key: string, maxAgeMs: number, fn: () => Promise<T>): Promise<T> {
    const t = this.now();
    const e = this.local.fresh(key, maxAgeMs, t);
    if (e) return e.value as Promise<T>;
    // One promise for this process's askers; its age becomes that of the result it resolves to.
    const stored: { entry?: AgedEntry<unknown> } = {};
    const value = this.fleetRun(key, maxAgeMs, fn).then(({ at, value }) => {
      if (stored.entry) stored.entry.at = at;
      return value;
    });
    stored.entry = this.local.set(key, t, value);
    return value as Promise<T>;
  }

  private resultKey(key: string): string {
    // r2: `<at>|<json>` (CLAIM reads the time); an older release's `sw:r:` JSON is never read as such.
    return `${this.options.prefix}:sw:r2:${key}`;
  }

  private flightKey(key: string): string {
    return `${this.options.prefix}:sw:f:${key}`;
  }

  private async fleetRun<T>(key: string, maxAgeMs: number, fn: () => Promise<T>): Promise<{ at: number; value: T }> {
    const token = randomUUID();
    let waitMs = 20;
    const giveUpAt = this.now() + this.flightTtlMs + 5_000;
    const resultKey = this.resultKey(key);
    const flightKey = this.flightKey(key);
    for (;;) {
      let claim: [number, string?];
      try {
        const minAt = this.now() - maxAgeMs;
        claim = (await this.scripts.claim(resultKey, flightKey, Number.isFinite(minAt) ? String(Math.floor(minAt)) : '-1e308', token, this.flightTtlMs)) as [number, string?];
      } catch {
        // Redis unreachable: probe here, as a single process would.
        this.stats.fallbacks++;
        const at = this.now();
        return { at, value: await fn() };
      }
      if (claim[0] === 1) {
        const stored = this.decode(claim[1]!);
        if (stored) {
          this.stats.redisHits++;
          return stored as { at: number; value: T };
        }
        // Unreadable (not written by this code): dropped, and the key is claimed again at once.
        await this.redis.del(resultKey).catch(() => undefined);
        continue;
      }
      if (claim[0] === 2) {
        this.stats.ran++;
        const at = this.now();
        let value: T;
        try {
          value = await fn();
        } catch (e) {
          await this.scripts.release(flightKey, token).catch(() => undefined);
          throw e;
        }
        // Stored before the flight is let go, in the same script: a worker that finds the flight
        // free finds the result too.
        await this.scripts.store(resultKey, flightKey, storedText(at, value), this.resultTtlMs, token).catch(() => undefined);
        return { at, value };
      }
      // Another worker is probing this key: wait for its result (or for its flight to lapse).
      this.stats.waited++;
      if (this.now() > giveUpAt) {
        this.stats.fallbacks++;
        const at = this.now();
        return { at, value: await fn() };
      }
      await new Promise((r) => setTimeout(r, waitMs));
      waitMs = Math.min(waitMs * 2, 250);
    }
  }

  /** A stored result's text (`<at>|<json>`, as storedText writes it); null when it cannot be read (then the key is probed again). */
  private decode(text: string): Stored | null {
    const sep = text.indexOf('|');
    try {
      return { at: Number(text.slice(0, sep)), value: sharedCodec.decode<{ value: unknown }>(text.slice(sep + 1)).value };
    } catch {
      return null;
    }
  }
}

/**
 * At most `concurrency` tasks per key across the fleet: a sorted set of leases per key (score =
 * lease expiry), taken with one script, extended while the task runs, removed when it ends; a
 * dead worker's lease expires. A local KeyedLimiter in front keeps a process's own waiters off Redis.
 */
export class RedisKeyedLimiter {
  private readonly local: KeyedLimiter;
  private readonly leaseMs: number;
  readonly stats = { waited: 0, fallbacks: 0 };
  private readonly scripts: FleetScripts;

  constructor(
    private readonly redis: Redis,
    private readonly options: { prefix: string; concurrency?: number; leaseMs?: number; maxWaitMs?: number },
  ) {
    this.scripts = scriptsOf(redis);
    this.local = new KeyedLimiter(options.concurrency ?? 1);
    this.leaseMs = options.leaseMs ?? 30_000;
  }

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.local.run(key, () => this.fleetRun(key, fn));
  }

  private async fleetRun<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const k = `${this.options.prefix}:lim:${key}`;
    const token = randomUUID();
    const concurrency = this.options.concurrency ?? 1;
    const giveUpAt = Date.now() + (this.options.maxWaitMs ?? 120_000);
    let waitMs = 10;
    for (;;) {
      let got: boolean;
      try {
        const now = Date.now();
        got = (await this.scripts.acquire(k, String(now), String(concurrency), String(now + this.leaseMs), token, String(this.leaseMs * 2))) === 1;
      } catch {
        this.stats.fallbacks++;
        return fn();
      }
      if (got) break;
      this.stats.waited++;
      if (Date.now() > giveUpAt) {
        // Better one connection too many than a check that never runs.
        this.stats.fallbacks++;
        return fn();
      }
      await new Promise((r) => setTimeout(r, waitMs));
      waitMs = Math.min(waitMs * 2, 200);
    }
    const extend = setInterval(() => {
      const now = Date.now();
      void this.scripts.extend(k, String(now + this.leaseMs), token, String(this.leaseMs * 2)).catch(() => undefined);
    }, Math.floor(this.leaseMs / 3));
    extend.unref();
    try {
      return await fn();
    } finally {
      clearInterval(extend);
      await this.redis.zrem(k, token).catch(() => undefined);
    }
  }
}
