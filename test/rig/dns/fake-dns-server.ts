/**
 * The project's fake DNS: one zone map served over DoH (plain HTTP and HTTPS, RFC 8484 GET and
 * POST on `/dns-query`) and classic DNS over UDP and TCP, on loopback addresses only. It behaves like the
 * recursive resolver mxwatch talks to in production, not like an authoritative server: it
 * chases CNAMEs for other types, tells NXDOMAIN from NODATA (empty non-terminals included),
 * puts the enclosing zone's SOA in the authority section of negative answers (negative TTL,
 * RFC 2308) and expands wildcards (DNSBLs that list everything are wildcards).
 *
 * Faults are injected per name (the name and every name below it) or globally, so a test
 * can make one DNSBL zone refuse while the rest of the world answers. Besides rcodes, delays and
 * drops, a fault can truncate UDP answers, send a forged answer (wrong id or question) before or
 * instead of the real one, stop at the first CNAME (as unbound does for local data), or stream a
 * huge DoH body slowly.
 *
 * DNSSEC, enough for resolver tests: names marked `secure` answer with AD to queries with DO;
 * `bogus` ones answer SERVFAIL with an RFC 8914 "DNSSEC Bogus" extended error unless CD is set.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2Session } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import packet from 'dns-packet';
import { createTestCa } from '../tls/test-ca.js';

export type FakeRecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'CNAME' | 'SRV' | 'SOA' | 'PTR' | 'NS' | 'TLSA' | 'DS' | 'DNSKEY';

export interface FakeMx { preference: number; exchange: string }
export interface FakeSrv { priority: number; weight: number; port: number; target: string }
export interface FakeSoa { mname: string; rname: string; serial?: number; refresh?: number; retry?: number; expire?: number; minimum: number }
/** `data`: the certificate association data as hex. */
export interface FakeTlsa { usage: number; selector: number; matchingType: number; data: string }
/** `digest`: hex. */
export interface FakeDs { keyTag: number; algorithm: number; digestType: number; digest: string }
/** `key`: base64. */
export interface FakeDnskey { flags: number; algorithm: number; key: string }

/** A TXT record is one string, or its character-strings as sent on the wire (each ≤255 bytes). */
export type FakeTxt = string | string[];

export interface FakeRecordOf {
  A: string;
  AAAA: string;
  MX: FakeMx;
  TXT: FakeTxt;
  CNAME: string;
  SRV: FakeSrv;
  SOA: FakeSoa;
  PTR: string;
  NS: string;
  TLSA: FakeTlsa;
  DS: FakeDs;
  DNSKEY: FakeDnskey;
}

/** `{ 'example.test': { MX: [{ preference: 10, exchange: 'mx.example.test' }], SOA: {...} }, 'mx.example.test': { A: ['192.0.2.1'] } }` */
export type FakeZone = Record<string, { [T in FakeRecordType]?: Array<FakeRecordOf[T]> }>;

export type FakeTransport = 'http' | 'https' | 'udp' | 'tcp';

/** DNSSEC state served for a name and everything below it. */
export type FakeDnssecState = 'secure' | 'bogus' | 'insecure';

export interface FakeDnsFault {
  /** Answer with this rcode instead of the data. */
  rcode?: 'SERVFAIL' | 'REFUSED' | 'FORMERR' | 'NOTIMP';
  /**
   * Wait before answering (also applies before an HTTP status or rcode fault). A range draws a
   * fresh uniform delay for every answer, like a real resolver's varying upstream latency.
   */
  delayMs?: number | { min: number; max: number };
  /** DoH only: answer with this HTTP status and no DNS message (e.g. 429, 500). */
  httpStatus?: number;
  /** Never answer (the HTTP request or TCP connection hangs until the client gives up or the server closes). */
  drop?: boolean;
  /** UDP only: answer with the TC bit and no records, so the client must ask again over TCP. */
  truncate?: boolean;
  /**
   * UDP/TCP: send a forged answer first, with the query id plus one (`id`) or the question's name
   * changed (`question`). Unless `thenAnswer`, the real answer never follows.
   */
  mismatch?: 'id' | 'question';
  /** With `mismatch`: send the real answer right after the forged one. */
  thenAnswer?: boolean;
  /** Answer only the CNAME at the asked name, without chasing it (unbound's answer for local data). */
  cnameOnly?: boolean;
  /** DoH only: a 200 answer whose body is `bytes` long, sent `chunkBytes` every `intervalMs`, never a valid message. */
  hugeBody?: { bytes: number; chunkBytes: number; intervalMs: number };
  /** Limit the fault to these transports. */
  transports?: FakeTransport[];
  /** Apply to this many matching queries only, then disappear (e.g. fail once, then answer). */
  times?: number;
}

