/**
 * The built service (dist/main.js) as a real process, the way an operator runs it, with its
 * logs going to a file (a pipe read by this process would slow its synchronous logger) and
 * its memory read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';

/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

export interface AppProcessOptions {
  main: string;
  cwd: string;
  logFile: string;
  env: Record<string, string>;
  /** Node flags before the script, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
}

export interface Memory {
  /** Current resident set (kB). */
  rssKb: number;
  /** Peak resident set since start (VmHWM, kB). */
  hwmKb: number;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export class AppProcess {
  private readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined = undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly baseUrl: string,
    readonly logFile: string,
    readonly spawnedAt: number,
  ) {
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(this.exitCode);
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Starts the service and waits for /health/ready; `readyMs` is spawn-to-ready. */
  static async start(options: AppProcessOptions): Promise<{ app: AppProcess; readyMs: number }> {
    const port = await freePort();
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', HOST: '127.0.0.1', PORT: String(port), ...options.env };
    const fd = openSync(options.logFile, 'a');
    const t0 = Date.now();
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.main], { cwd: options.cwd, env, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    const app = new AppProcess(child, `http://127.0.0.1:${port}`, options.logFile, t0);
    const deadline = t0 + (options.readyTimeoutMs ?? 120_000);
    while (app.running) {
      try {
        const r = await fetch(`${app.baseUrl}/health/ready`, { signal: AbortSignal.timeout(2000) });
        await r.arrayBuffer();
        if (r.status === 200) return { app, readyMs: Date.now() - t0 };
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await app.stop();
        throw new Error(`mxwatch did not become ready within ${options.readyTimeoutMs ?? 120_000} ms; log: ${options.logFile}\n${tail(options.logFile)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`mxwatch exited (${app.exitCode}) before becoming ready; log: ${options.logFile}\n${tail(options.logFile)}`);
  }

  memory(): Memory | null {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
      return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
    } catch {
      return null;
    }
  }

  /** CPU time (user + system, ms) the process has used so far. */
  cpuMs(): number | null {
    try {
      // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
    } catch {
      return null;
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<number | null> {
    if (!this.running) return this.exitCode ?? null;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
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
