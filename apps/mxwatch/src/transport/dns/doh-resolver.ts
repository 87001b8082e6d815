/**
 * mxwatch's DNS-over-HTTPS resolver: tangerine (the project's DoH client) as the transport under
 * the shared CachingResolver (deadline, retries, failover, cache, coalescing, CNAME following,
 * DNSSEC flags) and the shared message decoder.
 *
 * tangerine 2.0.2 on its own shares one abort signal across all tries (a timeout never fails
 * over), leaves the timers of failed attempts pending, caches by the text-sorted "lowest" TTL,
 * never evicts nor caches negative answers, reports connection refused and TLS failures as a
 * bare ECANCELLED, gives no TTLs for most types and has no DNSSEC option. Hence:
 *
 * - one tangerine instance per server with `tries: 1` and `cache: false`;
 * - tangerine is handed our own `request` function (its documented second constructor
 *   argument; undici, its default, is an optional peer that is not installed). That function
 *   (1) sets the DO and CD bits in the query tangerine built, (2) trusts an extra CA for https on
 *   top of the system roots, (3) keeps the real cause of a transport failure and says so when the
 *   protocol does not match the server (https against plain HTTP and the reverse), (4) caps the
 *   body at 65,535 bytes and stops reading at the attempt's deadline, (5) keeps the raw answer,
 *   which the shared decoder reads instead of tangerine's lossy result, (6) speaks HTTP/2 to an
 *   https server that offers it in ALPN (one multiplexed connection; see `negotiate`) and falls
 *   back to HTTP/2 for servers that speak nothing else (unbound), and (7) always resolves instead of rejecting,
 *   which is what lets tangerine clear its own per-request timer. It finds
 *   its attempt through the AbortSignal handed to `tangerine.resolve()`, which tangerine forwards.
 */