export interface FakeQueryLogEntry {
  name: string;
  type: string;
  transport: FakeTransport;
  /** `GET`/`POST` for DoH, `UDP`/`TCP` otherwise. */
  method: 'GET' | 'POST' | 'UDP' | 'TCP';
  /** The rcode sent, `HTTP <status>` for an HTTP fault, `DROPPED` when nothing was sent, `TRUNCATED`, `HUGE BODY`. */
  outcome: string;
  /** The query's id, DO bit (EDNS0), CD bit and EDNS0 UDP payload size (null without EDNS0). */
  id: number;
  dnssecOk: boolean;
  checkingDisabled: boolean;
  udpPayloadSize: number | null;
  /** UDP/TCP: the client's source port. */
  sourcePort?: number;
  /** DoH: the HTTP version of the request (`1.1`, `2.0`). */
  httpVersion?: string;
  /** `hugeBody` faults: bytes written before the client went away or the body ended. */
  bodyBytesSent?: number;
}

export interface FakeDnsServerOptions {
  /** Loopback address to bind (any 127.0.0.0/8 address works on Linux). Default 127.0.0.1. */
  host?: string;
  /** Port for each listener; default 0 (ephemeral). */
  httpPort?: number;
  httpsPort?: number;
  udpPort?: number;
  tcpPort?: number;
  /** Serve DoH over plain HTTP. Default true. */
  http?: boolean;
  /**
   * Serve DoH over HTTPS. `true` issues a certificate for `host` and `localhost` from a fresh
   * test CA (exposed as `caCert`); or pass your own key/cert (and `ca` to expose). Default false.
   */
  https?: boolean | { key: string; cert: string; ca?: string };
  /**
   * The HTTPS server also speaks HTTP/2 (ALPN `h2`, HTTP/1.1 still accepted), as the public DoH
   * resolvers do. Default false: HTTP/1.1 only.
   */
  http2?: boolean;
  /** Serve classic DNS over UDP. Default true. */
  udp?: boolean;
  /** Serve classic DNS over TCP. Default true. */
  tcp?: boolean;
  /**
   * Largest UDP answer sent; larger ones are truncated (TC bit, no records). The client's EDNS0
   * payload size (512 without EDNS0) applies as well. Default: no limit of our own.
   */
  udpMaxSize?: number;
  /** TTL of records set without one. Default 300. */
  defaultTtl?: number;
}

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const MAX_CNAME_CHAIN = 8;

interface RRset { ttl: number; records: unknown[] }

type AnswerPlan =
  | { kind: 'dns'; response: Buffer; outcome: string; delayMs: number; forged: Buffer | null; thenAnswer: boolean }
  | { kind: 'http'; status: number; delayMs: number }
  | { kind: 'huge'; body: { bytes: number; chunkBytes: number; intervalMs: number }; entry: FakeQueryLogEntry }
  | { kind: 'drop' };

const EDE_DNSSEC_BOGUS = 6;

export function normaliseFakeName(name: string): string {
  const lower = name.trim().toLowerCase();
  return lower.endsWith('.') && lower.length > 1 ? lower.slice(0, -1) : lower;
}

export class FakeDnsServer {
  /** `host:port` of the plain-HTTP DoH listener, the form MXWATCH_DNS_SERVERS takes. */
  httpAddress: string | null = null;
  httpsAddress: string | null = null;
  udpAddress: string | null = null;
  /** `host:port` of the classic DNS over TCP listener (the UDP port too, unless both were given). */
  tcpAddress: string | null = null;
  /** PEM of the CA that issued the HTTPS certificate (when the server made its own). */
  caCert: string | null = null;
  readonly host: string;

