/**
 * The project's fake DNS: one zone map served over DoH (plain HTTP and HTTPS, RFC 8484 GET and
 * POST on `/dns-query`) and classic UDP, on loopback addresses only. It behaves like the
 * recursive resolver mxwatch talks to in production, not like an authoritative server: it
 * chases CNAMEs for other types, tells NXDOMAIN from NODATA (empty non-terminals included),
 * puts the enclosing zone's SOA in the authority section of negative answers (negative TTL,
 * RFC 2308) and expands wildcards (DNSBLs that list everything are wildcards).
 *
 * Faults are injected per name (the name and every name below it) or globally, so a test
 * can make one DNSBL zone refuse while the rest of the world answers.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import packet from 'dns-packet';
import { createTestCa } from '../tls/test-ca.js';

export type FakeRecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'CNAME' | 'SRV' | 'SOA';

export interface FakeMx { preference: number; exchange: string }
export interface FakeSrv { priority: number; weight: number; port: number; target: string }
export interface FakeSoa { mname: string; rname: string; serial?: number; refresh?: number; retry?: number; expire?: number; minimum: number }

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
}

/** `{ 'example.test': { MX: [{ preference: 10, exchange: 'mx.example.test' }], SOA: {...} }, 'mx.example.test': { A: ['192.0.2.1'] } }` */
export type FakeZone = Record<string, { [T in FakeRecordType]?: Array<FakeRecordOf[T]> }>;

export type FakeTransport = 'http' | 'https' | 'udp';

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
  /** Never answer (the HTTP request hangs until the client gives up or the server closes). */
  drop?: boolean;
  /** Limit the fault to these transports. */
  transports?: FakeTransport[];
  /** Apply to this many matching queries only, then disappear (e.g. fail once, then answer). */
  times?: number;
}

export interface FakeQueryLogEntry {
  name: string;
  type: string;
  transport: FakeTransport;
  /** `GET`/`POST` for DoH, `UDP` otherwise. */
  method: 'GET' | 'POST' | 'UDP';
  /** The rcode sent, `HTTP <status>` for an HTTP fault, `DROPPED` when nothing was sent. */
  outcome: string;
}

export interface FakeDnsServerOptions {
  /** Loopback address to bind (any 127.0.0.0/8 address works on Linux). Default 127.0.0.1. */
  host?: string;
  /** Port for each listener; default 0 (ephemeral). */
  httpPort?: number;
  httpsPort?: number;
  udpPort?: number;
  /** Serve DoH over plain HTTP. Default true. */
  http?: boolean;
  /**
   * Serve DoH over HTTPS. `true` issues a certificate for `host` and `localhost` from a fresh
   * test CA (exposed as `caCert`); or pass your own key/cert (and `ca` to expose). Default false.
   */
  https?: boolean | { key: string; cert: string; ca?: string };
  /** Serve classic DNS over UDP. Default true. */
  udp?: boolean;
  /** TTL of records set without one. Default 300. */
  defaultTtl?: number;
}

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const MAX_CNAME_CHAIN = 8;

interface RRset { ttl: number; records: unknown[] }

type AnswerPlan =
  | { kind: 'dns'; response: Buffer; outcome: string; delayMs: number }
  | { kind: 'http'; status: number; delayMs: number }
  | { kind: 'drop' };

export function normaliseFakeName(name: string): string {
  const lower = name.trim().toLowerCase();
  return lower.endsWith('.') && lower.length > 1 ? lower.slice(0, -1) : lower;
}

export class FakeDnsServer {
  /** `host:port` of the plain-HTTP DoH listener, the form MXWATCH_DNS_SERVERS takes. */
  httpAddress: string | null = null;
  httpsAddress: string | null = null;
  udpAddress: string | null = null;
  /** PEM of the CA that issued the HTTPS certificate (when the server made its own). */
  caCert: string | null = null;
  readonly host: string;

