import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SmtpClientError, SmtpSession, Transcript, authMechanisms, hasCapability, parseEhloCapabilities } from './smtp-client.js';

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A raw server whose connection handler is the test's script; resolves with a connected client socket. */
async function connectTo(script: (s: net.Socket) => void): Promise<{ socket: net.Socket; serverSide: Promise<net.Socket> }> {
  let resolveSide!: (s: net.Socket) => void;
  const serverSide = new Promise<net.Socket>((r) => (resolveSide = r));
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    resolveSide(s);
    script(s);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.5', r));
  const socket = net.connect({ host: '127.0.0.5', port: (server.address() as net.AddressInfo).port });
  socket.on('error', () => undefined);
  await new Promise((r) => socket.once('connect', r));
  return { socket, serverSide };
}

function session(socket: net.Socket, extra: Partial<ConstructorParameters<typeof SmtpSession>[1]> = {}) {
  return new SmtpSession(socket, { deadline: Date.now() + 10_000, replyTimeoutMs: 2_000, ...extra });
}

describe(SmtpSession.name, () => {
  it('should wait for the last line of a banner sent in pieces', async () => {
    const { socket } = await connectTo((s) => {
      s.write('220-mx.test ESMTP\r\n');
      setTimeout(() => s.write('220 mx.test ready\r\n'), 50);
    });
    const smtp = session(socket);
    const banner = await smtp.readReply('banner');
    expect(banner.lines).toEqual(['mx.test ESMTP', 'mx.test ready']);
    expect(smtp.transcript.lines).toEqual(['S: 220-mx.test ESMTP', 'S: 220 mx.test ready']);
    smtp.close();
  });

  it('should parse EHLO capabilities in any order and case', async () => {
    const { socket } = await connectTo((s) => {
      s.write('220 hi\r\n');
      s.on('data', () => s.write('250-mx.test\r\n250-auth=LOGIN\r\n250-Size 100\r\n250 starttls\r\n'));
    });
    const smtp = session(socket);
    await smtp.readReply('banner');
    const ehlo = await smtp.ehlo('probe.test', 'ehlo');
    expect(ehlo.ok).toBe(true);
    expect(ehlo.capabilities).toEqual(['AUTH=LOGIN', 'SIZE 100', 'STARTTLS']);
    expect(hasCapability(ehlo.capabilities, 'starttls')).toBe(true);
    expect(smtp.timings.ehloMs).toEqual(expect.any(Number));
    expect(smtp.transcript.lines[1]).toBe('C: EHLO probe.test');
    smtp.close();
  });

  it('should refuse to take a reply sent out of turn as the answer to a command', async () => {
    const { socket } = await connectTo((s) => s.write('220 hi\r\n250 unsolicited\r\n'));
    const smtp = session(socket);
    await smtp.readReply('banner');
    await new Promise((r) => setTimeout(r, 20));
    await expect(smtp.command('EHLO x', 'ehlo')).rejects.toMatchObject({ kind: 'protocol' });
    smtp.close();
  });

  it('should end a never-ending reply with a protocol error and destroy the socket', async () => {
    const { socket } = await connectTo((s) => {
      const pump = () => {
        if (s.destroyed) return;
        if (s.write('220-still talking\r\n'.repeat(100))) setImmediate(pump);
        else s.once('drain', pump);
      };
      pump();
    });
    const smtp = session(socket);
    const err = await smtp.readReply('banner').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SmtpClientError);
    expect(err).toMatchObject({ kind: 'protocol', parseError: { kind: 'too_many_lines' } });
    expect(socket.destroyed).toBe(true);
  });

  it('should time out a silent server within the reply timeout', async () => {
    const { socket } = await connectTo(() => undefined);
    const smtp = session(socket, { replyTimeoutMs: 200 });
    const started = Date.now();
    await expect(smtp.readReply('banner')).rejects.toMatchObject({ kind: 'timeout' });
    expect(Date.now() - started).toBeLessThan(3_000);
    smtp.close();
    expect(socket.destroyed).toBe(true);
  });

  it('should bound the wait by the deadline when it comes before the reply timeout', async () => {
    const { socket } = await connectTo(() => undefined);
    const smtp = session(socket, { replyTimeoutMs: 60_000, deadline: Date.now() + 200 });
    const started = Date.now();
    await expect(smtp.readReply('banner')).rejects.toMatchObject({ kind: 'timeout' });
    expect(Date.now() - started).toBeLessThan(3_000);
    smtp.close();
  });

  it('should report a connection closed in the middle of a reply', async () => {
    const { socket } = await connectTo((s) => s.end('220-partial\r\n'));
    const smtp = session(socket);
    await expect(smtp.readReply('banner')).rejects.toMatchObject({ kind: 'closed', message: expect.stringContaining('middle of a reply') });
    smtp.close();
  });

  it('should deliver replies that arrived before the server closed', async () => {
    const { socket } = await connectTo((s) => s.end('421 go away\r\n'));
    const smtp = session(socket);
    await new Promise((r) => setTimeout(r, 50));
    expect((await smtp.readReply('banner')).code).toBe(421);
    await expect(smtp.readReply('next')).rejects.toMatchObject({ kind: 'closed' });
    smtp.close();
  });

  it('should stop waiting when the signal aborts', async () => {
    const { socket } = await connectTo(() => undefined);
    const ac = new AbortController();
    const smtp = session(socket, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expect(smtp.readReply('banner')).rejects.toMatchObject({ kind: 'aborted' });
    expect(socket.destroyed).toBe(true);
  });

  it('should close the server side of the connection on close()', async () => {
    const { socket, serverSide } = await connectTo((s) => s.write('220 hi\r\n'));
    const smtp = session(socket);
    await smtp.readReply('banner');
    const side = await serverSide;
    const closed = new Promise<string>((r) => side.once('close', () => r('closed')));
    smtp.close();
    // A close that never reaches the server must fail here, not hang until the suite's timeout.
    const outcome = await Promise.race([closed, new Promise<string>((r) => setTimeout(() => r('still open after 2 s'), 2_000).unref())]);
    expect(outcome).toBe('closed');
    expect(socket.destroyed).toBe(true);
  });
});

describe(Transcript.name, () => {
  it('should cap lines and characters and say so once', () => {
    const t = new Transcript(5, 1000);
    for (let i = 0; i < 20; i++) t.add(`S: 250-line ${i}`);
    expect(t.lines).toHaveLength(5);
    expect(t.lines.at(-1)).toBe('* transcript truncated');
  });

  it('should make untrusted text printable and short', () => {
    const t = new Transcript();
    t.add(`S: ${'x'.repeat(2000)}\x00`);
    expect(t.lines[0]!.length).toBeLessThanOrEqual(513);
  });
});

describe(authMechanisms.name, () => {
  it('should read both AUTH forms and deduplicate', () => {
    expect(authMechanisms(['AUTH PLAIN LOGIN', 'AUTH=LOGIN CRAM-MD5', 'STARTTLS'])).toEqual(['PLAIN', 'LOGIN', 'CRAM-MD5']);
    expect(authMechanisms(['AUTHX', 'SIZE 1'])).toEqual([]);
  });
});

describe(parseEhloCapabilities.name, () => {
  it('should skip the greeting line and return nothing for a refused EHLO', () => {
    expect(parseEhloCapabilities({ code: 250, lines: ['mx hello', ' 8bitmime ', 'dsn'], raw: [] })).toEqual(['8BITMIME', 'DSN']);
    expect(parseEhloCapabilities({ code: 502, lines: ['no'], raw: [] })).toEqual([]);
  });
});
