import pLimit, { type LimitFunction } from 'p-limit';

interface Entry {
  at: number;
  value: Promise<unknown>;
}

/**
 * Work shared between domains: one SMTP session per (address, port), one DNSBL query per
 * (subject, zone), one zone-health test per zone. Large providers serve thousands of domains
 * from a few MX hosts, so each result is reused by every domain that points there, as long as
 * it is younger than what the asking domain tolerates (its own interval). Concurrent askers
 * share the one in-flight promise.
 */
export class SharedWork {
  private readonly entries = new Map<string, Entry>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly maxEntries = 200_000,
    private readonly now: () => number = Date.now,
  ) {}

  run<T>(key: string, maxAgeMs: number, fn: () => Promise<T>): Promise<T> {
    const t = this.now();
    const e = this.entries.get(key);
    if (e && t - e.at <= maxAgeMs) {
      this.hits++;
      return e.value as Promise<T>;
    }
    this.misses++;
    const value = fn();
    // A failed promise is a bug in a probe (probes return results): never cache it.
    value.catch(() => this.entries.get(key)?.value === value && this.entries.delete(key));
    this.entries.delete(key);
    this.entries.set(key, { at: t, value });
    if (this.entries.size > this.maxEntries) this.evict();
    return value;
  }

  /** Drops the oldest entries (Map keeps insertion order, and a refresh re-inserts). */
  private evict(): void {
    const excess = this.entries.size - Math.floor(this.maxEntries * 0.9);
    let n = 0;
    for (const key of this.entries.keys()) {
      if (n++ >= excess) break;
      this.entries.delete(key);
    }
  }

  get size(): number {
    return this.entries.size;
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
