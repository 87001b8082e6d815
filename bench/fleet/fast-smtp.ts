/**
 * Mail servers for thousands of addresses, cheap enough to run beside the service under test:
 * one tiny net server per (127.x.y.z, port) speaking just what a probe needs (banner after a
 * random delay, EHLO, STARTTLS with a test CA certificate, implicit TLS on the 465 stand-in,
 * QUIT). test/rig/smtp's smtp-server based servers are faithful but far too heavy by the
 * thousand. Every listener is bound to its own loopback address, so a closed port is an
 * address without a listener on it, exactly as on the internet.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { MailAddress, ProbedPort } from './fleet-model.js';

export interface FastSmtpOptions {
  /** The real port standing in for each probed port (MXWATCH_PORT_MAP). */
  ports: Record<ProbedPort, number>;
  key: string;
  cert: string;
  /** Banner delay, drawn uniformly per connection. */
  bannerDelayMs: { min: number; max: number };
  /** Name in the banner and EHLO reply. */
  hostname?: string;
  /** Idle connections are dropped after this long. Default 30 s. */
  idleTimeoutMs?: number;
}

export interface FastSmtpStats {
  /** TCP connections accepted, all ports. */
  connections: number;
  byPort: Record<ProbedPort, number>;
  /** TLS handshakes completed (STARTTLS and implicit). */
  tlsHandshakes: number;
  /** Sessions that ended with QUIT. */
  quits: number;
  /** Connections per listener (`ip:port` of the probed port), to see whether any was probed twice. */
  perListener: Map<string, number>;
}

const LISTEN_BATCH = 256;

export class FastSmtpFleet {
  readonly stats: FastSmtpStats = { connections: 0, byPort: { 25: 0, 587: 0, 465: 0 }, tlsHandshakes: 0, quits: 0, perListener: new Map() };
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly context: tls.SecureContext;
  private readonly hostname: string;
  private readonly idleMs: number;

  private constructor(private readonly options: FastSmtpOptions) {
    this.context = tls.createSecureContext({ key: options.key, cert: options.cert });
    this.hostname = options.hostname ?? 'mx.fleet.test';
    this.idleMs = options.idleTimeoutMs ?? 30_000;
  }

  /** Starts a listener on every open port of every address. Throws (after cleaning up) when a port is taken. */
  static async start(addresses: Iterable<MailAddress>, options: FastSmtpOptions): Promise<FastSmtpFleet> {
    const fleet = new FastSmtpFleet(options);
    const jobs: Array<{ ip: string; port: ProbedPort; starttls: boolean }> = [];
    for (const a of addresses) {
      if (!a.ip.startsWith('127.')) throw new Error(`FastSmtpFleet serves loopback addresses only, not ${a.ip}`);
      for (const port of a.open) jobs.push({ ip: a.ip, port, starttls: a.starttls });
    }
    try {
      for (let i = 0; i < jobs.length; i += LISTEN_BATCH) {
        await Promise.all(jobs.slice(i, i + LISTEN_BATCH).map((j) => fleet.listen(j.ip, j.port, j.starttls)));
      }
    } catch (e) {
      await fleet.close();
      throw e;
    }
    return fleet;
  }

  /** Starts counting afresh (the measured cycle). */
  resetStats(): void {
    Object.assign(this.stats, { connections: 0, byPort: { 25: 0, 587: 0, 465: 0 }, tlsHandshakes: 0, quits: 0, perListener: new Map() });
  }

  get listeners(): number {
    return this.servers.length;
  }

  /**
   * A copy of the counts, the same call as FastSmtpShards' (whose counts live in child
   * processes); `perListener: false` leaves the per-listener map out (empty) for progress lines.
   */
  async readStats(options: { perListener?: boolean } = {}): Promise<FastSmtpStats> {
    const s = this.stats;
    return { connections: s.connections, byPort: { ...s.byPort }, tlsHandshakes: s.tlsHandshakes, quits: s.quits, perListener: options.perListener === false ? new Map() : new Map(s.perListener) };
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.servers.length = 0;
  }

