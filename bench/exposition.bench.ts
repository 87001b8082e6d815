/**
 * Micro benchmark of /metrics rendering (metrics/exposition.ts), without a server or a database:
 * the service's own registry (createMetrics + every probe's metrics) filled with a fleet's worth
 * of series (BENCH_DOMAINS, default 10,000 domains: ~120,000 series), rendered BENCH_RENDERS
 * times. Between two renders BENCH_CHURN (default 10%) of the domains are checked again (their
 * series set anew with new label objects, as a check does: 10,000 domains every 300 s are
 * ~1,000 domains between two scrapes 30 s apart; the domains re-set are spread over the fleet,
 * as checks due at random times are). Prints the median and p90 of one render.
 * BENCH_KEEP_RENDERED=1 renders as an api replica does: every fleet gauge but the two rebuilt at
 * each scrape keeps its pages' bytes (FleetGauge.keepRendered), and BENCH_CHURN=0 is a scrape at rest.
 *
 *   npx tsc -p bench/tsconfig.json --outDir <dir> && node <dir>/bench/exposition.bench.js
 *
 * It checks once that the output is byte for byte what prom-client writes, and never asserts
 * a time.
 */
import { performance } from 'node:perf_hooks';
import { renderPrometheusText, writePrometheusText, type ExpositionSink } from '../apps/mxwatch/src/metrics/exposition.js';
import { createMetrics, keepRenderedPages, registerProbeMetrics, type ProbeMetric } from '../apps/mxwatch/src/metrics/metrics.js';
import { PROBES } from '../apps/mxwatch/src/probes/registry.js';
import { envInt } from './fleet/report.js';

const DOMAINS = envInt('BENCH_DOMAINS', 10_000, 1, 10_000_000);
const RENDERS = envInt('BENCH_RENDERS', 30, 1, 100_000);
const CHURN = envInt('BENCH_CHURN', 10, 0, 100) / 100;
const KEEP = envInt('BENCH_KEEP_RENDERED', 0, 0, 1) === 1;

const m = createMetrics();
const probeMetrics = registerProbeMetrics(m.registry, PROBES);
// As MetricsService does on a replica that runs no checks.
if (KEEP) keepRenderedPages(m, probeMetrics);
const g = (name: string) => probeMetrics.get(name) as Extract<ProbeMetric, { set(labels: object, value: number): void }>;
const PROBE_NAMES = ['mx', 'smtp', 'starttls', 'dnsbl', 'spf', 'dmarc'];
/** 80% of domains on five providers' MX hosts, the rest self-hosted (as bench/fleet). */
const PROVIDERS = [2, 4, 3, 2, 3].map((n, p) => Array.from({ length: n }, (_, h) => ({ host: `mx${h + 1}.provider${p + 1}.example`, ip: `127.1.${p}.${h + 1}` })));

function mxOf(i: number): Array<{ host: string; ip: string }> {
  if (i % 5 !== 0) return PROVIDERS[i % PROVIDERS.length]!;
  return [{ host: `mail.d${i}.example`, ip: `127.16.${(i >> 8) & 255}.${i & 255}` }];
}

/** One domain's check: the series a check of it sets, with fresh label objects. */
function check(i: number, round: number): void {
  const domain = `d${i}.example`;
  for (const probe of PROBE_NAMES) m.probeSuccess.set({ domain, probe }, (i + round) % 17 === 0 ? 0 : 1);
  m.lastCheck.set({ domain }, 1_780_000_000 + i + round * 300);
  const mx = mxOf(i);
  g('mxwatch_mx_records').set({ domain }, mx.length);
  mx.forEach((h, n) => g('mxwatch_domain_mx_info').set({ domain, mx: h.host, preference: String(10 * (n + 1)) }, 1));
  g('mxwatch_spf_dns_lookups').set({ domain }, 3 + (i % 5));
  g('mxwatch_dmarc_policy_info').set({ domain, policy: ['none', 'quarantine', 'reject'][i % 3]! }, 1);
  if (i % 7 === 0) m.domainFindingsOpen.set({ domain, severity: 'warning' }, 1);
  for (const h of mx) {
    const labels = { host: h.host, ip: h.ip, port: '25' };
    g('mxwatch_smtp_port_open').set(labels, 1);
    g('mxwatch_starttls_supported').set(labels, 1);
    g('mxwatch_tls_cert_not_after_timestamp_seconds').set(labels, 1_800_000_000);
    g('mxwatch_tls_version_info').set({ ...labels, version: 'TLSv1.3' }, 1);
    g('mxwatch_dnsbl_listed').set({ ip: h.ip, zone: 'zen.spamhaus.org' }, 0);
  }
}

for (let i = 0; i < DOMAINS; i++) check(i, 0);
for (let p = 0; p < 20; p++) m.probeDuration.observe({ probe: PROBE_NAMES[p % PROBE_NAMES.length]! }, p / 10);

// Process metrics (CPU, memory, event loop) change between two reads: compare the rest.
const stable = (text: string) => text.split('\n').filter((l) => !/^(# (HELP|TYPE) )?(process|nodejs)_/.test(l)).join('\n');
const reference = await m.registry.metrics();
const first = await renderPrometheusText(m.registry);
if (stable(first.toString('utf8')) !== stable(reference)) throw new Error('renderPrometheusText differs from prom-client');
const series = reference.split('\n').filter((l) => l && !l.startsWith('#')).length;

/** Hands each chunk back at once, as a socket that keeps up does: no copy of the output is timed. */
const sink: ExpositionSink = {
  write(_chunk, done) {
    done?.();
    return true;
  },
  drained: async () => {},
};

const times: number[] = [];
// Domains re-set in a scattered order: a stride coprime with the fleet's size visits each once per round.
let stride = Math.max(1, Math.floor(DOMAINS * 0.618));
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
while (gcd(stride, DOMAINS) !== 1) stride++;
let next = 0;
for (let r = 0; r < RENDERS + 3; r++) {
  const churn = Math.round(DOMAINS * CHURN);
  for (let k = 0; k < churn; k++) {
    next = (next + stride) % DOMAINS;
    check(next, r + 1);
  }
  const t0 = performance.now();
  await writePrometheusText(m.registry, sink);
  if (r >= 3) times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
console.log(
  `exposition${KEEP ? ' (pages kept, as on an api replica)' : ''}: ${DOMAINS} domains, ${series} series, ${(first.length / 1048576).toFixed(1)} MiB; ${RENDERS} renders, ${Math.round(CHURN * 100)}% of domains re-set between renders: ` +
    `median ${at(0.5).toFixed(1)} ms, p90 ${at(0.9).toFixed(1)} ms, min ${times[0]!.toFixed(1)} ms`,
);
