/**
 * The built service (dist/main.js) as a real process, the way an operator runs it: used by the
 * end-to-end suites (`startApp`, output kept in memory) and by the benchmarks (`AppProcess`, output
 * to a file, CPU and memory read from /proc). Both spawn, wait for /health/ready and stop the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** MXWATCH_TEST_MAIN lets a developer run the suites against a build in another folder (e.g. .out/<name>/main.js). */
export const MAIN = process.env.MXWATCH_TEST_MAIN ? path.resolve(process.env.MXWATCH_TEST_MAIN) : path.join(ROOT, 'dist/main.js');

/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = 'mxwatch-e2e-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * CPU time (user + system, ms, all threads) a process has used so far, from /proc/<pid>/stat:
 * the one way every benchmark counts CPU, whatever the process (mxwatch, blackbox_exporter, a harness).
 */
export function processCpuMs(pid: number | 'self'): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

export interface Memory {
  /** Current resident set (kB). */
  rssKb: number;
  /** Peak resident set since start (VmHWM, kB). */
  hwmKb: number;
}

export function processMemory(pid: number): Memory | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** Only what the caller gives reaches the service: PATH and HOME, a loopback listener, then `env`. */
function serviceEnv(port: number, env: Record<string, string | undefined>, defaults: Record<string, string> = {}): Record<string, string> {
  const clean: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', HOST: '127.0.0.1', PORT: String(port), ...defaults };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  return clean;
}

interface Spawned {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Whether the process is still running. */
  running(): boolean;
}

function spawnService(main: string, args: { cwd: string; env: Record<string, string>; nodeArgs?: string[]; stdio: 'pipe' | number }): Spawned {
  const child = spawn(process.execPath, [...(args.nodeArgs ?? []), main], { cwd: args.cwd, env: args.env, stdio: ['ignore', args.stdio, args.stdio] });
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    }),
  );
  return { child, exited, running: () => running };
}

