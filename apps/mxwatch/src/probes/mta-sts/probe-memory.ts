/**
 * What the over-time findings (MTA-STS policies senders may still hold, DANE keys presented on
 * the last run) remember between runs. The runtime may lend a store through the context
 * (`ctx.memory`, e.g. one kept in the database so it survives restarts and is shared between
 * workers); without one, each probe keeps a bounded map in its own module, which is lost on
 * restart and is per process.
 */
import type { ProbeContext } from '../probe.types.js';

export interface ProbeMemory {
  get<T>(key: string): Promise<T | undefined>;
  set<T>(key: string, value: T): Promise<void>;
}

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

/** The store the runtime lends, when it lends one (the context field is optional). */
export function lentMemory(ctx: ProbeContext): ProbeMemory | undefined {
  const memory = (ctx as ProbeContext & { memory?: ProbeMemory }).memory;
  return memory && typeof memory.get === 'function' && typeof memory.set === 'function' ? memory : undefined;
}
