/**
 * Fake mail servers for hermetic tests, one behaviour each, listening on 127.0.0.x.
 *
 * Behaviours a real MTA has are served by smtp-server (a real SMTP implementation); the ones
 * that need byte-exact control (tarpits, garbage, injection, multi-line banners, capability
 * order) by a small scripted server on net/tls.
 */
import net from 'node:net';
import tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { createSelfSigned, createTestCa, type TestCa } from '../tls/test-ca.js';

export const FAKE_SMTP_BEHAVIOURS = [
  // smtp-server based
  'good',
  'no-starttls',
  'expired-cert',
  'expiring-cert',
  'self-signed',
  'self-signed-expired',
  'wrong-name',
  'tls10-only',
  'auth-before-tls',
  'implicit-tls',
  // scripted
  'multiline-banner',
  'starttls-last',
  'starttls-injection',
  'starttls-454',
  'ehlo-rejected',
  'reject-421',
  'reject-554',
  'slow-banner',
  'garbage-binary',
  'garbage-no-crlf',
  'endless',
  'silent',
  'closed',
] as const;
export type FakeSmtpBehaviour = (typeof FAKE_SMTP_BEHAVIOURS)[number];

export interface FakeSmtpOptions {
  behaviour: FakeSmtpBehaviour;
  /** Listen address; any 127.0.0.x works on Linux without configuration. */
  host?: string;
  /** 0 (default) = ephemeral. */
  port?: number;
  /** The server's name: in its banner and in its certificate (except `wrong-name`). */
  hostname?: string;
  /** CA issuing the certificate; defaults to one CA shared by the whole test file (see `defaultFakeSmtpCa`). */
  ca?: TestCa;
  /** `slow-banner`: delay before the banner (default 300 ms). */
  bannerDelayMs?: number;
}

export interface FakeSmtpServer {
  ip: string;
  port: number;
  hostname: string;
  /** The CA a client must trust for the certificate to verify (null when no TLS is served). */
  ca: TestCa | null;
  /** Commands received by scripted servers (plaintext and TLS alike), in order; empty for smtp-server based ones. */
  readonly commands: string[];
  /** Scripted servers: true when a client sent bytes before the banner was complete (pregreet). */
  readonly pregreet: boolean;
  readonly connections: number;
  close(): Promise<void>;
}

/** A connection as the fake servers saw it: accepted at `from`, its end read at `to` (ms, monotonic). */
interface ConnectionSpan {
  from: number;
  to: number | null;
}

/**
 * How long after its accept a connection starts to count as open. A busy test process reads the
 * EOF of the connection a client closed and the accept of the one it opened next in the same batch
 * of events, in either order (a reset's 'close' even comes after the next turn's setImmediate), so
 * counting from the accept saw one connection more than the client ever had open (4 against a limit
 * of 3 in full CI runs). Connections the limit tests hold open last well over a second.
 */
const SETTLE_MS = 200;

/**
 * Connections open at once across every fake mail server of this process, and the most seen:
 * how the suites prove the service's global connection limit from the servers' side. Every
 * connection is kept as a span; the peak is the most spans overlapping once each has settled.
 */
export const fakeSmtpActivity = {
  /** Open connections, and the ended ones since resetPeak (none are kept before: the bench's rig makes millions). */
  spans: new Set<ConnectionSpan>(),
  resetAt: null as number | null,
  /** Forget connections accepted before now: another suite of this process may have left one open. */
  resetPeak(): void {
    this.resetAt = performance.now();
    for (const s of this.spans) if (s.to !== null) this.spans.delete(s);
  },
  /** The most connections open at once among those accepted since resetPeak. */
  get peakSinceReset(): number {
    const edges: Array<[number, number]> = [];
    for (const s of this.spans) {
      if (this.resetAt === null || s.from < this.resetAt) continue;
      const from = s.from + SETTLE_MS;
      const to = s.to ?? Infinity;
      if (to <= from) continue;
      edges.push([from, 1], [to, -1]);
    }
    // Ends before starts at the same instant: a connection closed as the next opened is not two.
    edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let open = 0;
    let peak = 0;
    for (const [, d] of edges) {
      open += d;
      peak = Math.max(peak, open);
    }
    return peak;
  },
  /** A connection accepted now; call the result once it ended (again is harmless). */
  opened(): () => void {
    const span: ConnectionSpan = { from: performance.now(), to: null };
    this.spans.add(span);
    return () => {
      if (span.to !== null) return;
      span.to = performance.now();
      if (this.resetAt === null) this.spans.delete(span);
    };
  },
  /**
   * Counts a raw socket from its accept to its first end, reset or close. Returns `follow`: a TLS
   * socket the connection is upgraded to reads the EOF from then on, so it must be followed too.
   */
  track(socket: net.Socket): (upgraded: net.Socket) => void {
    const finish = this.opened();
    const follow = (s: net.Socket) => {
      s.once('end', finish);
      s.once('error', finish);
      s.once('close', finish);
    };
    follow(socket);
    return follow;
  },
};