  private listen(ip: string, probed: ProbedPort, starttls: boolean): Promise<void> {
    const key = `${ip}:${probed}`;
    const server = net.createServer({ noDelay: true }, (socket) => {
      this.stats.perListener.set(key, (this.stats.perListener.get(key) ?? 0) + 1);
      this.accept(socket, probed, starttls);
    });
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: ip, port: this.options.ports[probed], backlog: 1024 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  private accept(socket: net.Socket, probed: ProbedPort, starttls: boolean): void {
    this.stats.connections++;
    this.stats.byPort[probed]++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(this.idleMs, () => socket.destroy());
    if (probed === 465) {
      const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: this.context });
      secure.on('error', () => socket.destroy());
      secure.once('secure', () => {
        this.stats.tlsHandshakes++;
        this.session(secure, { starttls: false, inTls: true, banner: true });
      });
      return;
    }
    this.session(socket, { starttls, inTls: false, banner: true });
  }

  private session(stream: net.Socket, state: { starttls: boolean; inTls: boolean; banner: boolean }): void {
    let buffer = '';
    let greeted = !state.banner;
    const { min, max } = this.options.bannerDelayMs;
    if (state.banner) {
      const timer = setTimeout(() => {
        greeted = true;
        if (!stream.destroyed) stream.write(`220 ${this.hostname} ESMTP fleet\r\n`);
      }, min + Math.random() * (max - min));
      stream.once('close', () => clearTimeout(timer));
    }
    const onData = (chunk: Buffer) => {
      if (!greeted) return; // a client talking before the banner is ignored, as postscreen would
      buffer += chunk.toString('latin1');
      if (buffer.length > 4096) return void stream.destroy();
      for (let eol = buffer.indexOf('\n'); eol !== -1; eol = buffer.indexOf('\n')) {
        const line = buffer.slice(0, eol).replace(/\r$/, '');
        buffer = buffer.slice(eol + 1);
        const verb = line.split(' ', 1)[0]!.toUpperCase();
        if (verb === 'EHLO') {
          const caps = ['PIPELINING', 'SIZE 52428800', ...(state.starttls && !state.inTls ? ['STARTTLS'] : []), ...(state.inTls ? ['AUTH PLAIN LOGIN'] : []), 'ENHANCEDSTATUSCODES', '8BITMIME'];
          stream.write([`250-${this.hostname} Hello`, ...caps.slice(0, -1).map((c) => `250-${c}`), `250 ${caps.at(-1)}`].join('\r\n') + '\r\n');
        } else if (verb === 'HELO') {
          stream.write(`250 ${this.hostname}\r\n`);
        } else if (verb === 'STARTTLS' && state.starttls && !state.inTls) {
          // Stop reading plaintext before the 220 leaves: what follows is the TLS handshake.
          stream.removeListener('data', onData);
          stream.write('220 2.0.0 Ready to start TLS\r\n');
          const secure = new tls.TLSSocket(stream, { isServer: true, secureContext: this.context });
          secure.on('error', () => stream.destroy());
          secure.once('secure', () => {
            this.stats.tlsHandshakes++;
            this.session(secure, { starttls: false, inTls: true, banner: false });
          });
          return;
        } else if (verb === 'QUIT') {
          this.stats.quits++;
          stream.end('221 2.0.0 Bye\r\n');
          return;
        } else if (verb === 'NOOP' || verb === 'RSET') {
          stream.write('250 2.0.0 OK\r\n');
        } else {
          stream.write('502 5.5.2 Command not recognised\r\n');
        }
      }
    };
    stream.on('data', onData);
  }
}

/** Three ports free on 127.0.0.1 to stand in for 25, 587 and 465. */
export async function pickPorts(): Promise<Record<ProbedPort, number>> {
  const one = () =>
    new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
  const ports = new Set<number>();
  while (ports.size < 3) ports.add(await one());
  const [a, b, c] = [...ports];
  return { 25: a!, 587: b!, 465: c! };
}
