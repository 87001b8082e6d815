import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** MXWATCH_TEST_MAIN lets a developer run the suites against a build in another folder (e.g. .out/<name>/main.js). */
export const MAIN = process.env.MXWATCH_TEST_MAIN ? path.resolve(process.env.MXWATCH_TEST_MAIN) : path.join(ROOT, 'dist/main.js');

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = 'mxwatch-e2e-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
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
  const cleanEnv: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', HOST: '127.0.0.1', PORT: String(port), MXWATCH_LOG_LEVEL: 'debug' };
  if (process.env.NODE_EXTRA_CA_CERTS) cleanEnv.NODE_EXTRA_CA_CERTS = process.env.NODE_EXTRA_CA_CERTS;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) cleanEnv[k] = v;
  const ownCwd = options.cwd ? null : tempDir('mxwatch-cwd-');
  const child: ChildProcess = spawn(process.execPath, [MAIN], { cwd: options.cwd ?? ownCwd!, env: cleanEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      // The working directory this helper made for the process goes with it (one was left per app started).
      if (ownCwd) removeDir(ownCwd);
      resolve(code);
    }),
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  let done = false;
  exited.then(() => (done = true));
  while (!done) {
    try {
      const r = await fetch(`${baseUrl}/health/ready`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`mxwatch did not become ready in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (done) throw new Error(`mxwatch exited before becoming ready:\n${out}`);

  const app: RunningApp = {
    baseUrl,
    cwd: options.cwd ?? ownCwd!,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return child.exitCode;
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
  return app;
}

/** Runs the built service expecting it to refuse to start; returns its exit code and output. */
export async function runExpectingFailure(env: Record<string, string | undefined>, cwd?: string): Promise<{ code: number | null; output: string }> {
  const cleanEnv: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', HOST: '127.0.0.1', PORT: '0' };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) cleanEnv[k] = v;
  const ownCwd = cwd ? null : tempDir('mxwatch-cwd-');
  const child = spawn(process.execPath, [MAIN], { cwd: cwd ?? ownCwd!, env: cleanEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  if (ownCwd) removeDir(ownCwd);
  return { code, output: out };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