import { Agent as HttpAgent, request as httpRequest, STATUS_CODES, type IncomingMessage } from 'node:http';
import { connect as http2Connect, constants as http2Constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { connect as tlsConnect, createSecureContext, rootCertificates, type SecureContext, type TLSSocket } from 'node:tls';
import packet from 'dns-packet';
import tangerineModule from 'tangerine';
import { CachingResolver, type CachingResolverOptions, type DnsExchange, type ExchangeResult, type ResolverStats } from './caching-resolver.js';
import { applyQuestionFlags, MAX_DNS_MESSAGE, mismatchOf, type DnsQuestion } from './dns-message.js';

export interface DohResolverOptions extends CachingResolverOptions {
  /** DoH servers as `host:port` (IPv6 as `[addr]:port`); the path is always `/dns-query`. */
  servers: string[];
  protocol: 'https' | 'http';
  /** Extra trust for https (PEM), added to the system roots: a private resolver's CA, a test CA. */
  tls?: { ca?: string | Buffer };
  /** Largest DoH body read (bytes). Default 65,535, the largest DNS message. */
  maxBodyBytes?: number;
}

/** Kept for callers that predate the shared engine. */
export type DohResolverStats = ResolverStats;

/** What the request function saw during one attempt; tangerine's errors lose most of it. */
interface AttemptState {
  server: string;
  question: DnsQuestion;
  transportError: string | null;
  badResponse: string | null;
  httpStatus: number | null;
  raw: Buffer | null;
  /** Settles when a protocol diagnosis started after a failure has finished. */
  diagnosis: Promise<void> | null;
  /** Ends the request in flight (tangerine's backstop timer, through the controller it was handed). */
  expire: ((reason?: unknown) => void) | null;
}

/** Where a DoH server's requests go, parsed once per server instead of once per request. */
interface DohTarget {
  origin: string;
  /** `host:port` as configured (IPv6 in brackets). */
  host: string;
  /** Without brackets, as sockets take it. */
  hostname: string;
  port: number;
  isHttps: boolean;
}

// tangerine is CommonJS (`module.exports = Tangerine`) typed as `export default`: under nodenext
// the default import is the class at runtime but the module namespace for the compiler.
const Tangerine = ((tangerineModule as unknown as { default?: unknown }).default ?? tangerineModule) as typeof tangerineModule.default;
type Tangerine = InstanceType<typeof Tangerine>;

/** tangerine takes a Buffer body as it is (`Buffer.isBuffer(body)`): no ArrayBuffer, promise or copy per answer. */
type TangerineResponse = { statusCode: number; headers: Record<string, string>; body: Buffer };
type TangerineRequestOptions = { method: string; headers: Record<string, string>; signal: AbortSignal; body?: Buffer | Uint8Array };

/** OpenSSL's words when the peer answered a ClientHello with something that is not TLS. */
const NOT_TLS = /wrong version number|packet length too long|unknown protocol|http request|record layer failure/i;

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/** The DoH transport: one request to one server per exchange, through tangerine. */
export class DohExchange implements DnsExchange {
  sent = 0;
  private readonly clients: Tangerine[];
  private readonly attemptStates = new WeakMap<AbortSignal, AttemptState>();
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 32 });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 32 });
  /**
   * The system roots plus the extra CA, made once: given as `ca` on every request, node:https put
   * the whole PEM list (~200 KB) into each request's connection-pool key and a new TLS context
   * parsed all the roots for each connection: 2.7 ms of CPU per question, against 0.2 ms.
   */
  private readonly secureContext: SecureContext | undefined;
  private readonly maxBody: number;
  /**
   * Origins that hung up on HTTP/1.1 and answered over HTTP/2 (RFC 8484 recommends HTTP/2, and
   * unbound's DoH speaks nothing else): asked over HTTP/2 from then on, one session each.
   */
  private readonly h2Origins = new Set<string>();
  private readonly h2Sessions = new Map<string, ClientHttp2Session>();
  /** https origins whose server chose HTTP/1.1 (or nothing) when offered h2 and http/1.1. */
  private readonly h1Origins = new Set<string>();
  /** ALPN negotiations in flight (one per origin, shared by the requests waiting for it) and their connections. */
  private readonly negotiations = new Map<string, { settled: Promise<void>; socket: TLSSocket }>();
  /** When a negotiation with an origin last failed: HTTP/1.1 alone until a minute has passed. */
  private readonly negotiationFailedAt = new Map<string, number>();

  constructor(
    private readonly servers: string[],
    private readonly protocol: 'https' | 'http',
    private readonly timeoutMs: number,
    options: { ca?: string | Buffer; maxBodyBytes?: number } = {},
  ) {
    // `ca` replaces Node's roots; a private resolver's CA must be trusted *in addition* to them.
    this.secureContext = options.ca ? createSecureContext({ ca: [...rootCertificates, options.ca] }) : undefined;
    this.maxBody = options.maxBodyBytes ?? MAX_DNS_MESSAGE;
    this.clients = servers.map(
      (server) =>
        new Tangerine(
          {
            servers: [server],
            protocol,
            tries: 1,
            // Our own deadline fires first; tangerine's timer is a backstop that our request
            // function always lets it clear.
            timeout: timeoutMs + 1000,
            cache: false,
            smartRotate: false,
            logger: false,
          } as ConstructorParameters<typeof Tangerine>[0],
          this.request as unknown as ConstructorParameters<typeof Tangerine>[1],
        ),
    );
  }

  get serverCount(): number {
    return this.servers.length;
  }

  describe(index: number): string {
    return `${this.protocol}://${this.servers[index]}`;
  }

  close(): void {
    // Ends each negotiation too (its connection closing settles it).
    for (const { socket } of this.negotiations.values()) socket.destroy();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    for (const session of this.h2Sessions.values()) session.destroy();
    this.h2Sessions.clear();
  }

  private h2Session(origin: string, socket?: TLSSocket): ClientHttp2Session {
    const known = this.h2Sessions.get(origin);
    if (known && !known.closed && !known.destroyed) {
      socket?.destroy();
      return known;
    }
    const session = socket ? http2Connect(origin, { createConnection: () => socket }) : http2Connect(origin, this.secureContext ? { secureContext: this.secureContext } : {});
    const forget = () => {
      if (this.h2Sessions.get(origin) === session) this.h2Sessions.delete(origin);
    };
    session.on('error', forget);
    session.on('close', forget);
    // An idle session must not keep the process alive (requests in flight hold their own timers).
    session.unref();
    this.h2Sessions.set(origin, session);
    return session;
  }

  /**
   * Asks an https server which HTTP it speaks (ALPN, offering h2 then http/1.1) on a connection
   * that, when it says h2, becomes the origin's HTTP/2 session: RFC 8484 recommends HTTP/2, and
   * the public resolvers speak it, so every question to one goes over one multiplexed TLS
   * connection instead of up to 32 HTTP/1.1 ones. Its server saying http/1.1 (or nothing) puts
   * the origin on HTTP/1.1 for good. A failure (refused, untrusted certificate, not TLS, no answer
   * within the timeout) decides nothing: the request goes on over HTTP/1.1, whose error says what
   * is wrong, and the origin is asked again a minute later.
   */
  private negotiate(target: DohTarget): Promise<void> {
    const known = this.negotiations.get(target.origin);
    if (known) return known.settled;
    const socket = tlsConnect({
      host: target.hostname,
      port: target.port,
      ALPNProtocols: ['h2', 'http/1.1'],
      // tls.connect sends no SNI unless told (https and http2 set it from the host): a DoH server
      // by name behind shared front ends (dns.google, cloudflare-dns.com) needs it.
      ...(isIP(target.hostname) ? {} : { servername: target.hostname }),
      ...(this.secureContext ? { secureContext: this.secureContext } : {}),
    });
    const settled = new Promise<void>((resolve) => {
      const timer = setTimeout(() => fail(), this.timeoutMs);
      timer.unref();
      let done = false;
      const settle = () => {
        done = true;
        clearTimeout(timer);
        this.negotiations.delete(target.origin);
        resolve();
      };
      const fail = () => {
        if (done) return;
        socket.destroy();
        this.negotiationFailedAt.set(target.origin, Date.now());
        settle();
      };
      // Both stay on: an error after the negotiation (the HTTP/2 session has its own) must not go
      // unheard, and a connection closed before it (close()) ends it.
      socket.on('error', fail);
      socket.once('close', fail);
      socket.once('secureConnect', () => {
        if (socket.alpnProtocol === 'h2') {
          this.h2Session(target.origin, socket);
          this.h2Origins.add(target.origin);
        } else {
          socket.destroy();
          this.h1Origins.add(target.origin);
        }
        this.negotiationFailedAt.delete(target.origin);
        settle();
      });
    });
    this.negotiations.set(target.origin, { settled, socket });
    return settled;
  }

  /** Whether a request to `target` should first find out whether its server speaks HTTP/2. */
  private shouldNegotiate(target: DohTarget): boolean {
    if (!target.isHttps || this.h1Origins.has(target.origin) || this.h2Origins.has(target.origin)) return false;
    const failedAt = this.negotiationFailedAt.get(target.origin);
    return failedAt === undefined || Date.now() - failedAt >= 60_000;
  }

  async exchange(index: number, question: DnsQuestion, signal: AbortSignal): Promise<ExchangeResult> {
    if (signal.aborted) return { ok: false, error: 'aborted', cause: 'aborted' };
    const state: AttemptState = { server: this.servers[index], question, transportError: null, badResponse: null, httpStatus: null, raw: null, diagnosis: null, expire: null };
    this.attemptStates.set(signal, state);
    // tangerine wants an AbortController, to abort on its own (backstop) timer. It gets the
    // attempt's signal with an `abort` that ends the request in flight instead of a controller
    // of its own: one EventTarget less per question, and the caller's signal is read directly.
    const controller = { signal, abort: (reason?: unknown) => state.expire?.(reason) };
    let result: unknown = undefined;
    let error: unknown = undefined;
    try {
      // noThrowOnNODATA: tangerine's hidden option, so the empty answer it is handed (see `request`) costs it no Error.
      result = await this.clients[index].resolve(question.name, question.type, { noThrowOnNODATA: true } as object, controller as unknown as AbortController);
    } catch (err) {
      error = err;
    }
    if (state.diagnosis) await state.diagnosis;

    if (state.raw) {
      let message: packet.DecodedPacket;
      try {
        message = packet.decode(state.raw);
      } catch (err) {
        return { ok: false, error: 'badresp', cause: `undecodable DNS message: ${describeError(err)}` };
      }
      const mismatch = mismatchOf(message, null, question);
      if (mismatch) return { ok: false, error: 'badresp', cause: `the DoH answer does not match the question (${mismatch})` };
      return { ok: true, message };
    }
    if (signal.aborted) return { ok: false, error: 'aborted', cause: 'aborted', ...(state.transportError ? { note: state.transportError } : {}) };
    if (state.badResponse) return { ok: false, error: 'badresp', cause: state.badResponse };
    if (state.transportError) return { ok: false, error: 'transport', cause: state.transportError };
    if (state.httpStatus !== null) {
      return { ok: false, error: 'badresp', cause: `HTTP ${state.httpStatus} ${STATUS_CODES[state.httpStatus] ?? ''} from the DoH server`.replace(/\s+/g, ' ').trim() };
    }
    if (error === undefined && Array.isArray(result)) {
      // tangerine answers `localhost` from /etc/hosts without asking anyone: keep its answer.
      return { ok: true, message: synthesiseAnswer(question, result) };
    }
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOTFOUND' || code === 'EBADNAME' || code === 'ENODATA') {
      // tangerine's local shortcuts (IP literals, malformed names) that never reach a server.
      return { ok: false, error: 'nxdomain', cause: `${question.name} is not a name a resolver can be asked about` };
    }
    return { ok: false, error: 'badresp', cause: `unusable answer: ${describeError(error)}` };
  }

  // ------------------------------------------------------------------------------------------

  private readonly targets = new Map<string, DohTarget>();

  /** The server and path of a URL tangerine built (`<protocol>://<server>/dns-query?dns=...`). */
  private targetOf(url: string): { target: DohTarget; path: string } {
    const slash = url.indexOf('/', url.indexOf('//') + 2);
    const prefix = slash < 0 ? url : url.slice(0, slash);
    let target = this.targets.get(prefix);
    if (!target) {
      const parsed = new URL(prefix);
      const isHttps = parsed.protocol === 'https:';
      target = {
        origin: parsed.origin,
        host: parsed.host,
        hostname: parsed.hostname.replace(/^\[|\]$/g, ''),
        port: Number(parsed.port || (isHttps ? 443 : 80)),
        isHttps,
      };
      // tangerine only builds URLs for the configured servers: the map stays as small as their list.
      if (this.targets.size < 64) this.targets.set(prefix, target);
    }
    return { target, path: slash < 0 ? '/' : url.slice(slash) };
  }

  /**
   * The HTTP client handed to tangerine. It never rejects: a rejected request would leave
   * tangerine's per-request timer pending (it only clears it on success), so failures come
   * back as a synthetic 599 response, and the real cause is kept in the attempt state.
   */
  private readonly request = (url: string, options: TangerineRequestOptions): Promise<TangerineResponse> => {
    const state = this.attemptStates.get(options.signal);
    this.sent++;
    return new Promise<TangerineResponse>((resolve) => {
      let done = false;
      let req: ReturnType<typeof httpRequest> | undefined;
      let stream: ClientHttp2Stream | undefined;
      const finish = (response: TangerineResponse) => {
        if (done) return;
        done = true;
        options.signal.removeEventListener('abort', onAbort);
        resolve(response);
      };
      const fail = (cause: string, kind: 'transport' | 'badresp' = 'transport') => {
        if (state && !options.signal.aborted && state.transportError === null && state.badResponse === null) {
          if (kind === 'transport') state.transportError = cause;
          else state.badResponse = cause;
        }
        req?.destroy();
        stream?.close(http2Constants.NGHTTP2_CANCEL);
        finish(synthetic(599));
      };
      const onAbort = () => {
        // Destroying the request also stops a body still arriving: nothing is read past the deadline.
        req?.destroy();
        stream?.close(http2Constants.NGHTTP2_CANCEL);
        finish(synthetic(599));
      };
      if (options.signal.aborted) return finish(synthetic(599));
      if (state) state.expire = onAbort;

      let target: DohTarget;
      let path: string;
      try {
        ({ target, path } = this.targetOf(url));
      } catch (err) {
        return fail(`unusable DoH URL ${url}: ${describeError(err)}`, 'badresp');
      }
      let body: Buffer | undefined = options.body ? Buffer.from(options.body) : undefined;
      if (state && (state.question.dnssec || state.question.checkingDisabled)) {
        // DO and CD are ours to set: tangerine 2.0.2 has no DNSSEC option (and sets neither).
        try {
          if (body) body = applyQuestionFlags(body, state.question);
          const withFlags = new URL(path, target.origin);
          const dns = withFlags.searchParams.get('dns');
          if (dns) withFlags.searchParams.set('dns', applyQuestionFlags(Buffer.from(dns, 'base64url'), state.question).toString('base64url'));
          path = `${withFlags.pathname}${withFlags.search}`;
        } catch (err) {
          return fail(`could not rewrite the DoH query: ${describeError(err)}`, 'badresp');
        }
      }
      const isHttps = target.isHttps;
      /** Reads a response body (HTTP/1.1 or HTTP/2) within the cap. */
      const receive = (status: number, headers: Record<string, string>, body: NodeJS.ReadableStream) => {
        const declared = Number(headers['content-length']);
        if (Number.isFinite(declared) && declared > this.maxBody) {
          return fail(`the DoH answer is ${declared} bytes, more than the ${this.maxBody} a DNS message can be`, 'badresp');
        }
        const chunks: Buffer[] = [];
        let size = 0;
        body.on('data', (c: Buffer) => {
          size += c.length;
          if (size > this.maxBody) return fail(`the DoH answer exceeds ${this.maxBody} bytes, more than a DNS message can be`, 'badresp');
          chunks.push(c);
        });
        body.on('error', (e: Error) => fail(`DoH response broken: ${describeError(e)}`));
        body.on('end', () => {
          if (done) return;
          const buffer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
          if (state && status >= 200 && status < 300) {
            // Only our decoder reads the answer (exchange() uses state.raw): tangerine gets an empty
            // NOERROR message instead, so it neither decodes the answer a second time nor builds an
            // Error for every NXDOMAIN and NODATA (a few percent of a check's CPU).
            state.raw = buffer;
            return finish({ statusCode: status, headers, body: EMPTY_ANSWER });
          }
          if (state) state.httpStatus = status;
          finish({ statusCode: status, headers, body: buffer });
        });
      };
      const onResponse = (res: IncomingMessage) => receive(res.statusCode ?? 0, res.headers as Record<string, string>, res);
      /** The same request over HTTP/2; `h1Failure` is why HTTP/1.1 did not work, if it was tried. */
      const viaH2 = (h1Failure: string | null, onFailure?: (cause: string) => void) => {
        let answered = false;
        let failed = false;
        const h2Fail = (cause: string) => {
          if (done || failed) return;
          failed = true;
          // Remembered as HTTP/2 but failing now: the next attempt starts with HTTP/1.1 again.
          if (h1Failure === null) this.h2Origins.delete(target.origin);
          if (!answered && onFailure) return onFailure(cause);
          fail(h1Failure && !answered ? `${h1Failure}; HTTP/2: ${cause}` : cause);
        };
        try {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(options.headers)) if (!['host', 'connection'].includes(k.toLowerCase())) headers[k.toLowerCase()] = v;
          if (body) headers['content-length'] = String(body.length);
          stream = this.h2Session(target.origin).request({ ':method': options.method, ':path': path, ...headers });
        } catch (err) {
          return h2Fail(describeError(err));
        }
        stream.on('response', (h) => {
          answered = true;
          this.h2Origins.add(target.origin);
          const flat: Record<string, string> = {};
          for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') && v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : String(v);
          receive(Number(h[':status'] ?? 0), flat, stream!);
        });
        stream.on('error', (e) => h2Fail(describeError(e)));
        stream.on('close', () => {
          if (!answered && !done) h2Fail(`the HTTP/2 stream closed without an answer (code ${stream?.rstCode ?? '?'})`);
        });
        stream.end(body);
      };
      /** The request over HTTP/1.1 (https: offering only http/1.1). */
      const viaH1 = () => {
        const requestOptions = {
          // host, port and path given apart: a URL object would be parsed and copied into options again by node:http.
          host: target.hostname,
          port: target.port,
          path,
          method: options.method,
          headers: body ? { ...options.headers, 'content-length': String(body.length) } : options.headers,
          agent: isHttps ? this.httpsAgent : this.httpAgent,
          ...(isHttps && this.secureContext ? { secureContext: this.secureContext } : {}),
          // Say so: an HTTP/2-only server then refuses the handshake instead of answering garbage.
          ...(isHttps ? { ALPNProtocols: ['http/1.1'] } : {}),
        };
        req = isHttps ? httpsRequest(requestOptions, onResponse) : httpRequest(requestOptions, onResponse);
        req.on('error', (e) => {
          if (done) return;
          const cause = describeError(e);
          if (isHttps && NOT_TLS.test(cause)) {
            return fail(`${target.host} does not speak TLS (OpenSSL: ${cause.replace(/^.*?(wrong version number|packet length too long|unknown protocol|http request|record layer failure).*$/is, '$1')}); it looks like a plain-HTTP DoH server: use protocol http, or check the port`);
          }
          const code = (e as NodeJS.ErrnoException).code ?? '';
          if (code === 'ECONNRESET' || code.startsWith('HPE_') || /no[ _]application[ _]protocol/i.test(`${code} ${cause}`)) {
            // Hung up on HTTP/1.1: an HTTP/2-only DoH server (unbound), or, for http, a TLS server.
            // Find out which before blaming the network, so the message can name the fix.
            req = undefined;
            if (isHttps || !state) return viaH2(cause);
            return viaH2(cause, (h2Cause) => {
              stream = undefined;
              state.diagnosis = speaksTls(target.hostname, target.port, options.signal).then((tls) => {
                fail(tls ? `${target.host} speaks TLS, not plain HTTP (${cause}): use protocol https` : `${cause}; HTTP/2: ${h2Cause}`);
              });
            });
          }
          fail(cause);
        });
        req.end(body);
      };
      options.signal.addEventListener('abort', onAbort, { once: true });
      if (this.h2Origins.has(target.origin)) return viaH2(null);
      if (this.shouldNegotiate(target)) {
        return void this.negotiate(target).then(() => {
          if (done) return;
          if (this.h2Origins.has(target.origin)) viaH2(null);
          else viaH1();
        });
      }
      viaH1();
    });
  };
}

