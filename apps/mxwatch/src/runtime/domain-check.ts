import type { DomainInput, PlanView, ProbeDefinition, ProbeEnv } from '../probes/probe-definition.js';
import type { ProbeContext, ProbeResult } from '../probes/probe.types.js';
import type { KeyedLimiter, SharedWork } from './shared-work.js';

export type { DomainInput };

export interface DomainCheckOptions {
  /** The registered probes to run (the registry, or a subset in tests and the CLI). */
  probes: readonly ProbeDefinition[];
  /** In-process SharedWork, or its fleet-wide version on Redis (RedisSharedWork). */
  shared: Pick<SharedWork, 'run'>;
  /** One connection at a time per address (fleet-wide with RedisKeyedLimiter). */
  perAddress: Pick<KeyedLimiter, 'run'>;
  /** The global limit of connections at once, whatever check they belong to. */
  connections?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** How old a shared result may be for this domain (0: fresh, for manual checks). */
  maxAgeMs: number;
}

export interface DomainCheckOutcome {
  /** Every probe's results, in registry order. */
  results: ProbeResult[];
}

/** Orders definitions so that every probe comes after the probes it needs (registry order otherwise). */
export function planOrder(probes: readonly ProbeDefinition[]): ProbeDefinition[] {
  const byName = new Map(probes.map((p) => [p.name, p]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: ProbeDefinition[] = [];
  const visit = (p: ProbeDefinition) => {
    if (done.has(p.name)) return;
    if (visiting.has(p.name)) throw new Error(`bug: probes ${[...visiting].join(' -> ')} -> ${p.name} need each other`);
    visiting.add(p.name);
    for (const need of p.needs) {
      const dep = byName.get(need);
      if (dep) visit(dep);
    }
    visiting.delete(p.name);
    done.add(p.name);
    out.push(p);
  };
  for (const p of probes) visit(p);
  return out;
}

/**
 * The planner: one domain, every registered probe, under the context's one deadline. It knows no
 * probe by name: each probe starts as soon as the probes it needs have finished, derives its
 * subjects from their results, and runs on each subject; work shared with other domains goes
 * through `shared`, connections through the per-address and global limits.
 */
export async function runDomainCheck(ctx: ProbeContext, domain: DomainInput, opts: DomainCheckOptions): Promise<DomainCheckOutcome> {
  const ordered = planOrder(opts.probes);
  const registered = new Set(ordered.map((p) => p.name));
  const finished = new Map<string, ProbeResult[]>();
  const running = new Map<string, Promise<ProbeResult[]>>();
  const memo = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    let p = memo.get(key) as Promise<T> | undefined;
    if (!p) {
      p = fn();
      memo.set(key, p);
    }
    return p;
  };
  const connections = opts.connections ?? (<T>(fn: () => Promise<T>) => fn());
  const env: ProbeEnv = {
    shared: (key, fn, options) => once(`shared|${key}`, () => opts.shared.run(key, Math.max(opts.maxAgeMs, options?.minAgeMs ?? 0), fn)),
    exclusive: (key, fn) => opts.perAddress.run(key, () => connections(fn)),
  };

  const runProbe = async (def: ProbeDefinition): Promise<ProbeResult[]> => {
    await Promise.all(def.needs.filter((n) => registered.has(n)).map((n) => running.get(n)));
    const view: PlanView = {
      domain,
      results: (probe) => (def.needs.includes(probe) ? finished.get(probe) ?? [] : []),
      once,
    };
    const subjects = await def.subjects(view, ctx);
    const results = (await Promise.all(subjects.map((s) => def.run(ctx, s, env)))).filter((r): r is ProbeResult => r !== null);
    const reviewed = def.reviewRun ? def.reviewRun(results) : results;
    finished.set(def.name, reviewed);
    return reviewed;
  };
  for (const def of ordered) running.set(def.name, runProbe(def));
  const all = await Promise.all(opts.probes.map((def) => running.get(def.name)!));
  return { results: all.flat() };
}
