/**
 * Classic DNS (RFC 1035) to the resolvers a mail admin already runs (unbound, bind,
 * systemd-resolved): UDP with a fallback to TCP when the answer is truncated, or TCP alone, on
 * `dns-packet` over node:dgram / node:net, under the shared CachingResolver.
 *
 * Spoofing resistance (RFC 5452): a random 16-bit id per query and a fresh socket per query (the
 * kernel picks a random source port); the UDP socket is connected, so the kernel drops datagrams
 * from any other address and reports an ICMP port-unreachable as ECONNREFUSED; an answer whose
 * id or question (name, type, class, case-insensitive) differs is dropped and the wait goes on
 * until the attempt's deadline, as a stub resolver must.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect as netConnect, isIP, isIPv6 } from 'node:net';
import packet from 'dns-packet';
import { CachingResolver, type CachingResolverOptions, type DnsExchange, type ExchangeResult } from './caching-resolver.js';
import { encodeQuery, MAX_DNS_MESSAGE, mismatchOf, type DnsQuestion } from './dns-message.js';

export interface PlainDnsResolverOptions extends CachingResolverOptions {
  /** Resolver addresses: `ip`, `ip:port`, `[ipv6]:port` or a bare IPv6 address. Port 53 by default. */
  servers: string[];
  /** `udp`: UDP, TCP when the answer is truncated. `tcp`: TCP only. */
  protocol: 'udp' | 'tcp';
}

export interface PlainServer {
  host: string;
  port: number;
  family: 4 | 6;
}

/** Parses `ip`, `ip:port`, `[ipv6]:port` or a bare IPv6 address; throws on anything else (a configuration error). */
export function parsePlainServer(server: string): PlainServer {
  const s = server.trim();
  let host = s;
  let port = 53;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracketed) {
    host = bracketed[1];
    if (bracketed[2]) port = Number(bracketed[2]);
  } else if (isIP(s) === 0) {
    const m = /^([^:]+):(\d+)$/.exec(s);
    if (m) {
      host = m[1];
      port = Number(m[2]);
    } else if (s.includes(':') || s === '') {
      throw new Error(`"${server}" is not a DNS server address (ip, ip:port or [ipv6]:port)`);
    }
  }
  const family = isIP(host);
  if (family === 0) throw new Error(`"${server}" is not an IP address: plain DNS servers must be given as addresses (a name would need a resolver to find it)`);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`"${server}" has an invalid port`);
  return { host, port, family: family as 4 | 6 };
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

export class PlainDnsExchange implements DnsExchange {
  sent = 0;
  /** UDP answers that came back truncated and were asked again over TCP. */
  tcpFallbacks = 0;
  private readonly parsed: PlainServer[];

  constructor(
    servers: string[],
    private readonly protocol: 'udp' | 'tcp',
  ) {
    this.parsed = servers.map(parsePlainServer);
  }

  get serverCount(): number {
    return this.parsed.length;
  }

  describe(index: number): string {
    const { host, port } = this.parsed[index];
    return `${this.protocol} ${isIPv6(host) ? `[${host}]` : host}:${port}`;
  }

  close(): void {
    // Nothing pooled: every query has its own socket.
  }

  async exchange(index: number, question: DnsQuestion, signal: AbortSignal): Promise<ExchangeResult> {
    const server = this.parsed[index];
    if (this.protocol === 'tcp') return this.tcp(server, question, signal);
    const udp = await this.udp(server, question, signal);
    if (udp.ok && udp.message.flag_tc) {
      // RFC 7766: a truncated answer is asked again over TCP, within the same attempt's deadline.
      this.tcpFallbacks++;
      const tcp = await this.tcp(server, question, signal);
      if (!tcp.ok && tcp.error !== 'aborted') return { ...tcp, cause: `the UDP answer was truncated and TCP failed: ${tcp.cause}` };
      if (!tcp.ok) return { ...tcp, note: `the UDP answer was truncated; TCP gave none${tcp.note ? `: ${tcp.note}` : ''}` };
      return tcp;
    }
    return udp;
  }