/** A TLS handshake attempt (certificate not checked) to `host` (no IPv6 brackets): true when the peer completes one. */
function speaksTls(host: string, port: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const socket = tlsConnect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    const done = (value: boolean) => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(false), 1000);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A DNS answer message built from tangerine's /etc/hosts shortcut for `localhost`. */
function synthesiseAnswer(question: DnsQuestion, addresses: unknown[]): packet.DecodedPacket {
  const wire = packet.encode({
    type: 'response',
    id: 0,
    flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE,
    questions: [{ name: question.name, type: question.type, class: 'IN' }],
    answers: addresses.map((data) => ({ type: question.type, name: question.name, ttl: 0, data: String(data) }) as packet.Answer),
  });
  return packet.decode(wire);
}

/** A DNS response with no question and no record, rcode NOERROR. */
const EMPTY_ANSWER = packet.encode({ type: 'response', id: 0, flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE, questions: [], answers: [] });

const NO_BODY = Buffer.alloc(0);

function synthetic(status: number): TangerineResponse {
  return { statusCode: status, headers: {}, body: NO_BODY };
}

export class DohResolver extends CachingResolver {
  readonly protocol: 'https' | 'http';
  readonly servers: readonly string[];

  constructor(options: DohResolverOptions) {
    if (!options.servers.length) throw new Error('DohResolver needs at least one DoH server (host:port)');
    super(new DohExchange([...options.servers], options.protocol, options.timeoutMs ?? 3000, { ca: options.tls?.ca, maxBodyBytes: options.maxBodyBytes }), options);
    this.protocol = options.protocol;
    this.servers = Object.freeze([...options.servers]);
  }
}
