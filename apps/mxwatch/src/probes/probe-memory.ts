/**
 * What the over-time findings (MTA-STS policies senders may still hold, DANE keys presented on
 * the last run) remember between runs. The runtime lends a store through the context
 * (`ctx.memory`: the database's ProbeMemory table, so it survives restarts and is shared by every
 * worker); a context that lends none (the CLI's one-shot check, unit tests) leaves each probe with
 * a bounded map of its own, which is lost on restart and is per process.
 */
import type { ProbeMemory } from './probe.types.js';

export type { ProbeMemory };

/** A process-local store that forgets the least recently used keys past `maxEntries`. */
export class BoundedMemory implements ProbeMemory {
  private readonly entries = new Map<string, unknown>();

  constructor(private readonly maxEntries = 20_000) {}

  async get<T>(key: string): Promise<T | undefined> {
    if (!this.entries.has(key)) return undefined;
    const value = this.entries.get(key);
    this.entries.delete(key);
    this.entries.set(key, value);
    // A copy: a caller mutating what it read must not change what is remembered until it sets it.
    return structuredClone(value) as T;
  }

  async set<T>(key: string, value: T): Promise<void> {
    this.entries.delete(key);
    this.entries.set(key, structuredClone(value));
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