  private readonly names = new Map<string, Map<FakeRecordType, RRset>>();
  /** For every ancestor of a name in `names`: how many names lie below it (empty non-terminals). */
  private readonly below = new Map<string, number>();
  private readonly faults = new Map<string, FakeDnsFault>();
  private readonly log: FakeQueryLogEntry[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly hanging = new Set<ServerResponse>();
  private httpServer: HttpServer | null = null;
  private httpsServer: HttpServer | null = null;
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
    return this.clearZones().clearFaults().clearLog();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const closeHttp = (s: HttpServer | null) =>
      s
        ? new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          })
        : Promise.resolve();
    await Promise.all([
      closeHttp(this.httpServer),
      closeHttp(this.httpsServer),
      this.udpSocket ? new Promise<void>((resolve) => this.udpSocket!.close(() => resolve())) : Promise.resolve(),
    ]);
    this.httpServer = this.httpsServer = null;
    this.udpSocket = null;
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
      this.httpsServer = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => void this.onHttp(req, res, 'https'));
      this.httpsAddress = await this.listenTcp(this.httpsServer, o.httpsPort ?? 0);
    }
    if (o.udp !== false) {
      const socket = createSocket('udp4');
      this.udpSocket = socket;
      socket.on('message', (msg, rinfo) => this.onUdp(msg, rinfo.address, rinfo.port));
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(o.udpPort ?? 0, this.host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      this.udpAddress = `${this.host}:${socket.address().port}`;
    }
  }

  private listenTcp(server: HttpServer, port: number): Promise<string> {
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
    const plan = this.plan(query, transport, req.method as 'GET' | 'POST');
    if (plan.kind === 'drop') {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      return;
    }
    this.later(plan.delayMs, () => {
      if (res.destroyed) return;
      if (plan.kind === 'http') return void res.writeHead(plan.status, { 'content-type': 'text/plain' }).end(`fake DNS fault ${plan.status}`);
      res.writeHead(200, { 'content-type': 'application/dns-message', 'content-length': plan.response.length }).end(plan.response);
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
    if (plan.kind !== 'dns') return;
    this.later(plan.delayMs, () => this.udpSocket?.send(plan.response, port, address));
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

  private plan(query: packet.Packet, transport: FakeTransport, method: FakeQueryLogEntry['method']): AnswerPlan {
    const question = query.questions?.[0];
    const name = question ? normaliseFakeName(question.name) : '';
    const type = question?.type ?? 'NONE';
    const entry: FakeQueryLogEntry = { name, type, transport, method, outcome: '' };
    this.log.push(entry);

    const fault = this.takeFault(name, transport);
    const delay = fault?.delayMs ?? 0;
    const delayMs = typeof delay === 'number' ? delay : delay.min + Math.random() * (delay.max - delay.min);
    if (fault?.drop) {
      entry.outcome = 'DROPPED';
      return { kind: 'drop' };
    }
    if (fault?.httpStatus && transport !== 'udp') {
      entry.outcome = `HTTP ${fault.httpStatus}`;
      return { kind: 'http', status: fault.httpStatus, delayMs };
    }
    const built = fault?.rcode
      ? { rcode: RCODE[fault.rcode], answers: [], authorities: [] }
      : question
        ? this.resolve(name, type)
        : { rcode: RCODE.FORMERR, answers: [], authorities: [] };
    entry.outcome = (Object.keys(RCODE) as Array<keyof typeof RCODE>).find((k) => RCODE[k] === built.rcode) ?? String(built.rcode);
    const response = packet.encode({
      type: 'response',
      id: query.id ?? 0,
      // dns-packet ignores `rcode` when encoding: it only travels in the low bits of `flags`.
      flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | built.rcode,
      questions: query.questions ?? [],
      answers: built.answers,
      authorities: built.authorities,
    });
    return { kind: 'dns', response, outcome: entry.outcome, delayMs };
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

  private resolve(qname: string, qtype: string): { rcode: number; answers: packet.Answer[]; authorities: packet.Answer[] } {
    const answers: packet.Answer[] = [];
    let name = qname;
    for (let hop = 0; hop <= MAX_CNAME_CHAIN; hop++) {
      const node = this.node(name);
      if (!node) return { rcode: RCODE.NXDOMAIN, answers, authorities: this.soaFor(name) };
      const cname = node.get('CNAME');
      if (cname && qtype !== 'CNAME') {
        const target = normaliseFakeName(cname.records[0] as string);
        answers.push({ type: 'CNAME', name, ttl: cname.ttl, data: target });
        name = target;
        continue;
      }
      const rrset = node.get(qtype as FakeRecordType);
      if (!rrset) return { rcode: RCODE.NOERROR, answers, authorities: answers.length ? [] : this.soaFor(name) };
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
  }
}