  private readonly names = new Map<string, Map<FakeRecordType, RRset>>();
  /** For every ancestor of a name in `names`: how many names lie below it (empty non-terminals). */
  private readonly below = new Map<string, number>();
  private readonly faults = new Map<string, FakeDnsFault>();
  private readonly dnssec = new Map<string, FakeDnssecState>();
  private readonly tcpSockets = new Set<Socket>();
  private tcpServer: TcpServer | null = null;
  private readonly log: FakeQueryLogEntry[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly hanging = new Set<ServerResponse>();
  private httpServer: HttpServer | null = null;
  private httpsServer: HttpServer | null = null;
  private readonly h2Sessions = new Set<Http2Session>();
  private udpSocket: UdpSocket | null = null;
  private readonly defaultTtl: number;

  private constructor(private readonly options: FakeDnsServerOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.defaultTtl = options.defaultTtl ?? 300;
    if (!this.host.startsWith('127.')) {
      throw new Error(`FakeDnsServer binds loopback only (127.0.0.0/8), not ${this.host}`);
    }
  }

  static async start(options: FakeDnsServerOptions = {}): Promise<FakeDnsServer> {
    const server = new FakeDnsServer(options);
    try {
      await server.listen();
    } catch (err) {
      await server.close();
      throw err;
    }
    return server;
  }

  /** `http://host:port/dns-query` etc., handy for ad-hoc clients. */
  url(protocol: 'http' | 'https' = 'http'): string {
    const address = protocol === 'http' ? this.httpAddress : this.httpsAddress;
    if (!address) throw new Error(`FakeDnsServer was started without ${protocol}`);
    return `${protocol}://${address}/dns-query`;
  }

  // ------------------------------------------------------------------------------------------
  // Zone map
  // ------------------------------------------------------------------------------------------

  /** Replaces the RRset of one type at one name. An empty list removes it. */
  setRecords<T extends FakeRecordType>(name: string, type: T, records: Array<FakeRecordOf[T]>, ttl = this.defaultTtl): this {
    const key = normaliseFakeName(name);
    const node = this.names.get(key) ?? new Map<FakeRecordType, RRset>();
    if (records.length === 0) node.delete(type);
    else node.set(type, { ttl, records: [...records] });
    if (node.size === 0) this.deleteName(key);
    else if (!this.names.has(key)) this.addName(key, node);
    return this;
  }

  /** Adds (merges) a zone map; RRsets named in it replace existing ones. */
  setZone(zone: FakeZone, options: { ttl?: number } = {}): this {
    for (const [name, types] of Object.entries(zone)) {
      for (const [type, records] of Object.entries(types) as Array<[FakeRecordType, unknown[]]>) {
        this.setRecords(name, type, records as never[], options.ttl);
      }
    }
    return this;
  }

  /** Publishes an SOA at a zone apex; its `minimum` is the negative-caching TTL of the zone. */
  setSoa(apex: string, minimum = 60, ttl = minimum): this {
    const name = normaliseFakeName(apex);
    return this.setRecords(name, 'SOA', [{ mname: `ns.${name}`, rname: `hostmaster.${name}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum }], ttl);
  }

  /** Removes a name and everything below it. */
  removeTree(name: string): this {
    const key = normaliseFakeName(name);
    for (const n of [...this.names.keys()]) if (n === key || n.endsWith(`.${key}`)) this.deleteName(n);
    return this;
  }

  clearZones(): this {
    this.names.clear();
    this.below.clear();
    return this;
  }

  private addName(name: string, node: Map<FakeRecordType, RRset>): void {
    this.names.set(name, node);
    for (const ancestor of ancestorsOf(name)) this.below.set(ancestor, (this.below.get(ancestor) ?? 0) + 1);
  }

  private deleteName(name: string): void {
    if (!this.names.delete(name)) return;
    for (const ancestor of ancestorsOf(name)) {
      const n = (this.below.get(ancestor) ?? 1) - 1;
      if (n > 0) this.below.set(ancestor, n);
      else this.below.delete(ancestor);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Faults and query log
  // ------------------------------------------------------------------------------------------

  /** Injects a fault for `name` and every name below it; `'*'` for every query. */
  setFault(name: string | '*', fault: FakeDnsFault): this {
    this.faults.set(name === '*' ? '*' : normaliseFakeName(name), { ...fault });
    return this;
  }

  clearFault(name: string | '*'): this {
    this.faults.delete(name === '*' ? '*' : normaliseFakeName(name));
    return this;
  }

  clearFaults(): this {
    this.faults.clear();
    return this;
  }

  /** Marks a name and everything below it secure (AD to DO queries), bogus (SERVFAIL + EDE 6 unless CD) or insecure. */
  setDnssec(name: string, state: FakeDnssecState): this {
    this.dnssec.set(normaliseFakeName(name), state);
    return this;
  }

  clearDnssec(): this {
    this.dnssec.clear();
    return this;
  }

  /** Every query received, in order (faulted and dropped ones included). */
  get queries(): readonly FakeQueryLogEntry[] {
    return this.log;
  }

  /** Number of queries received, optionally for one name and/or type. */
  queryCount(name?: string, type?: string): number {
    const n = name === undefined ? undefined : normaliseFakeName(name);
    return this.log.filter((q) => (n === undefined || q.name === n) && (type === undefined || q.type === type)).length;
  }

  clearLog(): this {
    this.log.length = 0;
    return this;
  }

  /** Resets zones, faults and the log, keeping the listeners (for a `beforeEach`). */
  reset(): this {
    return this.clearZones().clearFaults().clearDnssec().clearLog();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    for (const socket of this.tcpSockets) socket.destroy();
    this.tcpSockets.clear();
    for (const session of this.h2Sessions) session.destroy();
    this.h2Sessions.clear();
    const closeHttp = (s: HttpServer | null) =>
      s
        ? new Promise<void>((resolve) => {
            s.close(() => resolve());
            // An HTTP/2 server has none: its sessions are ended below.
            s.closeAllConnections?.();
          })
        : Promise.resolve();
    await Promise.all([
      closeHttp(this.httpServer),
      closeHttp(this.httpsServer),
      this.udpSocket ? new Promise<void>((resolve) => this.udpSocket!.close(() => resolve())) : Promise.resolve(),
      this.tcpServer ? new Promise<void>((resolve) => this.tcpServer!.close(() => resolve())) : Promise.resolve(),
    ]);
    this.httpServer = this.httpsServer = null;
    this.udpSocket = null;
    this.tcpServer = null;
  }

  // ------------------------------------------------------------------------------------------
  // Listeners
  // ------------------------------------------------------------------------------------------

  private async listen(): Promise<void> {
    const o = this.options;
    if (o.http !== false) {
      this.httpServer = createHttpServer((req, res) => void this.onHttp(req, res, 'http'));
      this.httpAddress = await this.listenTcp(this.httpServer, o.httpPort ?? 0);
    }
    if (o.https) {
      let tls: { key: string; cert: string; ca?: string };
      if (o.https === true) {
        const ca = await createTestCa({ commonName: 'mxwatch fake DNS CA' });
        const leaf = await ca.issue({ commonName: 'localhost', altNames: ['localhost', this.host] });
        tls = { key: leaf.key, cert: leaf.cert, ca: ca.cert };
      } else {
        tls = o.https;
      }
      this.caCert = tls.ca ?? null;
      if (o.http2) {
        // The compatibility API's request and response stand in for HTTP/1.1's here (`destroyed`: see onHttp).
        const h2 = createSecureServer({ key: tls.key, cert: tls.cert, allowHTTP1: true }, (req, res) => void this.onHttp(req as unknown as IncomingMessage, res as unknown as ServerResponse, 'https'));
        h2.on('session', (session) => {
          this.h2Sessions.add(session);
          session.on('close', () => this.h2Sessions.delete(session));
        });
        this.httpsServer = h2 as unknown as HttpServer;
      } else {
        this.httpsServer = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => void this.onHttp(req, res, 'https'));
      }
      this.httpsAddress = await this.listenTcp(this.httpsServer, o.httpsPort ?? 0);
    }
    if (o.udp !== false && o.tcp !== false && !o.udpPort && !o.tcpPort) {
      // A real resolver answers UDP and TCP on one port, and the TCP fallback after truncation
      // goes to the address the UDP query went to: find a port free for both.
      for (let tries = 0; ; tries++) {
        const server = createTcpServer((socket) => this.onTcp(socket));
        const address = await this.listenTcp(server, 0);
        const port = Number(address.split(':').pop());
        try {
          await this.bindUdp(port);
          this.tcpServer = server;
          this.tcpAddress = address;
          break;
        } catch (err) {
          await new Promise<void>((resolve) => server.close(() => resolve()));
          if (tries >= 20) throw err;
        }
      }
      return;
    }
    if (o.udp !== false) await this.bindUdp(o.udpPort ?? 0);
    if (o.tcp !== false) {
      const server = createTcpServer((socket) => this.onTcp(socket));
      this.tcpServer = server;
      this.tcpAddress = await this.listenTcp(server, o.tcpPort ?? 0);
    }
  }

  private async bindUdp(port: number): Promise<void> {
    const socket = createSocket('udp4');
    socket.on('message', (msg, rinfo) => this.onUdp(msg, rinfo.address, rinfo.port));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, this.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.udpSocket = socket;
    this.udpAddress = `${this.host}:${socket.address().port}`;
  }

  private listenTcp(server: HttpServer | TcpServer, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        server.off('error', reject);
        resolve(`${this.host}:${(server.address() as AddressInfo).port}`);
      });
    });
  }

  private async onHttp(req: IncomingMessage, res: ServerResponse, transport: 'http' | 'https'): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (url.pathname !== '/dns-query') return void res.writeHead(404).end('not found');
    let wire: Buffer;
    if (req.method === 'GET') {
      const dns = url.searchParams.get('dns');
      if (!dns) return void res.writeHead(400).end('missing dns parameter');
      wire = Buffer.from(dns, 'base64url');
    } else if (req.method === 'POST') {
      if (req.headers['content-type'] !== 'application/dns-message') return void res.writeHead(415).end('unsupported content type');
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      wire = Buffer.concat(chunks);
    } else {
      return void res.writeHead(405).end('method not allowed');
    }
    let query: packet.Packet;
    try {
      query = packet.decode(wire);
    } catch {
      return void res.writeHead(400).end('malformed DNS message');
    }
    const plan = this.plan(query, transport, req.method as 'GET' | 'POST', req.httpVersion);
    if (plan.kind === 'drop') {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      return;
    }
    if (plan.kind === 'huge') return this.streamHugeBody(res, plan);
    this.later(plan.delayMs, () => {
      // An HTTP/2 response has no `destroyed` of its own; its stream does.
      if (res.destroyed || (res as unknown as { stream?: { destroyed: boolean } }).stream?.destroyed) return;
      if (plan.kind === 'http') return void res.writeHead(plan.status, { 'content-type': 'text/plain' }).end(`fake DNS fault ${plan.status}`);
      res.writeHead(200, { 'content-type': 'application/dns-message', 'content-length': plan.response.length }).end(plan.response);
    });
  }

  /** A body that never ends in time: chunks of filler until `bytes` or until the client hangs up. */
  private streamHugeBody(res: ServerResponse, plan: Extract<AnswerPlan, { kind: 'huge' }>): void {
    const { bytes, chunkBytes, intervalMs } = plan.body;
    plan.entry.bodyBytesSent = 0;
    this.hanging.add(res);
    res.writeHead(200, { 'content-type': 'application/dns-message' });
    const chunk = Buffer.alloc(chunkBytes, 0x41);
    const timer = setInterval(() => {
      if (res.destroyed || plan.entry.bodyBytesSent! >= bytes) {
        clearInterval(timer);
        this.timers.delete(timer);
        if (!res.destroyed) res.end();
        return;
      }
      const n = Math.min(chunkBytes, bytes - plan.entry.bodyBytesSent!);
      res.write(n === chunkBytes ? chunk : chunk.subarray(0, n));
      plan.entry.bodyBytesSent! += n;
    }, intervalMs);
    this.timers.add(timer);
    res.on('close', () => {
      clearInterval(timer);
      this.timers.delete(timer);
      this.hanging.delete(res);
    });
  }

  private onTcp(socket: Socket): void {
    this.tcpSockets.add(socket);
    socket.on('close', () => this.tcpSockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const length = buffered.readUInt16BE(0);
        const wire = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        let query: packet.Packet;
        try {
          query = packet.decode(wire);
        } catch {
          socket.destroy();
          return;
        }
        const plan = this.plan(query, 'tcp', 'TCP');
        this.log[this.log.length - 1].sourcePort = socket.remotePort;
        if (plan.kind !== 'dns') continue;
        const frame = (b: Buffer) => {
          const out = Buffer.alloc(2 + b.length);
          out.writeUInt16BE(b.length, 0);
          b.copy(out, 2);
          return out;
        };
        this.later(plan.delayMs, () => {
          if (socket.destroyed) return;
          if (plan.forged) socket.write(frame(plan.forged));
          if (!plan.forged || plan.thenAnswer) socket.write(frame(plan.response));
        });
      }
    });
  }

  private onUdp(msg: Buffer, address: string, port: number): void {
    let query: packet.Packet;
    try {
      query = packet.decode(msg);
    } catch {
      return;
    }
    const plan = this.plan(query, 'udp', 'UDP');
    this.log[this.log.length - 1].sourcePort = port;
    if (plan.kind !== 'dns') return;
    this.later(plan.delayMs, () => {
      if (plan.forged) this.udpSocket?.send(plan.forged, port, address);
      if (!plan.forged || plan.thenAnswer) this.udpSocket?.send(plan.response, port, address);
    });
  }

  private later(delayMs: number, fn: () => void): void {
    if (delayMs <= 0) return fn();
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, delayMs);
    this.timers.add(t);
  }

  // ------------------------------------------------------------------------------------------
  // Answering
  // ------------------------------------------------------------------------------------------

  private plan(query: packet.Packet, transport: FakeTransport, method: FakeQueryLogEntry['method'], httpVersion?: string): AnswerPlan {
    const question = query.questions?.[0];
    const name = question ? normaliseFakeName(question.name) : '';
    const type = question?.type ?? 'NONE';
    const opt = (query.additionals ?? []).find((a): a is packet.OptAnswer => a.type === 'OPT');
    const dnssecOk = Boolean(opt && (opt.flags & packet.DNSSEC_OK));
    const checkingDisabled = Boolean((query.flags ?? 0) & packet.CHECKING_DISABLED);
    const entry: FakeQueryLogEntry = {
      name,
      type,
      transport,
      method,
      outcome: '',
      id: query.id ?? 0,
      dnssecOk,
      checkingDisabled,
      udpPayloadSize: opt ? opt.udpPayloadSize : null,
      ...(httpVersion ? { httpVersion } : {}),
    };
    this.log.push(entry);

    const fault = this.takeFault(name, transport);
    const delay = fault?.delayMs ?? 0;
    const delayMs = typeof delay === 'number' ? delay : delay.min + Math.random() * (delay.max - delay.min);
    if (fault?.drop) {
      entry.outcome = 'DROPPED';
      return { kind: 'drop' };
    }
    const doh = transport === 'http' || transport === 'https';
    if (fault?.httpStatus && doh) {
      entry.outcome = `HTTP ${fault.httpStatus}`;
      return { kind: 'http', status: fault.httpStatus, delayMs };
    }
    if (fault?.hugeBody && doh) {
      entry.outcome = 'HUGE BODY';
      return { kind: 'huge', body: fault.hugeBody, entry };
    }
    const security = this.dnssecOf(name);
    const ede: Array<{ code: number; text: string }> = [];
    let built: { rcode: number; answers: packet.Answer[]; authorities: packet.Answer[] };
    if (fault?.rcode) built = { rcode: RCODE[fault.rcode], answers: [], authorities: [] };
    else if (!question) built = { rcode: RCODE.FORMERR, answers: [], authorities: [] };
    else if (security === 'bogus' && !checkingDisabled) {
      // A validating resolver hides bogus data unless the client disabled checking.
      built = { rcode: RCODE.SERVFAIL, answers: [], authorities: [] };
      ede.push({ code: EDE_DNSSEC_BOGUS, text: `validation failure <${name} ${type}>` });
    } else built = this.resolve(name, type, fault?.cnameOnly === true);
    entry.outcome = (Object.keys(RCODE) as Array<keyof typeof RCODE>).find((k) => RCODE[k] === built.rcode) ?? String(built.rcode);
    const authenticated = security === 'secure' && dnssecOk && built.rcode !== RCODE.SERVFAIL && !fault?.rcode;
    const message: packet.Packet = {
      type: 'response',
      id: query.id ?? 0,
      // dns-packet ignores `rcode` when encoding: it only travels in the low bits of `flags`.
      flags:
        packet.RECURSION_DESIRED |
        packet.RECURSION_AVAILABLE |
        (authenticated ? packet.AUTHENTIC_DATA : 0) |
        (checkingDisabled ? packet.CHECKING_DISABLED : 0) |
        built.rcode,
      questions: query.questions ?? [],
      answers: built.answers,
      authorities: built.authorities,
      additionals: opt
        ? [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: 1232,
              extendedRcode: 0,
              ednsVersion: 0,
              flags: dnssecOk ? packet.DNSSEC_OK : 0,
              flag_do: dnssecOk,
              options: ede.map((e) => ({ code: 15, data: Buffer.concat([u16(e.code), Buffer.from(e.text)]) })),
            } as unknown as packet.Answer,
          ]
        : [],
    };
    let response = packet.encode(message);
    if (transport === 'udp') {
      const limit = Math.min(this.options.udpMaxSize ?? Infinity, opt ? Math.max(512, opt.udpPayloadSize) : 512);
      if (fault?.truncate || response.length > limit) {
        entry.outcome = 'TRUNCATED';
        response = packet.encode({ ...message, flags: (message.flags ?? 0) | packet.TRUNCATED_RESPONSE, answers: [], authorities: [] });
      }
    }
    let forged: Buffer | null = null;
    if (fault?.mismatch && !doh) {
      forged =
        fault.mismatch === 'id'
          ? packet.encode({ ...message, id: ((query.id ?? 0) + 1) & 0xffff })
          : packet.encode({ ...message, questions: (query.questions ?? []).map((q) => ({ ...q, name: `forged.${q.name}` })) });
      if (!fault.thenAnswer) entry.outcome = `FORGED ${fault.mismatch}`;
    }
    return { kind: 'dns', response, outcome: entry.outcome, delayMs, forged, thenAnswer: fault?.thenAnswer === true };
  }

  private dnssecOf(name: string): FakeDnssecState {
    const labels = name.split('.');
    for (let i = 0; i < labels.length; i++) {
      const state = this.dnssec.get(labels.slice(i).join('.'));
      if (state) return state;
    }
    return 'insecure';
  }

  private takeFault(name: string, transport: FakeTransport): FakeDnsFault | undefined {
    const candidates: string[] = [];
    const labels = name.split('.');
    for (let i = 0; i < labels.length; i++) candidates.push(labels.slice(i).join('.'));
    candidates.push('*');
    for (const key of candidates) {
      const fault = this.faults.get(key);
      if (!fault) continue;
      if (fault.transports && !fault.transports.includes(transport)) continue;
      if (fault.times !== undefined) {
        fault.times -= 1;
        if (fault.times <= 0) this.faults.delete(key);
      }
      return fault;
    }
    return undefined;
  }

  /** True when the name holds records or is an empty non-terminal (something exists below it). */
  private exists(name: string): boolean {
    // An index instead of a scan of every name: benchmarks serve tens of thousands of names.
    return this.names.has(name) || this.below.has(name);
  }

  /** The node for a name, or the closest wildcard `*.<ancestor>` covering a name that does not exist. */
  private node(name: string): Map<FakeRecordType, RRset> | undefined {
    if (this.exists(name)) return this.names.get(name) ?? new Map();
    const labels = name.split('.');
    for (let i = 1; i < labels.length; i++) {
      const wildcard = this.names.get(`*.${labels.slice(i).join('.')}`);
      if (wildcard) return wildcard;
    }
    return undefined;
  }

  private resolve(qname: string, qtype: string, cnameOnly = false): { rcode: number; answers: packet.Answer[]; authorities: packet.Answer[] } {
    const answers: packet.Answer[] = [];
    let name = qname;
    for (let hop = 0; hop <= MAX_CNAME_CHAIN; hop++) {
      const node = this.node(name);
      if (!node) return { rcode: RCODE.NXDOMAIN, answers, authorities: this.soaFor(name) };
      const cname = node.get('CNAME');
      if (cname && qtype !== 'CNAME') {
        const target = normaliseFakeName(cname.records[0] as string);
        answers.push({ type: 'CNAME', name, ttl: cname.ttl, data: target });
        // A loop: hand back the chain as far as it goes, as recursive resolvers do; the client must notice.
        if (answers.some((a) => a.name === target)) return { rcode: RCODE.NOERROR, answers, authorities: [] };
        // unbound's local data: the alias alone, nothing about the target, no SOA.
        if (cnameOnly) return { rcode: RCODE.NOERROR, answers, authorities: [] };
        name = target;
        continue;
      }
      const rrset = node.get(qtype as FakeRecordType);
      // NODATA, also at the end of a CNAME chain: the SOA of the target's zone proves it (RFC 2308 §2.2).
      if (!rrset) return { rcode: RCODE.NOERROR, answers, authorities: this.soaFor(name) };
      for (const r of rrset.records) answers.push(toWire(name, qtype as FakeRecordType, rrset.ttl, r));
      return { rcode: RCODE.NOERROR, answers, authorities: [] };
    }
    return { rcode: RCODE.SERVFAIL, answers: [], authorities: [] };
  }

  private soaFor(name: string): packet.Answer[] {
    const labels = name.split('.');
    for (let i = 0; i < labels.length; i++) {
      const apex = labels.slice(i).join('.');
      const soa = this.names.get(apex)?.get('SOA');
      if (soa) return [toWire(apex, 'SOA', soa.ttl, soa.records[0])];
    }
    return [];
  }
}

/** `a.b.c` -> `b.c`, `c` (the proper ancestors of a name). */
function ancestorsOf(name: string): string[] {
  const out: string[] = [];
  for (let i = name.indexOf('.'); i !== -1; i = name.indexOf('.', i + 1)) out.push(name.slice(i + 1));
  return out;
}

function toWire(name: string, type: FakeRecordType, ttl: number, record: unknown): packet.Answer {
  switch (type) {
    case 'A':
    case 'AAAA':
    case 'CNAME':
      return { type, name, ttl, data: record as string };
    case 'MX': {
      const mx = record as FakeMx;
      return { type, name, ttl, data: { preference: mx.preference, exchange: mx.exchange } };
    }
    case 'TXT':
      return { type, name, ttl, data: record as FakeTxt };
    case 'SRV':
      return { type, name, ttl, data: record as FakeSrv };
    case 'SOA':
      return { type, name, ttl, data: record as FakeSoa };
    case 'PTR':
    case 'NS':
      return { type, name, ttl, data: record as string };
    case 'TLSA': {
      const t = record as FakeTlsa;
      return { type, name, ttl, data: { usage: t.usage, selector: t.selector, matchingType: t.matchingType, certificate: Buffer.from(t.data, 'hex') } };
    }
    case 'DS': {
      const d = record as FakeDs;
      return { type, name, ttl, data: { keyTag: d.keyTag, algorithm: d.algorithm, digestType: d.digestType, digest: Buffer.from(d.digest, 'hex') } };
    }
    case 'DNSKEY': {
      const k = record as FakeDnskey;
      return { type, name, ttl, data: { flags: k.flags, algorithm: k.algorithm, key: Buffer.from(k.key, 'base64') } };
    }
  }
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}
