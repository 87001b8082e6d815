/**
 * Runs the built service's own SMTP probe (the function a check calls for one endpoint: banner,
 * EHLO, STARTTLS, TLS handshake and certificate facts, EHLO, QUIT) N times against one address,
 * in a process of its own, and reports the CPU it used per probe, read from /proc/self/stat like
 * every other process the benchmark measures. The fake mail server runs elsewhere (the benchmark
 * process), so none of its CPU is counted here.
 *
 *   node smtp-probe-harness.js '{"distDir": ".../dist", "ip": "127.0.99.1", "port": 2525, ...}'
 *
 * Prints one JSON line: { probes, ok, cpuMs, wallMs, failures }.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { processCpuMs } from '../../test/support/app-process.js';

export interface HarnessOptions {
  /** The built service's folder (dirname of BENCH_MAIN). */
  distDir: string;
  host: string;
  ip: string;
  /** The real port the probe dials for 25 (MXWATCH_PORT_MAP). */
  port: number;
  probes: number;
  warmup: number;
  concurrency: number;
}

export interface HarnessResult {
  probes: number;
  /** Probes whose smtp and starttls results both passed with a verified handshake. */
  ok: number;
  cpuMs: number;
  wallMs: number;
  failures: string[];
}

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2] ?? '{}') as HarnessOptions;
  const load = (rel: string) => import(pathToFileURL(path.join(o.distDir, rel)).href);
  const { probeSmtpEndpoint } = await load('probes/smtp/smtp.probe.js');
  const { NetDialer } = await load('transport/net/net-dialer.js');
  const { AddressPolicy } = await load('transport/net/address-policy.js');
  const { MemoizedAddressPolicy } = await load('runtime/probe-runtime.service.js');

  // The policy and dialer as ProbeRuntime builds them for the service.
  const policy = new MemoizedAddressPolicy(AddressPolicy.fromList('127.0.0.0/8'));
  const dialer = new NetDialer({ policy, portMap: new Map([[25, o.port]]) });
  const settings = { smtpPorts: [25], certWarnDays: 14, slowBannerMs: 5000, dnsblZones: [], ehloName: 'bench.fleet.test', smtpConnectTimeoutMs: 5000, smtpReplyTimeoutMs: 5000, maxMxHosts: 10, maxAddresses: 32 };
  const noDns = { resolve: () => Promise.reject(new Error('no DNS in this harness')) };

  const failures: string[] = [];
  let ok = 0;
  const one = async () => {
    // One context per probe, as the runtime makes one per check.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('harness deadline')), 10_000);
    try {
      const ctx = { deadline: Date.now() + 10_000, signal: controller.signal, resolver: noDns, dnsblResolver: noDns, dialer, addressPolicy: policy, settings, now: () => new Date() };
      const r = await probeSmtpEndpoint(ctx, { host: o.host, ip: o.ip, port: 25, role: 'mx' });
      if (r.smtp.status === 'pass' && r.starttls?.status === 'pass' && r.starttls.details.handshakeOk && r.starttls.details.trusted) ok++;
      else if (failures.length < 5) failures.push(`${r.smtp.status}/${r.smtp.reason ?? '-'} ${r.starttls?.status ?? 'no starttls'}/${r.starttls?.reason ?? '-'} ${r.starttls?.details.error ?? ''}`);
    } finally {
      clearTimeout(timer);
    }
  };
  const run = async (n: number) => {
    let next = 0;
    const worker = async () => {
      while (next < n) {
        next++;
        await one();
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency, n) }, worker));
  };

  await run(o.warmup);
  ok = 0;
  failures.length = 0;
  const cpu0 = processCpuMs('self')!;
  const t0 = performance.now();
  await run(o.probes);
  const result: HarnessResult = { probes: o.probes, ok, cpuMs: processCpuMs('self')! - cpu0, wallMs: performance.now() - t0, failures };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`smtp probe harness failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