const DAY_MS = 86_400_000;
let sharedCa: Promise<TestCa> | null = null;

/** One CA per test process: RSA key generation is slow enough to matter when every test makes one. */
export function defaultFakeSmtpCa(): Promise<TestCa> {
  sharedCa ??= createTestCa({ commonName: 'mxwatch fake SMTP CA' });
  return sharedCa;
}

async function certificateFor(behaviour: FakeSmtpBehaviour, hostname: string, ca: TestCa): Promise<{ key: string; cert: string }> {
  const now = Date.now();
  switch (behaviour) {
    case 'expired-cert':
      return ca.issue({ commonName: hostname, notBefore: new Date(now - 90 * DAY_MS), notAfter: new Date(now - 2 * DAY_MS) });
    case 'expiring-cert':
      return ca.issue({ commonName: hostname, notBefore: new Date(now - 80 * DAY_MS), notAfter: new Date(now + 5 * DAY_MS + 3_600_000) });
    case 'self-signed':
      return createSelfSigned({ commonName: hostname });
    case 'self-signed-expired':
      return createSelfSigned({ commonName: hostname, notBefore: new Date(now - 90 * DAY_MS), notAfter: new Date(now - 2 * DAY_MS) });
    case 'wrong-name':
      return ca.issue({ commonName: 'other.invalid', altNames: ['other.invalid', 'www.other.invalid'] });
    default:
      return ca.issue({ commonName: hostname });
  }
}

const SMTP_SERVER_BEHAVIOURS = new Set<FakeSmtpBehaviour>([
  'good',
  'no-starttls',
  'expired-cert',
  'expiring-cert',
  'self-signed',
  'self-signed-expired',
  'wrong-name',
  'tls10-only',
  'auth-before-tls',
  'implicit-tls',
]);

export async function startFakeSmtp(options: FakeSmtpOptions): Promise<FakeSmtpServer> {
  const host = options.host ?? '127.0.0.1';
  const hostname = options.hostname ?? 'mx.test';
  const { behaviour } = options;
  if (behaviour === 'closed') return closedPort(host, hostname);
  const needsTls = !['no-starttls', 'reject-421', 'reject-554', 'garbage-binary', 'garbage-no-crlf', 'endless', 'silent', 'ehlo-rejected', 'starttls-454'].includes(behaviour);
  const ca = needsTls ? (options.ca ?? (await defaultFakeSmtpCa())) : null;
  const cert = ca ? await certificateFor(behaviour, hostname, ca) : null;
  if (SMTP_SERVER_BEHAVIOURS.has(behaviour)) return startSmtpServer(options, host, hostname, ca, cert);
  return startScripted(options, host, hostname, ca, cert);
}

async function closedPort(host: string, hostname: string): Promise<FakeSmtpServer> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, host, r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return { ip: host, port, hostname, ca: null, commands: [], pregreet: false, connections: 0, close: async () => undefined };
}

