import v8 from 'node:v8';

/**
 * V8 settings the service applies to itself at start, so that an operator gets a sensible
 * footprint without knowing any Node flag. Measured with the fleet bench (10,000 domains,
 * PostgreSQL): peak RSS 823 MB with Node's defaults, 472 MB with these, same CPU per domain.
 *
 * - `--heap-growing-percent=30`: after each full GC V8 lets the old generation grow to up to 4×
 *   the live data when it has memory to spare (a 24 GB machine), which is how ~170 MB of live
 *   data became a 540 MB heap during a cycle. 1.3× keeps the heap near what is alive; the extra
 *   full GCs cost no measurable CPU here (50 until the live data shrank: at ~120 MB live, 30 took
 *   20 MB less RSS than 50 for the same CPU, and 20 cost 10 % more CPU).
 * - `--liftoff-only` (PostgreSQL only): Prisma's query compiler is WebAssembly; V8's optimising
 *   tier recompiles its hot functions on background threads and the memory it took (~45 MB) stays
 *   with the process. The baseline compiler alone compiled queries as fast in a micro benchmark.
 *   Not with the embedded database, where PGlite, PostgreSQL itself in WebAssembly, runs every
 *   query and needs the optimising tier.
 *
 * These flags are read by V8 when it sizes the heap after a GC and when it compiles a
 * WebAssembly module, so setting them before the database is opened is enough. A flag the
 * operator gave Node (command line or NODE_OPTIONS) wins over ours.
 */
export interface MemoryDefaultsInput {
  /** `process.execArgv`. */
  execArgv: readonly string[];
  /** `NODE_OPTIONS`. */
  nodeOptions: string | undefined;
  /** PostgreSQL (DATABASE_URL) rather than the embedded database. */
  postgres: boolean;
}

const DEFAULTS: ReadonlyArray<{ flag: string; when?: (input: MemoryDefaultsInput) => boolean }> = [
  { flag: '--heap-growing-percent=30' },
  { flag: '--liftoff-only', when: (input) => input.postgres },
];

/** `--no-liftoff_only=x` -> `liftoff-only`: the name V8 knows a flag by, however it was spelt. */
function flagName(arg: string): string {
  return arg
    .replace(/^--?/, '')
    .replace(/=.*$/, '')
    .replace(/_/g, '-')
    .replace(/^no-/, '');
}

/** The flags to set: our defaults minus those the operator set one way or the other. */
export function memoryDefaults(input: MemoryDefaultsInput): string[] {
  const given = new Set([...input.execArgv, ...(input.nodeOptions ?? '').split(/\s+/)].filter((a) => a.startsWith('-')).map(flagName));
  return DEFAULTS.filter((d) => (d.when?.(input) ?? true) && !given.has(flagName(d.flag))).map((d) => d.flag);
}

/** Sets `memoryDefaults(input)` on this process's V8; returns what it set, for the boot log. */
export function applyMemoryDefaults(input: MemoryDefaultsInput): string[] {
  const flags = memoryDefaults(input);
  for (const flag of flags) v8.setFlagsFromString(flag);
  return flags;
}
