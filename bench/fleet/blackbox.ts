/**
 * Side by side (issue 15): CPU per full STARTTLS probe (banner, EHLO, STARTTLS, TLS handshake,
 * EHLO, QUIT) of Prometheus' blackbox_exporter `tcp` prober and of mxwatch's SMTP probe, against
 * the same fake mail server. Each prober runs in a process of its own and its CPU is read from
 * /proc/<pid>/stat around the measured probes, after the same warm-up; the fake server runs in
 * the benchmark process and is counted for neither.
 *
 * blackbox_exporter is driven the way Prometheus drives it, through GET /probe; mxwatch's probe
 * through bench/fleet/smtp-probe-harness.ts, which calls the built service's probe function.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, processCpuMs, tail } from '../../test/support/app-process.js';
import { FastSmtpFleet, pickPorts } from './fast-smtp.js';
import type { HarnessOptions, HarnessResult } from './smtp-probe-harness.js';

export const BLACKBOX_BIN = '/usr/bin/prometheus-blackbox-exporter';

export interface SideBySideOptions {
  /** blackbox_exporter binary. */
  bin: string;
  /** The built service's folder (dirname of BENCH_MAIN). */
  distDir: string;
  tmp: string;
  /** CA that issued `cert` (PEM file), trusted by both probers. */
  caFile: string;
  key: string;
  cert: string;
  /** A name the certificate covers (SNI and name check). */
  host: string;
  probes: number;
  warmup: number;
  concurrency: number;
}

export interface ProberFigure {
  probes: number;
  ok: number;
  cpuMs: number;
  wallMs: number;
  cpuMsPerProbe: number;
}

export interface SideBySide {
  version: string;
  blackbox: ProberFigure;
  mxwatch: ProberFigure;
  /** mxwatch CPU per probe / blackbox_exporter CPU per probe (goal <= 1). */
  ratio: number;
  /** TLS handshakes and QUITs the fake server saw per prober, to show both did the whole conversation. */
  server: { blackbox: { tls: number; quits: number }; mxwatch: { tls: number; quits: number } };
}

/** The blackbox_exporter module: the whole conversation, certificate verified against the bench CA. */
export function blackboxConfig(caFile: string, host: string, ehloName: string, timeoutSeconds = 5): string {
  return [
    'modules:',
    '  smtp_starttls:',
    '    prober: tcp',
    `    timeout: ${timeoutSeconds}s`,
    '    tcp:',
    '      preferred_ip_protocol: ip4',
    '      tls_config:',
    `        ca_file: ${JSON.stringify(caFile)}`,
    `        server_name: ${JSON.stringify(host)}`,
    '      query_response:',
    '        - expect: "^220 "',
    `        - send: "EHLO ${ehloName}\\r"`,
    '        - expect: "^250-STARTTLS"',
    '        - send: "STARTTLS\\r"',
    '        - expect: "^220"',
    '        - starttls: true',
    `        - send: "EHLO ${ehloName}\\r"`,
    '        - expect: "^250-AUTH"',
    '        - send: "QUIT\\r"',
    '        - expect: "^221"',
    '',
  ].join('\n');
}

const IP = '127.0.99.1';

/** Runs both probers; returns null (with the reason) when blackbox_exporter is not installed. */
export async function sideBySide(o: SideBySideOptions, log: (msg: string) => void): Promise<SideBySide | { skipped: string }> {
  if (!existsSync(o.bin)) return { skipped: `${o.bin} not found (Debian package prometheus-blackbox-exporter)` };
  const ports = await pickPorts();
  const server = await FastSmtpFleet.start([{ ip: IP, open: [25], starttls: true }], { ports, key: o.key, cert: o.cert, bannerDelayMs: { min: 0, max: 1 }, hostname: o.host });
  try {
    const version = await blackboxVersion(o.bin);
    const stats = () => ({ tls: server.stats.tlsHandshakes, quits: server.stats.quits });
    const delta = (a: { tls: number; quits: number }, b: { tls: number; quits: number }) => ({ tls: b.tls - a.tls, quits: b.quits - a.quits });

    const s0 = stats();
    const blackbox = await runBlackbox(o, ports[25], log);
    const s1 = stats();
    const mxwatch = await runHarness(o, ports[25]);
    const s2 = stats();
    return { version, blackbox, mxwatch, ratio: mxwatch.cpuMsPerProbe / blackbox.cpuMsPerProbe, server: { blackbox: delta(s0, s1), mxwatch: delta(s1, s2) } };
  } finally {
    await server.close();
  }
}

