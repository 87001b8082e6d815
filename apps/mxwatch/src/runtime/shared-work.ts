import pLimit, { type LimitFunction } from 'p-limit';
import { approximateBytes, flat } from '../common/kept-values.js';

export interface AgedEntry<V> {
  /** When the value was obtained (epoch ms). */
  at: number;
  value: Promise<V>;
  /** approximateBytes of the settled value; 0 while in flight. */
  bytes: number;
  settled: boolean;
  /** Insertion order, for the least-recently-used order without a re-insert on every hit. */
  seq: number;
}

export interface AgedCacheOptions {
  maxEntries: number;
  maxBytes: number;
  now?: () => number;
}

/**
 * Promises of results with the time each was obtained, for work shared between checks. Bounded
 * by entries and by bytes (estimated when a result settles): the least recently used go first,
 * so the hosts thousands of domains share stay while the one-domain hosts of a long cycle leave.
 * An entry older than any age ever asked for is of no use to anyone and leaves too.
 */
export class AgedCache<V = unknown> {
  private readonly entries = new Map<string, AgedEntry<V>>();
  private readonly now: () => number;
  private bytesHeld = 0;
  private seq = 0;
  /** The longest age any asker has tolerated so far. */
  private longestAgeMs = 0;

  constructor(private readonly options: AgedCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The entry for `key` if it is at most `maxAgeMs` old. */
  fresh(key: string, maxAgeMs: number, t = this.now()): AgedEntry<V> | undefined {
    if (maxAgeMs > this.longestAgeMs) this.longestAgeMs = maxAgeMs;
    const e = this.entries.get(key);
    if (!e || t - e.at > maxAgeMs) return undefined;
    // Re-inserting on every hit costs a Map delete + set per shared lookup; the older half is enough.
    if (this.seq - e.seq >= this.entries.size / 2) {
      this.entries.delete(key);
      e.seq = ++this.seq;
      this.entries.set(key, e);
    }
    return e;
  }

  /** Stores `value` as obtained at `at`; its size counts once it settles, a rejection removes it. */
  set(key: string, at: number, value: Promise<V>): AgedEntry<V> {
    // Held as the Map's key for as long as the entry: flat (a Map does not flatten what it hashes).
    key = flat(key);
    this.delete(key);
    const entry: AgedEntry<V> = { at, value, bytes: 0, settled: false, seq: ++this.seq };
    this.entries.set(key, entry);
    value.then(
      (v) => {
        if (this.entries.get(key) !== entry) return;
        entry.settled = true;
        // Held for every domain that shares it, for up to an interval: its strings as flat ones.
        entry.bytes = approximateBytes(v, undefined, { flatten: true });
        this.bytesHeld += entry.bytes;
        this.evict();
      },
      () => this.entries.get(key) === entry && this.delete(key),
    );
    this.evict();
    return entry;
  }

  delete(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.bytesHeld -= e.bytes;
  }

  private evict(): void {
    const { maxEntries, maxBytes } = this.options;
    const expired = this.now() - this.longestAgeMs;
    for (const [key, e] of this.entries) {
      // Map order is least recently used first. An entry in flight is never too old: askers are waiting on it.
      if (this.entries.size > maxEntries || this.bytesHeld > maxBytes || (e.settled && e.at < expired)) this.delete(key);
      else if (e.settled) break;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.bytesHeld;
  }
}

/** Bounds of the in-process shared work: ~12 MB held at 10,000 domains in the bench; at 100,000 the cold one-domain hosts leave first. */
export const SHARED_WORK_LIMITS = { maxEntries: 50_000, maxBytes: 32 * 1024 * 1024 };

/**
 * Work shared between domains: one SMTP session per (address, port), one DNSBL query per
 * (subject, zone), one zone-health test per zone. Large providers serve thousands of domains
 * from a few MX hosts, so each result is reused by every domain that points there, as long as
 * it is younger than what the asking domain tolerates (its own interval). Concurrent askers
 * share the one in-flight promise.
 */
export class SharedWork {
  private readonly cache: AgedCache;
  hits = 0;
  misses = 0;

  constructor(
    limits: { maxEntries: number; maxBytes: number } | number = SHARED_WORK_LIMITS,
    private readonly now: () => number = Date.now,
  ) {
    const l = typeof limits === 'number' ? { ...SHARED_WORK_LIMITS, maxEntries: limits } : limits;
    this.cache = new AgedCache({ ...l, now });
  }

  run<T>(key: string, maxAgeMs: number, fn: () => Promise<T>): Promise<T> {
    const t = this.now();
    const e = this.cache.fresh(key, maxAgeMs, t);
    if (e) {
      this.hits++;
      return e.value as Promise<T>;
    }
    this.misses++;
    // A failed promise is a bug in a probe (probes return results): never cached.
    return this.cache.set(key, t, fn()).value as Promise<T>;
  }

  get size(): number {
    return this.cache.size;
  }

  get bytes(): number {
    return this.cache.bytes;
  }
}

/** At most `concurrency` tasks at once per key (one SMTP connection at a time per address). */
export class KeyedLimiter {
  private readonly limits = new Map<string, LimitFunction>();

  constructor(private readonly concurrency = 1) {}

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let limit = this.limits.get(key);
    if (!limit) {
      limit = pLimit(this.concurrency);
      this.limits.set(key, limit);
    }
    const l = limit;
    return l(fn).finally(() => {
      if (l.activeCount === 0 && l.pendingCount === 0) this.limits.delete(key);
    });
  }
}
