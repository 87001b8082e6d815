/**
 * FastSmtpFleet spread over child processes. Each listener is a file descriptor, and this
 * machine's hard limit is 20,000 per process (it cannot be raised, not even as root): a
 * 100,000-domain fleet needs ~24,000 listeners, more than one process may open. Each child
 * (`fast-smtp-child.ts`, forked) runs a plain FastSmtpFleet for a share of the addresses, whole
 * addresses per child, so a listener and its counts live in exactly one process. Counts come
 * back over IPC on request; a child exits when its parent closes it or goes away (the IPC
 * channel disconnects), so a crashed benchmark leaves no listeners behind.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { processCpuMs } from '../../test/support/app-process.js';
import type { FastSmtpOptions, FastSmtpStats } from './fast-smtp.js';
import type { MailAddress } from './fleet-model.js';

export interface FastSmtpShardsOptions extends FastSmtpOptions {
  /** Child processes to spread the addresses over (fewer when there are fewer addresses). */
  shards: number;
  /**
   * The child's entry script. Default: the compiled `fast-smtp-child.js` next to this module
   * (dist-bench/bench/fleet/); a test running TypeScript sources passes a compiled copy.
   */
  script?: string;
}

/** Parent to child. Every request is answered by a `reply` with its id. */
export type ShardRequest =
  | { type: 'start'; id: number; addresses: MailAddress[]; options: FastSmtpOptions }
  | { type: 'stats'; id: number; perListener: boolean }
  | { type: 'reset'; id: number }
  | { type: 'close'; id: number };

/** Child to parent; `error.code` carries e.g. EADDRINUSE, which the benchmark retries on. */
export type ShardReply = { type: 'reply'; id: number; listeners?: number; stats?: FastSmtpStats; error?: { message: string; code?: string } };

/** A request before it gets its id (Omit over each member of the union). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** How long a child may take to close its listeners and exit before it is killed. */
const CLOSE_GRACE_MS = 10_000;

/** Listeners the addresses need: one per open port of each. */
export function listenerCount(addresses: Iterable<MailAddress>): number {
  let n = 0;
  for (const a of addresses) n += a.open.length;
  return n;
}

/** Whole addresses per shard, in order, each shard with about the same number of listeners. */
export function splitAddresses(addresses: readonly MailAddress[], shards: number): MailAddress[][] {
  const groups: MailAddress[][] = Array.from({ length: Math.max(1, shards) }, () => []);
  const total = listenerCount(addresses);
  let before = 0;
  for (const a of addresses) {
    groups[Math.min(groups.length - 1, Math.floor((before * groups.length) / Math.max(1, total)))]!.push(a);
    before += a.open.length;
  }
  return groups.filter((g) => g.length > 0);
}

class Shard {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: ShardReply) => void; reject: (e: Error) => void }>();
  private gone: Error | null = null;
  private lastCpuMs = 0;
  readonly exited: Promise<void>;

  constructor(
    private readonly child: ChildProcess,
    readonly index: number,
  ) {
    child.on('message', (m: ShardReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(Object.assign(new Error(`fast-smtp shard ${index} (pid ${child.pid}): ${m.error.message}`), { code: m.error.code }));
      else p.resolve(m);
    });
    this.exited = new Promise((resolve) => {
      const fail = (why: string) => {
        this.gone ??= new Error(`fast-smtp shard ${index} (pid ${child.pid}) ${why}`);
        for (const p of this.pending.values()) p.reject(this.gone);
        this.pending.clear();
      };
      child.on('error', (e) => {
        fail(`failed: ${e.message}`);
        // A child that never started fires no 'exit'.
        if (child.pid === undefined) resolve();
      });
      child.once('exit', (code, signal) => {
        fail(`exited (${signal ?? `code ${code}`})`);
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  request(message: WithoutId<ShardRequest>): Promise<ShardReply> {
    if (this.gone) return Promise.reject(this.gone);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...message, id } as ShardRequest, (e) => {
        if (!e || !this.pending.has(id)) return;
        this.pending.delete(id);
        reject(e);
      });
    });
  }

  /** User + system CPU of the child so far (all its threads), from /proc; the last value read once it is gone. */
  cpuMs(): number {
    this.lastCpuMs = processCpuMs(this.pid) ?? this.lastCpuMs;
    return this.lastCpuMs;
  }

  /** Asks the child to close its listeners and exit; kills it when it does not in time. */
  async close(): Promise<void> {
    if (!this.running) return this.exited;
    this.request({ type: 'close' }).catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), CLOSE_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

export class FastSmtpShards {
  private listenerCount = 0;

  private constructor(private readonly shards: Shard[]) {}

  /**
   * Forks the children and starts a listener on every open port of every address. Rejects
   * (after ending every child) when a port is taken, with the error's code (EADDRINUSE) as
   * FastSmtpFleet.start throws it.
   */
  static async start(addresses: Iterable<MailAddress>, options: FastSmtpShardsOptions): Promise<FastSmtpShards> {
    const all = [...addresses];
    for (const a of all) if (!a.ip.startsWith('127.')) throw new Error(`FastSmtpShards serves loopback addresses only, not ${a.ip}`);
    const script = options.script ?? fileURLToPath(new URL('./fast-smtp-child.js', import.meta.url));
    if (!existsSync(script)) throw new Error(`${script} is missing: compile the bench (npx tsc -p bench/tsconfig.json) or pass options.script`);
    const { shards: _shards, script: _script, ...fleetOptions } = options;
    const groups = splitAddresses(all, options.shards);
    // No execArgv: the children need none of the parent's flags (a test runner's loaders included).
    const set = new FastSmtpShards(groups.map((_, i) => new Shard(fork(script, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }), i)));
    try {
      const replies = await Promise.all(set.shards.map((s, i) => s.request({ type: 'start', addresses: groups[i]!, options: fleetOptions })));
      set.listenerCount = replies.reduce((n, r) => n + (r.listeners ?? 0), 0);
    } catch (e) {
      await set.close();
      throw e;
    }
    return set;
  }

  get listeners(): number {
    return this.listenerCount;
  }

  /** Processes serving the listeners. */
  get processes(): number {
    return this.shards.length;
  }

  get pids(): number[] {
    return this.shards.map((s) => s.pid);
  }

  /** CPU (ms, user + system) the children have used so far: the benchmark's own CPU does not include it. */
  cpuMs(): number {
    return this.shards.reduce((n, s) => n + s.cpuMs(), 0);
  }

  /** Starts counting afresh in every child; resolves once all have. */
  async resetStats(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.request({ type: 'reset' })));
  }

  /** Every child's counts as they are when it answers, merged; each listener is counted by one child only. */
  async readStats(options: { perListener?: boolean } = {}): Promise<FastSmtpStats> {
    const replies = await Promise.all(this.shards.map((s) => s.request({ type: 'stats', perListener: options.perListener !== false })));
    const merged: FastSmtpStats = { connections: 0, byPort: { 25: 0, 587: 0, 465: 0 }, tlsHandshakes: 0, quits: 0, perListener: new Map() };
    for (const { stats } of replies) {
      if (!stats) continue;
      merged.connections += stats.connections;
      merged.tlsHandshakes += stats.tlsHandshakes;
      merged.quits += stats.quits;
      for (const port of [25, 587, 465] as const) merged.byPort[port] += stats.byPort[port];
      for (const [k, n] of stats.perListener) merged.perListener.set(k, (merged.perListener.get(k) ?? 0) + n);
    }
    return merged;
  }

  /** Ends every child (its listeners and connections with it). */
  async close(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.close()));
  }
}