async function blackboxVersion(bin: string): Promise<string> {
  const out = await new Promise<string>((resolve) => {
    const child = spawn(bin, ['--version'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    child.once('exit', () => resolve(text));
    child.once('error', () => resolve(''));
  });
  return /version (\S+)/.exec(out)?.[1] ?? 'unknown version';
}

export interface RunningBlackbox {
  pid: number;
  /** One probe through GET /probe; true when blackbox_exporter reports probe_success 1, else its probe_* lines. */
  probe(target: string): Promise<true | string>;
  stop(): Promise<void>;
}

/** Starts blackbox_exporter on a free loopback port with `config` and waits until it is healthy. */
export async function startBlackbox(bin: string, config: string, tmp: string): Promise<RunningBlackbox> {
  const file = path.join(tmp, 'blackbox.yml');
  writeFileSync(file, config);
  const port = await freePort();
  const logFile = path.join(tmp, 'blackbox.log');
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(bin, [`--config.file=${file}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=error'], { stdio: ['ignore', fd, fd], env: { PATH: process.env.PATH ?? '' } });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await fetch(`${base}/-/healthy`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`blackbox_exporter did not start; log ${logFile}\n${tail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: child.pid!,
    async probe(target) {
      const r = await fetch(`${base}/probe?module=smtp_starttls&target=${encodeURIComponent(target)}`);
      const body = await r.text();
      if (/^probe_success 1$/m.test(body)) return true;
      return body.split('\n').filter((l) => l.startsWith('probe_') && !l.startsWith('probe_dns')).join('; ').slice(0, 400) || `HTTP ${r.status}`;
    },
    stop,
  };
}

async function runBlackbox(o: SideBySideOptions, smtpPort: number, log: (msg: string) => void): Promise<ProberFigure> {
  const blackbox = await startBlackbox(o.bin, blackboxConfig(o.caFile, o.host, 'bench.fleet.test'), o.tmp);
  try {
    const target = `${IP}:${smtpPort}`;
    let ok = 0;
    let failed: string | null = null;
    const one = async () => {
      const r = await blackbox.probe(target);
      if (r === true) ok++;
      else failed ??= r;
    };
    await pool(o.warmup, o.concurrency, one);
    ok = 0;
    failed = null;
    const cpu0 = processCpuMs(blackbox.pid)!;
    const t0 = performance.now();
    await pool(o.probes, o.concurrency, one);
    const wallMs = performance.now() - t0;
    const cpuMs = processCpuMs(blackbox.pid)! - cpu0;
    if (failed) log(`blackbox_exporter: a probe failed: ${failed}`);
    return { probes: o.probes, ok, cpuMs, wallMs, cpuMsPerProbe: cpuMs / o.probes };
  } finally {
    await blackbox.stop();
  }
}

async function runHarness(o: SideBySideOptions, smtpPort: number): Promise<ProberFigure> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'smtp-probe-harness.js');
  const options: HarnessOptions = { distDir: o.distDir, host: o.host, ip: IP, port: smtpPort, probes: o.probes, warmup: o.warmup, concurrency: o.concurrency };
  const child = spawn(process.execPath, [script, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // The service trusts the bench CA the same way (NODE_EXTRA_CA_CERTS).
    env: { PATH: process.env.PATH ?? '', NODE_EXTRA_CA_CERTS: o.caFile },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  if (code !== 0) throw new Error(`smtp probe harness exited with ${code}: ${err.trim()}`);
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as HarnessResult;
  if (r.failures.length) throw new Error(`mxwatch's probe failed against the fake server: ${r.failures.join(' | ')}`);
  return { probes: r.probes, ok: r.ok, cpuMs: r.cpuMs, wallMs: r.wallMs, cpuMsPerProbe: r.cpuMs / r.probes };
}

async function pool(n: number, concurrency: number, fn: () => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      await fn();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}
