/**
 * CPU per DNS lookup of the service's DoH resolver (createResolver: the caching resolver,
 * tangerine, node:http2 or node:http, dns-packet), every lookup a different name so each one goes to
 * the server: the FakeDnsServer in a child process (bench/fleet/fake-doh-child.ts), whose CPU is
 * not counted. BENCH_DOH_INFLIGHT (50, as many checks at once) lookups in flight; passes of
 * BENCH_DOH_LOOKUPS (10,000) after a warm-up; the CPU of this process (user + system) per lookup.
 * BENCH_DOH_PROTOCOL: `https` (default, the service's default: TLS, HTTP/2 negotiated by ALPN, the
 * server's CA given as the resolver's extra CA) or `http` (plain HTTP/1.1, every run before
 * 2026-12-02).
 *
 *   npx tsc -p bench/tsconfig.json && node dist-bench/bench/doh.bench.js
 *   BENCH_DOH_COMPARE=/path/to/other/dist node dist-bench/bench/doh.bench.js
 *
 * With BENCH_DOH_COMPARE (the `dist` directory of another build, e.g. a worktree of an older
 * commit), that build's resolver and this one take turns in the same process, pass by pass: on a
 * shared machine whose speed drifts by more than the change under study, only such pairs compare.
 * Never asserts a time.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createResolver } from '../apps/mxwatch/src/transport/dns/resolver-factory.js';
import { envInt, median } from './fleet/report.js';

const LOOKUPS = envInt('BENCH_DOH_LOOKUPS', 10_000, 1, 10_000_000);
const INFLIGHT = envInt('BENCH_DOH_INFLIGHT', 50, 1, 10_000);
const PASSES = envInt('BENCH_DOH_PASSES', 6, 1, 1_000);
const WARMUP = 3 * Math.min(LOOKUPS, 5_000);
const COMPARE = process.env.BENCH_DOH_COMPARE;
const PROTOCOL = (process.env.BENCH_DOH_PROTOCOL ?? 'https') as 'https' | 'http';
if (PROTOCOL !== 'https' && PROTOCOL !== 'http') throw new Error(`BENCH_DOH_PROTOCOL must be https or http, not ${PROTOCOL}`);

type Factory = typeof createResolver;
type Resolver = ReturnType<Factory>;

async function main(): Promise<void> {
  const builds: Array<{ label: string; create: Factory }> = [{ label: 'this build', create: createResolver }];
  if (COMPARE) {
    const file = path.join(path.resolve(COMPARE), 'transport/dns/resolver-factory.js');
    const other = (await import(pathToFileURL(file).href)) as { createResolver: Factory };
    builds.unshift({ label: COMPARE, create: other.createResolver });
  }
  // Names are never asked twice, so no answer comes from a cache.
  const names = (WARMUP + PASSES * LOOKUPS) * builds.length;
  const child = fork(fileURLToPath(new URL('./fleet/fake-doh-child.js', import.meta.url)), [String(names), PROTOCOL], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const dir = mkdtempSync(path.join(tmpdir(), 'mxwatch-doh-bench-'));
  try {
    const { address, ca } = await new Promise<{ address: string; ca: string | null }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { address: string; ca: string | null }));
      child.once('exit', (code) => reject(new Error(`the DoH server exited (${code}) before it listened`)));
    });
    const caFile = ca ? path.join(dir, 'ca.pem') : undefined;
    if (caFile) writeFileSync(caFile, ca!);
    const resolvers = builds.map((b) => b.create({ servers: [address], protocol: PROTOCOL, timeoutMs: 3000, attempts: 3, ...(caFile ? { caFile } : {}) }));
    let next = 0;
    const pass = async (r: Resolver, n: number): Promise<number> => {
      const end = next + n;
      const before = process.cpuUsage();
      await Promise.all(
        Array.from({ length: INFLIGHT }, async () => {
          while (next < end) {
            const answer = await r.resolve(`h${next++}.bench.test`, 'A');
            if (!answer.ok) throw new Error(`lookup failed: ${answer.cause}`);
          }
        }),
      );
      const used = process.cpuUsage(before);
      return (used.user + used.system) / n;
    };
    console.log(`DoH (${PROTOCOL}) lookups against a fake server in a child process, ${INFLIGHT} in flight, ${PASSES} passes of ${LOOKUPS.toLocaleString('en-US')} per build after ${WARMUP.toLocaleString('en-US')} of warm-up`);
    for (const r of resolvers) await pass(r, WARMUP);
    const perPass = resolvers.map(() => [] as number[]);
    for (let p = 0; p < PASSES; p++) {
      // Alternating which build goes first, so neither always follows the other.
      const order = p % 2 === 0 ? resolvers.map((_, i) => i) : resolvers.map((_, i) => resolvers.length - 1 - i);
      for (const i of order) perPass[i]!.push(await pass(resolvers[i]!, LOOKUPS));
    }
    const figures = builds.map((b, i) => ({ build: b.label, medianUs: median(perPass[i]!), minUs: Math.min(...perPass[i]!), passesUs: perPass[i]!.map((x) => Math.round(x * 10) / 10) }));
    for (const f of figures) console.log(`  ${f.build}: median ${f.medianUs.toFixed(1)} µs CPU per lookup (min ${f.minUs.toFixed(1)}; passes ${f.passesUs.join(', ')})`);
    if (figures.length === 2) console.log(`  this build / ${COMPARE}: ${(figures[1]!.medianUs / figures[0]!.medianUs).toFixed(3)} (median over median)`);
    console.log(`BENCH_RESULT ${JSON.stringify({ protocol: PROTOCOL, inflight: INFLIGHT, lookups: LOOKUPS, passes: PASSES, builds: figures })}`);
    for (const r of resolvers) r.close();
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`doh bench: failed: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});