  private udp(server: PlainServer, question: DnsQuestion, signal: AbortSignal): Promise<ExchangeResult> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve({ ok: false, error: 'aborted', cause: 'aborted' });
      const id = randomInt(0, 65_536);
      const query = encodeQuery(question, id);
      const socket = createSocket({ type: server.family === 6 ? 'udp6' : 'udp4' });
      const dropped: string[] = [];
      let done = false;
      const finish = (result: ExchangeResult) => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', onAbort);
        try {
          socket.close();
        } catch {
          // already closed
        }
        resolve(result);
      };
      const onAbort = () => finish({ ok: false, error: 'aborted', cause: 'aborted', ...noteOf(dropped) });
      signal.addEventListener('abort', onAbort, { once: true });
      socket.on('error', (err) => finish({ ok: false, error: 'transport', cause: describeError(err) }));
      socket.on('message', (msg) => {
        let message: packet.DecodedPacket;
        try {
          message = packet.decode(msg);
        } catch {
          dropped.push('an undecodable datagram');
          return;
        }
        const mismatch = mismatchOf(message, id, question);
        if (mismatch) {
          dropped.push(`an answer with ${mismatch}`);
          return;
        }
        finish({ ok: true, message });
      });
      socket.connect(server.port, server.host, () => {
        if (done) return;
        this.sent++;
        socket.send(query, (err) => {
          if (err) finish({ ok: false, error: 'transport', cause: describeError(err) });
        });
      });
    });
  }

  private tcp(server: PlainServer, question: DnsQuestion, signal: AbortSignal): Promise<ExchangeResult> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve({ ok: false, error: 'aborted', cause: 'aborted' });
      const id = randomInt(0, 65_536);
      // Over TCP the payload size is meaningless (RFC 6891 §6.2.5), but the OPT carries DO.
      const query = encodeQuery(question, id, MAX_DNS_MESSAGE);
      const frame = Buffer.alloc(2 + query.length);
      frame.writeUInt16BE(query.length, 0);
      query.copy(frame, 2);
      const dropped: string[] = [];
      let buffered: Buffer = Buffer.alloc(0);
      let done = false;
      const socket = netConnect({ host: server.host, port: server.port });
      socket.setNoDelay(true);
      const finish = (result: ExchangeResult) => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve(result);
      };
      const onAbort = () => finish({ ok: false, error: 'aborted', cause: 'aborted', ...noteOf(dropped) });
      signal.addEventListener('abort', onAbort, { once: true });
      socket.on('connect', () => {
        this.sent++;
        socket.write(frame);
      });
      socket.on('error', (err) => finish({ ok: false, error: 'transport', cause: describeError(err) }));
      socket.on('end', () =>
        finish({ ok: false, error: 'transport', cause: `the server closed the TCP connection without an answer${dropped.length ? ` (dropped ${dropped.join(', ')})` : ''}` }),
      );
      socket.on('data', (chunk: Buffer) => {
        // Frames are ≤ 65,537 bytes (16-bit length prefix), so the buffer stays bounded.
        buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
        while (buffered.length >= 2) {
          const length = buffered.readUInt16BE(0);
          if (buffered.length < 2 + length) return;
          const body = buffered.subarray(2, 2 + length);
          buffered = buffered.subarray(2 + length);
          let message: packet.DecodedPacket;
          try {
            message = packet.decode(body);
          } catch {
            dropped.push('an undecodable message');
            continue;
          }
          const mismatch = mismatchOf(message, id, question);
          if (mismatch) {
            dropped.push(`an answer with ${mismatch}`);
            continue;
          }
          return finish({ ok: true, message });
        }
      });
    });
  }
}

function noteOf(dropped: string[]): { note?: string } {
  if (!dropped.length) return {};
  const shown = [...new Set(dropped)].slice(0, 3).join(', ');
  return { note: `dropped ${dropped.length} non-matching answer${dropped.length > 1 ? 's' : ''}: ${shown}` };
}

export class PlainDnsResolver extends CachingResolver {
  readonly protocol: 'udp' | 'tcp';
  readonly servers: readonly string[];

  constructor(options: PlainDnsResolverOptions) {
    if (!options.servers.length) throw new Error('PlainDnsResolver needs at least one DNS server address');
    super(new PlainDnsExchange([...options.servers], options.protocol), options);
    this.protocol = options.protocol;
    this.servers = Object.freeze([...options.servers]);
  }

  /** How many truncated UDP answers were asked again over TCP. */
  get tcpFallbacks(): number {
    return (this.exchange as PlainDnsExchange).tcpFallbacks;
  }
}