/** Polls /health/ready until 200; false when the process exited or the deadline passed first. */
async function waitReady(baseUrl: string, proc: Spawned, deadline: number): Promise<'ready' | 'exited' | 'timeout'> {
  while (proc.running()) {
    try {
      const r = await fetch(`${baseUrl}/health/ready`, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (r.status === 200) return 'ready';
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) return 'timeout';
    await new Promise((r) => setTimeout(r, 100));
  }
  return 'exited';
}

/** SIGTERM, then SIGKILL after `graceMs`. */
async function stopService(proc: Spawned, graceMs: number): Promise<void> {
  if (!proc.running()) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
  await proc.exited;
  clearTimeout(timer);
}

export interface RunningApp {
  baseUrl: string;
  /** The process's working directory (a temporary one, removed when it exits, unless `options.cwd` was given). */
  cwd: string;
  /** stdout+stderr so far (JSON log lines) */
  output(): string;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
  api(method: string, route: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; text: string; headers: Headers }>;
}

/**
 * Starts the BUILT service (dist/main.js) as a real process, the way an operator does, and waits
 * for /health/ready. Every variable comes from `env`; nothing leaks in from the test runner's env
 * except PATH/HOME/NODE_EXTRA_CA_CERTS.
 */
export async function startApp(env: Record<string, string | undefined>, options: { readyTimeoutMs?: number; cwd?: string } = {}): Promise<RunningApp> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const defaults: Record<string, string> = { MXWATCH_LOG_LEVEL: 'debug' };
  if (process.env.NODE_EXTRA_CA_CERTS) defaults.NODE_EXTRA_CA_CERTS = process.env.NODE_EXTRA_CA_CERTS;
  const ownCwd = options.cwd ? null : tempDir('mxwatch-cwd-');
  const proc = spawnService(MAIN, { cwd: options.cwd ?? ownCwd!, env: serviceEnv(port, env, defaults), stdio: 'pipe' });
  let out = '';
  proc.child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // The working directory this helper made for the process goes with it (one was left per app started).
  const exited = proc.exited.then(({ code }) => {
    if (ownCwd) removeDir(ownCwd);
    return code;
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const ready = await waitReady(baseUrl, proc, Date.now() + (options.readyTimeoutMs ?? 60_000));
  if (ready === 'timeout') {
    proc.child.kill('SIGKILL');
    throw new Error(`mxwatch did not become ready in time:\n${out}`);
  }
  if (ready === 'exited') throw new Error(`mxwatch exited before becoming ready:\n${out}`);

  return {
    baseUrl,
    cwd: options.cwd ?? ownCwd!,
    output: () => out,
    exited,
    async stop() {
      await stopService(proc, 10_000);
      return exited;
    },
    async api(method, route, body, headers = {}) {
      const r = await fetch(`${baseUrl}${route}`, {
        method,
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await r.text();
      let parsed: unknown = undefined;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: r.status, body: parsed, text, headers: r.headers };
    },
  };
}

/** Runs the built service expecting it to refuse to start; returns its exit code and output. */
export async function runExpectingFailure(env: Record<string, string | undefined>, cwd?: string): Promise<{ code: number | null; output: string }> {
  const ownCwd = cwd ? null : tempDir('mxwatch-cwd-');
  const proc = spawnService(MAIN, { cwd: cwd ?? ownCwd!, env: serviceEnv(0, env), stdio: 'pipe' });
  let out = '';
  proc.child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 30_000);
  const { code } = await proc.exited;
  clearTimeout(timer);
  if (ownCwd) removeDir(ownCwd);
  return { code, output: out };
}

export interface AppProcessOptions {
  main: string;
  cwd: string;
  logFile: string;
  env: Record<string, string>;
  /** Node flags before the script, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
}

/**
 * The benchmarks' service process: its logs go to a file (a pipe read by the benchmark would slow
 * the service's synchronous logger, and the benchmark's own CPU with it), its CPU and memory are
 * read from /proc.
 */
export class AppProcess {
  private constructor(
    private readonly proc: Spawned,
    readonly baseUrl: string,
    readonly logFile: string,
    readonly spawnedAt: number,
  ) {}

  get pid(): number {
    return this.proc.child.pid!;
  }

  get running(): boolean {
    return this.proc.running();
  }

  /** Starts the service and waits for /health/ready; `readyMs` is spawn-to-ready. */
  static async start(options: AppProcessOptions): Promise<{ app: AppProcess; readyMs: number }> {
    const port = await freePort();
    const fd = openSync(options.logFile, 'a');
    const t0 = Date.now();
    let proc: Spawned;
    try {
      proc = spawnService(options.main, { cwd: options.cwd, env: serviceEnv(port, options.env), nodeArgs: options.nodeArgs, stdio: fd });
    } finally {
      closeSync(fd);
    }
    const app = new AppProcess(proc, `http://127.0.0.1:${port}`, options.logFile, t0);
    const timeoutMs = options.readyTimeoutMs ?? 120_000;
    const ready = await waitReady(app.baseUrl, proc, t0 + timeoutMs);
    if (ready === 'ready') return { app, readyMs: Date.now() - t0 };
    if (ready === 'timeout') {
      await app.stop();
      throw new Error(`mxwatch did not become ready within ${timeoutMs} ms; log: ${options.logFile}\n${tail(options.logFile)}`);
    }
    const { code, signal } = await proc.exited;
    throw new Error(`mxwatch exited (${code ?? signal}) before becoming ready; log: ${options.logFile}\n${tail(options.logFile)}`);
  }

  memory(): Memory | null {
    return processMemory(this.pid);
  }

  /** CPU time (user + system, ms) the process has used so far. */
  cpuMs(): number | null {
    return processCpuMs(this.pid);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; the exit code, -1 when a signal ended the process. */
  async stop(graceMs = 15_000): Promise<number | null> {
    await stopService(this.proc, graceMs);
    const { code, signal } = await this.proc.exited;
    return code ?? (signal ? -1 : null);
  }

  /** Log lines (pino JSON) that match a message. */
  logLines(msg: string): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const line of readFileSync(this.logFile, 'utf8').split('\n')) {
      if (!line.includes(msg)) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not JSON
      }
    }
    return out;
  }
}

export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
