import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AddressPolicy } from './address-policy.js';
import { NetDialer, parsePortMap } from './net-dialer.js';

const allowLoopback = AddressPolicy.fromList('127.0.0.0/8');
const servers: net.Server[] = [];

async function listen(host = '127.0.0.1'): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((s) => s.end());
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, host, r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

describe(NetDialer.name, () => {
  it('should connect and report the connect time and the dialled port', async () => {
    const { port } = await listen();
    const r = await new NetDialer({ policy: allowLoopback }).dial({ ip: '127.0.0.1', port, deadline: Date.now() + 5000 });
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.actualPort).toBe(port);
      expect(r.connectMs).toBeGreaterThanOrEqual(0);
      r.socket.destroy();
    }
  });

  it('should refuse a forbidden address before connecting and name the range', async () => {
    let accepted = 0;
    const server = net.createServer((s) => {
      accepted++;
      s.destroy();
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const r = await new NetDialer({ policy: AddressPolicy.fromList(undefined) }).dial({ ip: '127.0.0.1', port, deadline: Date.now() + 5000 });
    expect(r).toEqual({ ok: false, error: 'forbidden', cause: expect.stringContaining('loopback') });
    await new Promise((r2) => setTimeout(r2, 50));
    expect(accepted).toBe(0);
  });

  it('should refuse names that are not IP literals', async () => {
    const r = await new NetDialer({ policy: allowLoopback }).dial({ ip: 'localhost', port: 25, deadline: Date.now() + 5000 });
    expect(r).toMatchObject({ ok: false, error: 'error' });
  });

  it('should apply the port map', async () => {
    const { port } = await listen();
    const dialer = new NetDialer({ policy: allowLoopback, portMap: new Map([[25, port]]) });
    const r = await dialer.dial({ ip: '127.0.0.1', port: 25, deadline: Date.now() + 5000 });
    expect(r).toMatchObject({ ok: true, actualPort: port });
    if (r.ok) r.socket.destroy();
  });

  it('should classify a closed port as refused', async () => {
    const port = await closedPort();
    const r = await new NetDialer({ policy: allowLoopback }).dial({ ip: '127.0.0.1', port, deadline: Date.now() + 5000 });
    expect(r).toMatchObject({ ok: false, error: 'refused', cause: expect.stringContaining('ECONNREFUSED') });
  });

  it('should time out when the deadline has passed', async () => {
    const { port } = await listen();
    const r = await new NetDialer({ policy: allowLoopback }).dial({ ip: '127.0.0.1', port, deadline: Date.now() - 1 });
    expect(r).toMatchObject({ ok: false, error: 'timeout' });
  });

  it('should stop when the signal aborts', async () => {
    const { port } = await listen();
    const ac = new AbortController();
    ac.abort();
    const r = await new NetDialer({ policy: allowLoopback }).dial({ ip: '127.0.0.1', port, deadline: Date.now() + 5000, signal: ac.signal });
    expect(r).toMatchObject({ ok: false, error: 'error', cause: 'aborted' });
  });
});

describe(parsePortMap.name, () => {
  it('should parse a port map and treat empty input as no map', () => {
    expect([...parsePortMap('25:2525, 587:2587')]).toEqual([
      [25, 2525],
      [587, 2587],
    ]);
    expect(parsePortMap('').size).toBe(0);
    expect(parsePortMap(undefined).size).toBe(0);
  });

  it.each([
    ['25', 'port map item "25" is not <probed port>:<dialled port>'],
    ['25:x', 'port map item "25:x" is not <probed port>:<dialled port>'],
    ['25:70000', 'port map item "25:70000": 70000 is not a port (1-65535)'],
    ['0:25', 'port map item "0:25": 0 is not a port (1-65535)'],
    ['25:2525,25:2526', 'port map maps port 25 twice'],
    ['25:2525,,587:2587', 'port map "25:2525,,587:2587" has an empty item'],
  ])('should reject %s with a clear message', (spec, message) => {
    expect(() => parsePortMap(spec)).toThrow(message);
  });
});