async function startSmtpServer(
  options: FakeSmtpOptions,
  host: string,
  hostname: string,
  ca: TestCa | null,
  cert: { key: string; cert: string } | null,
): Promise<FakeSmtpServer> {
  const { behaviour } = options;
  let connections = 0;
  /** Session id → ends its span in fakeSmtpActivity. */
  const open = new Map<string, () => void>();
  const serverOptions: SMTPServerOptions = {
    name: hostname,
    logger: false,
    disableReverseLookup: true,
    closeTimeout: 200,
    authOptional: true,
    disabledCommands: ['AUTH'],
    onConnect: (session, cb) => {
      connections++;
      open.set(session.id, fakeSmtpActivity.opened());
      cb();
    },
    onClose: (session) => {
      open.get(session.id)?.();
      open.delete(session.id);
    },
    onData: (stream, _session, cb) => {
      stream.resume();
      stream.on('end', () => cb());
    },
  };
  if (cert) Object.assign(serverOptions, { key: cert.key, cert: cert.cert });
  if (behaviour === 'no-starttls') serverOptions.disabledCommands = ['AUTH', 'STARTTLS'];
  if (behaviour === 'auth-before-tls') {
    serverOptions.disabledCommands = [];
    serverOptions.allowInsecureAuth = true;
    serverOptions.authMethods = ['PLAIN', 'LOGIN'];
    serverOptions.onAuth = (_auth, _session, cb) => cb(new Error('no'));
  }
  if (behaviour === 'implicit-tls') {
    serverOptions.secure = true;
    serverOptions.disabledCommands = [];
    serverOptions.authMethods = ['PLAIN'];
    serverOptions.onAuth = (_auth, _session, cb) => cb(new Error('no'));
  }
  if (behaviour === 'tls10-only') {
    // OpenSSL 3 refuses TLS 1.0 at the default security level, on both sides.
    Object.assign(serverOptions, { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
  }
  const server = new SMTPServer(serverOptions);
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.server.address() as net.AddressInfo).port;
  return {
    ip: host,
    port,
    hostname,
    ca,
    commands: [],
    pregreet: false,
    get connections() {
      return connections;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

interface Script {
  bannerLines: string[];
  /** Gap between banner lines, to prove a client waits for the last one. */
  bannerGapMs: number;
  bannerDelayMs: number;
  capabilities: string[];
  starttls: 'tls' | 'inject' | '454' | 'none';
  ehloRejected: boolean;
  /** After the banner: stay silent to everything. */
  mute: boolean;
  closeAfterBanner: boolean;
  /** Raw bytes instead of a banner; a function is called repeatedly until the client goes. */
  garbage?: Buffer | (() => Buffer);
}

function scriptFor(behaviour: FakeSmtpBehaviour, hostname: string, options: FakeSmtpOptions): Script {
  const base: Script = {
    bannerLines: [`220 ${hostname} ESMTP scripted`],
    bannerGapMs: 0,
    bannerDelayMs: 0,
    capabilities: ['PIPELINING', 'SIZE 10240000', 'STARTTLS', 'ENHANCEDSTATUSCODES', '8BITMIME'],
    starttls: 'tls',
    ehloRejected: false,
    mute: false,
    closeAfterBanner: false,
  };
  switch (behaviour) {
    case 'multiline-banner':
      return { ...base, bannerLines: [`220-${hostname} ESMTP`, '220-Unsolicited bulk mail prohibited', `220 ${hostname} ready`], bannerGapMs: 60 };
    case 'starttls-last':
      return { ...base, capabilities: ['pipelining', 'size 10240000', 'ENHANCEDSTATUSCODES', '8BITMIME', 'starttls'] };
    case 'starttls-injection':
      return { ...base, starttls: 'inject' };
    case 'starttls-454':
      return { ...base, starttls: '454' };
    case 'ehlo-rejected':
      return { ...base, ehloRejected: true, starttls: 'none' };
    case 'reject-421':
      return { ...base, bannerLines: [`421 4.7.0 ${hostname} Too many connections, try again later`], closeAfterBanner: true };
    case 'reject-554':
      return { ...base, bannerLines: [`554 5.7.1 ${hostname} No SMTP service for you`], mute: false, starttls: 'none', capabilities: [] };
    case 'slow-banner':
      return { ...base, bannerDelayMs: options.bannerDelayMs ?? 300 };
    case 'garbage-binary':
      return { ...base, garbage: Buffer.from([0x00, 0xff, 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x0d, 0x0a]) };
    case 'garbage-no-crlf':
      return { ...base, garbage: () => Buffer.from(`220 ${hostname} ${'A'.repeat(1024)}`) };
    case 'endless':
      return { ...base, garbage: () => Buffer.from(`220-${hostname} still talking ${'z'.repeat(60)}\r\n`.repeat(16)) };
    case 'silent':
      return { ...base, bannerLines: [], mute: true };
    default:
      return base;
  }
}

async function startScripted(
  options: FakeSmtpOptions,
  host: string,
  hostname: string,
  ca: TestCa | null,
  cert: { key: string; cert: string } | null,
): Promise<FakeSmtpServer> {
  const script = scriptFor(options.behaviour, hostname, options);
  const commands: string[] = [];
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let pregreet = false;
  let connections = 0;
  const secureContext = cert ? tls.createSecureContext({ key: cert.key, cert: cert.cert }) : null;
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const server = net.createServer((socket) => {
    connections++;
    const follow = fakeSmtpActivity.track(socket);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let bannerDone = false;
    const onEarly = () => {
      if (!bannerDone) pregreet = true;
    };
    socket.on('data', onEarly);

    if (script.garbage) {
      const g = script.garbage;
      if (Buffer.isBuffer(g)) socket.write(g);
      else {
        const pump = () => {
          if (socket.destroyed) return;
          // Respect back-pressure so the fake itself stays bounded while the client fails.
          if (socket.write(g())) later(2, pump);
          else socket.once('drain', pump);
        };
        pump();
      }
      return;
    }
    if (script.mute) return;

    const sendBanner = (i: number) => {
      if (socket.destroyed) return;
      if (i >= script.bannerLines.length) {
        bannerDone = true;
        if (script.closeAfterBanner) socket.end();
        else converse(socket, follow);
        return;
      }
      socket.write(`${script.bannerLines[i]}\r\n`);
      if (i + 1 < script.bannerLines.length && script.bannerGapMs > 0) later(script.bannerGapMs, () => sendBanner(i + 1));
      else sendBanner(i + 1);
    };
    later(script.bannerDelayMs, () => sendBanner(0));
  });

  const converse = (start: net.Socket, follow: (upgraded: net.Socket) => void) => {
    let io: net.Socket = start;
    let inTls = false;
    let buffer = '';
    const reply = (code: number, lines: string[]) => {
      io.write(lines.map((l, i) => `${code}${i === lines.length - 1 ? ' ' : '-'}${l}\r\n`).join(''));
    };
    /** Returns true when the connection switched to TLS: plaintext pipelined behind STARTTLS is dropped (RFC 3207). */
    const onLine = (line: string): boolean | void => {
      commands.push(inTls ? `[tls] ${line}` : line);
      const verb = line.split(' ')[0]!.toUpperCase();
      if (options.behaviour === 'reject-554') {
        if (verb === 'QUIT') {
          io.end('221 2.0.0 Bye\r\n');
        } else reply(503, ['5.5.1 No SMTP service here']);
        return;
      }
      switch (verb) {
        case 'EHLO':
          if (script.ehloRejected) return reply(502, ['5.5.2 Error: command not recognized']);
          return reply(250, [hostname, ...script.capabilities.filter((c) => !(inTls && /^starttls$/i.test(c)))]);
        case 'HELO':
          return reply(250, [hostname]);
        case 'STARTTLS':
          if (inTls || script.starttls === 'none') return reply(502, ['5.5.1 Command not implemented']);
          if (script.starttls === '454') return reply(454, ['4.7.0 TLS not available due to local problem']);
          io.removeListener('data', onData);
          // The injection: plaintext that a careless client would read as the answer to its next command.
          io.write(script.starttls === 'inject' ? '220 2.0.0 Ready to start TLS\r\n250-INJECTED\r\n250 AUTH PLAIN\r\n' : '220 2.0.0 Ready to start TLS\r\n');
          {
            const secure = new tls.TLSSocket(io, { isServer: true, secureContext: secureContext! });
            secure.on('error', () => undefined);
            follow(secure);
            io = secure;
            inTls = true;
            buffer = '';
            secure.on('data', onData);
          }
          return true;
        case 'QUIT':
          io.end('221 2.0.0 Bye\r\n');
          return;
        case 'NOOP':
        case 'RSET':
          return reply(250, ['2.0.0 OK']);
        default:
          return reply(502, ['5.5.2 Error: command not recognized']);
      }
    };
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      if (buffer.length > 65536) {
        io.destroy();
        return;
      }
      let i: number;
      while ((i = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, i).replace(/\r$/, '');
        buffer = buffer.slice(i + 1);
        if (onLine(line) === true) {
          buffer = '';
          return;
        }
      }
    };
    start.on('data', onData);
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    ip: host,
    port,
    hostname,
    ca,
    commands,
    get pregreet() {
      return pregreet;
    },
    get connections() {
      return connections;
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
