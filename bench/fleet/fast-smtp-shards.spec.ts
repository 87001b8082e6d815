import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCa } from '../../test/rig/tls/test-ca.js';
import { pickPorts } from './fast-smtp.js';
import { FastSmtpShards, splitAddresses, type FastSmtpShardsOptions } from './fast-smtp-shards.js';
import { MX_ZONE, type MailAddress, type ProbedPort } from './fleet-model.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Banner, EHLO, QUIT over a plain socket; the three replies. */
async function converse(ip: string, port: number): Promise<string[]> {
  const socket = net.connect({ host: ip, port });
  socket.setEncoding('latin1');
  let buffer = '';
  let ended: Error | null = null;
  let wake = () => {};
  socket.on('data', (d: string) => {
    buffer += d;
    wake();
  });
  const end = (e: Error) => {
    ended ??= e;
    wake();
  };
  socket.on('error', end);
  socket.on('close', () => end(new Error(`${ip}:${port} closed; unread ${JSON.stringify(buffer)}`)));
  const reply = async (): Promise<string> => {
    for (;;) {
      // A reply ends with its "NNN " line (the last of a multi-line one).
      const m = /^\d{3} [^\n]*\n/m.exec(buffer);
      if (m) {
        const text = buffer.slice(0, m.index + m[0].length);
        buffer = buffer.slice(text.length);
        return text;
      }
      if (ended) throw ended;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };
  try {
    const banner = await reply();
    socket.write('EHLO spec.test\r\n');
    const ehlo = await reply();
    socket.write('QUIT\r\n');
    return [banner, ehlo, await reply()];
  } finally {
    socket.destroy();
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe(FastSmtpShards.name, () => {
  let tmp: string;
  let script: string;
  let ports: Record<ProbedPort, number>;
  let base: Omit<FastSmtpShardsOptions, 'shards'>;

  beforeAll(async () => {
    // Vitest runs the TypeScript sources; a child process needs JavaScript: the child and the
    // one module it loads, transpiled into a temp dir (type-only imports vanish).
    tmp = mkdtempSync(path.join(tmpdir(), 'mxwatch-shards-'));
    writeFileSync(path.join(tmp, 'package.json'), '{"type":"module"}');
    for (const name of ['fast-smtp', 'fast-smtp-child']) {
      const source = readFileSync(path.join(here, `${name}.ts`), 'utf8');
      const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } }).outputText;
      writeFileSync(path.join(tmp, `${name}.js`), js);
    }
    script = path.join(tmp, 'fast-smtp-child.js');
    const ca = await createTestCa({ keyType: 'ec' });
    const leaf = await ca.issue({ commonName: MX_ZONE, altNames: [`*.${MX_ZONE}`] });
    ports = await pickPorts();
    base = { ports, key: leaf.key, cert: leaf.cert, bannerDelayMs: { min: 0, max: 5 }, hostname: MX_ZONE, script };
  });

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('should split whole addresses so that the shards hold about as many listeners', () => {
    const a = (ip: string, open: ProbedPort[]): MailAddress => ({ ip, open, starttls: true });
    const groups = splitAddresses([a('127.0.4.1', [25, 587, 465]), a('127.0.4.2', [25]), a('127.0.4.3', [25, 587]), a('127.0.4.4', [25])], 2);
    expect(groups.map((g) => g.map((x) => x.ip))).toEqual([
      ['127.0.4.1', '127.0.4.2'],
      ['127.0.4.3', '127.0.4.4'],
    ]);
    expect(splitAddresses([a('127.0.4.1', [25])], 3)).toHaveLength(1);
  });

  it('should serve listeners from two child processes, merge their counts and end them on close', async () => {
    const shards = await FastSmtpShards.start(
      [
        { ip: '127.0.4.1', open: [25, 587, 465], starttls: true },
        { ip: '127.0.4.2', open: [25], starttls: false },
        { ip: '127.0.4.3', open: [25, 587], starttls: true },
        { ip: '127.0.4.4', open: [25], starttls: true },
      ],
      { ...base, shards: 2 },
    );
    const pids = shards.pids;
    try {
      expect(shards.listeners).toBe(7);
      expect(shards.processes).toBe(2);
      expect(new Set(pids).size).toBe(2);
      expect(pids.every(alive)).toBe(true);

      // 127.0.4.1 is served by the first child, 127.0.4.3 and .4 by the second.
      const [banner, ehlo, bye] = await converse('127.0.4.1', ports[25]);
      expect(banner).toMatch(/^220 mx\.fleet\.test ESMTP/);
      expect(ehlo).toMatch(/^250-mx\.fleet\.test Hello\r\n[\s\S]*250-STARTTLS\r\n/);
      expect(bye).toMatch(/^221 /);
      expect((await converse('127.0.4.3', ports[587]))[0]).toMatch(/^220 /);
      await converse('127.0.4.4', ports[25]);
      await converse('127.0.4.4', ports[25]);

      const stats = await shards.readStats();
      expect(stats).toMatchObject({ connections: 4, quits: 4, tlsHandshakes: 0, byPort: { 25: 3, 587: 1, 465: 0 } });
      expect(Object.fromEntries(stats.perListener)).toEqual({ [`127.0.4.1:25`]: 1, [`127.0.4.3:587`]: 1, [`127.0.4.4:25`]: 2 });
      const brief = await shards.readStats({ perListener: false });
      expect(brief.connections).toBe(4);
      expect(brief.perListener.size).toBe(0);
      expect(shards.cpuMs()).toBeGreaterThan(0);

      await shards.resetStats();
      const fresh = await shards.readStats();
      expect(fresh.connections).toBe(0);
      expect(fresh.perListener.size).toBe(0);
    } finally {
      await shards.close();
    }
    expect(pids.some(alive)).toBe(false);
    await expect(converse('127.0.4.1', ports[25])).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('should reject with EADDRINUSE when a port is taken, ending every child', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(ports[25], '127.0.4.9', resolve));
    try {
      const start = FastSmtpShards.start(
        [
          { ip: '127.0.4.8', open: [25], starttls: true },
          { ip: '127.0.4.9', open: [25], starttls: true },
        ],
        { ...base, shards: 2 },
      );
      await expect(start).rejects.toMatchObject({ code: 'EADDRINUSE' });
      // The other child had its listener up; it is gone with its process.
      await expect(converse('127.0.4.8', ports[25])).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('should have a child exit when its IPC channel goes (the parent crashed)', async () => {
    const child = fork(script, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const { script: _script, ...options } = base;
    // Listening, the child would stay up for ever but for the channel.
    child.send({ type: 'start', id: 1, addresses: [{ ip: '127.0.4.7', open: [25], starttls: true }], options });
    expect(await new Promise((resolve) => child.once('message', resolve))).toEqual({ type: 'reply', id: 1, listeners: 1 });
    child.disconnect();
    expect(await exited).toBe(0);
    await expect(converse('127.0.4.7', ports[25])).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
