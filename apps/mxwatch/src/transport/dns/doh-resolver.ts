/**
 * mxwatch's resolver: tangerine (DNS over HTTPS) wrapped with what it lacks.
 *
 * tangerine 2.0.2 is the project's fixed DoH client, but on its own it (a) shares one abort
 * signal across all tries so a timeout never fails over, (b) leaves the timers of failed
 * attempts pending so the process cannot exit, (c) caches by the text-sorted "lowest" TTL,
 * never evicts and never caches negative answers, (d) reports connection refused and TLS
 * failures as a bare ECANCELLED, and (e) gives no TTLs for most types. Hence:
 *
 * - one tangerine instance per server with `tries: 1` and `cache: false`; the attempts,
 *   the failover across servers and the per-attempt deadline are ours;
 * - tangerine is handed our own `request` function (its documented second constructor
 *   argument). undici is an optional peer of tangerine and is not installed here, and the
 *   function is where we (1) pass a per-resolver TLS CA for https, (2) keep the real cause of
 *   a transport failure, (3) see the raw DoH answer to read TTLs and the SOA of negative
 *   answers, and (4) always resolve instead of rejecting, which is what lets tangerine clear
 *   its own per-request timer. The function finds its attempt through the AbortSignal we
 *   pass to `tangerine.resolve()`, which tangerine forwards unchanged.
 * - tangerine still builds the query, checks the rcode and parses the records.
 */
import { Agent as HttpAgent, request as httpRequest, STATUS_CODES, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import packet from 'dns-packet';
import tangerineModule from 'tangerine';
import type { DnsAnswer, DnsErrorKind, DnsRecordOf, DnsRecordType, MxRecord, Resolver, SrvRecord } from '../transport.types.js';

export interface DohResolverOptions {
  /** DoH servers as `host:port` (IPv6 as `[addr]:port`); the path is always `/dns-query`. */
  servers: string[];
  protocol: 'https' | 'http';
  /** Deadline of one attempt (one HTTP request to one server). Default 3000. */
  timeoutMs?: number;
  /** Attempts per lookup, rotating through `servers` (failover). Default 3. */
  attempts?: number;
  /** Bound of the answer cache (LRU). 0 disables caching. Default 10000. */
  cacheMaxEntries?: number;
  /** Extra trust for https, e.g. the CA of a test server or of a private resolver. */
  tls?: { ca?: string | Buffer };
  /** Clock for cache expiry (epoch ms). */
  now?: () => number;
  /** Negative-cache TTL (s) when a negative answer carries no SOA. Default 60. */
  defaultNegativeTtl?: number;
  /** Upper bound of any cached TTL (s). Default 86400. */
  maxTtl?: number;
}

export interface DohResolverStats {
  /** HTTP requests sent (attempts), i.e. what the DNS servers saw. */
  queries: number;
  /** Lookups answered from the cache. */
  cacheHits: number;
  /** Lookups that joined an identical lookup already in flight. */
  coalesced: number;
  cacheEntries: number;
}

/** What the request function saw during one attempt; tangerine's errors lose most of it. */
interface AttemptState {
  server: string;
  timedOut: boolean;
  transportError: string | null;
  httpStatus: number | null;
  raw: packet.Packet | null;
}

interface CacheEntry {
  answer: DnsAnswer<DnsRecordType>;
  expiresAt: number;
}

interface Flight {
  promise: Promise<DnsAnswer<DnsRecordType>>;
  controller: AbortController;
  waiters: number;
  settled: boolean;
}

// tangerine is CommonJS (`module.exports = Tangerine`) typed as `export default`: under nodenext
// the default import is the class at runtime but the module namespace for the compiler.
const Tangerine = ((tangerineModule as unknown as { default?: unknown }).default ?? tangerineModule) as typeof tangerineModule.default;
type Tangerine = InstanceType<typeof Tangerine>;

type TangerineResponse = { statusCode: number; headers: Record<string, string>; body: { arrayBuffer: () => Promise<ArrayBuffer> } };

const RETRYABLE: ReadonlySet<DnsErrorKind> = new Set(['timeout', 'servfail', 'refused', 'transport', 'badresp']);

/** Lower-case, without the trailing dot: the form used as cache key and in answers. */
function canonicalName(name: string): string {
  const lower = name.trim().toLowerCase();
  return lower.length > 1 && lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** The root name (null MX target) stays `.`; everything else loses its trailing dot. */
function canonicalTarget(name: string): string {
  if (name === '' || name === '.') return '.';
  return canonicalName(name);
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

export class DohResolver implements Resolver {
  private readonly servers: string[];
  private readonly clients: Tangerine[];
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly cacheMax: number;
  private readonly now: () => number;
  private readonly negativeTtl: number;
  private readonly maxTtl: number;
  private readonly ca: string | Buffer | undefined;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Flight>();
  private readonly attemptStates = new WeakMap<AbortSignal, AttemptState>();
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 32 });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 32 });
  private readonly counters = { queries: 0, cacheHits: 0, coalesced: 0 };

  constructor(options: DohResolverOptions) {
    if (!options.servers.length) throw new Error('DohResolver needs at least one DoH server (host:port)');
    this.servers = [...options.servers];
    this.timeoutMs = options.timeoutMs ?? 3000;
    this.attempts = Math.max(1, options.attempts ?? 3);
    this.cacheMax = options.cacheMaxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
    this.negativeTtl = options.defaultNegativeTtl ?? 60;
    this.maxTtl = options.maxTtl ?? 86_400;
    this.ca = options.tls?.ca;
    this.clients = this.servers.map(
      (server) =>
        new Tangerine(
          {
            servers: [server],
            protocol: options.protocol,
            tries: 1,
            // Our own deadline fires first; tangerine's timer is a backstop that our request
            // function always lets it clear.
            timeout: this.timeoutMs + 1000,
            cache: false,
            smartRotate: false,
            logger: false,
          } as ConstructorParameters<typeof Tangerine>[0],
          this.request as unknown as ConstructorParameters<typeof Tangerine>[1],
        ),
    );
  }

  stats(): DohResolverStats {
    return { ...this.counters, cacheEntries: this.cache.size };
  }

  /** Drops idle keep-alive connections (they never hold the process open, but tests like a clean slate). */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  clearCache(): void {
    this.cache.clear();
  }

  async resolve<T extends DnsRecordType>(name: string, type: T, options: { signal?: AbortSignal } = {}): Promise<DnsAnswer<T>> {
    const signal = options.signal;
    signal?.throwIfAborted();
    const qname = canonicalName(name);
    const key = `${type}:${qname}`;

    const cached = this.cacheGet(key);
    if (cached) {
      this.counters.cacheHits++;
      return cached as DnsAnswer<T>;
    }

    let flight = this.inflight.get(key);
    if (flight) {
      this.counters.coalesced++;
    } else {
      const controller = new AbortController();
      const f: Flight = { controller, waiters: 0, settled: false, promise: undefined as never };
      f.promise = this.lookup(qname, type, controller.signal).finally(() => {
        f.settled = true;
        if (this.inflight.get(key) === f) this.inflight.delete(key);
      });
      this.inflight.set(key, f);
      flight = f;
    }

    const f = flight;
    f.waiters++;
    try {
      return (await raceSignal(f.promise, signal)) as DnsAnswer<T>;
    } finally {
      f.waiters--;
      // The last caller gave up: stop the network work so no socket or timer outlives it.
      if (f.waiters === 0 && !f.settled) {
        if (this.inflight.get(key) === f) this.inflight.delete(key);
        f.controller.abort(signal?.reason);
      }
    }
  }

  // ------------------------------------------------------------------------------------------

  private async lookup<T extends DnsRecordType>(name: string, type: T, signal: AbortSignal): Promise<DnsAnswer<T>> {
    let last: DnsAnswer<T> | null = null;
    for (let i = 0; i < this.attempts; i++) {
      signal.throwIfAborted();
      const index = i % this.servers.length;
      const { answer, ttl } = await this.attempt(name, type, index, signal);
      last = answer;
      if (answer.ok || !RETRYABLE.has(answer.error)) {
        if (ttl > 0) this.cacheSet(`${type}:${name}`, answer, ttl);
        return answer;
      }
    }
    return last!;
  }

  private async attempt<T extends DnsRecordType>(name: string, type: T, index: number, outer: AbortSignal): Promise<{ answer: DnsAnswer<T>; ttl: number }> {
    const server = this.servers[index];
    const controller = new AbortController();
    const state: AttemptState = { server, timedOut: false, transportError: null, httpStatus: null, raw: null };
    this.attemptStates.set(controller.signal, state);
    const timer = setTimeout(() => {
      state.timedOut = true;
      controller.abort(new Error(`no answer from ${server} within ${this.timeoutMs} ms`));
    }, this.timeoutMs);
    const onOuterAbort = () => controller.abort(outer.reason);
    outer.addEventListener('abort', onOuterAbort, { once: true });
    try {
      const result = (await this.clients[index].resolve(name, type, {}, controller)) as unknown;
      outer.throwIfAborted();
      const records = this.mapRecords(type, result);
      if (records.length === 0) {
        // tangerine drops answers of other types (a CNAME chain ending in nothing) and returns [].
        return { answer: { ok: false, type, name, error: 'nodata', cause: `${name} has no ${type} record (${server})` }, ttl: this.negativeTtlOf(state) };
      }
      return { answer: { ok: true, type, name, records, ttl: this.positiveTtlOf(state) }, ttl: this.positiveTtlOf(state) };
    } catch (err) {
      outer.throwIfAborted();
      const { error, cause } = this.classify(err, state, name, type);
      const ttl = error === 'nxdomain' || error === 'nodata' ? this.negativeTtlOf(state) : 0;
      return { answer: { ok: false, type, name, error, cause }, ttl };
    } finally {
      clearTimeout(timer);
      outer.removeEventListener('abort', onOuterAbort);
    }
  }

  private classify(err: unknown, state: AttemptState, name: string, type: string): { error: DnsErrorKind; cause: string } {
    const at = `(${state.server})`;
    if (state.timedOut) return { error: 'timeout', cause: `no answer within ${this.timeoutMs} ms ${at}` };
    if (state.transportError) return { error: 'transport', cause: `${state.transportError} ${at}` };
    if (state.httpStatus !== null) {
      return { error: 'badresp', cause: `HTTP ${state.httpStatus} ${STATUS_CODES[state.httpStatus] ?? ''} from the DoH server ${at}`.replace(/\s+/g, ' ') };
    }
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    switch (code) {
      case 'ENOTFOUND':
        return { error: 'nxdomain', cause: `${name} does not exist (NXDOMAIN) ${at}` };
      case 'ENODATA':
        return { error: 'nodata', cause: `${name} has no ${type} record ${at}` };
      case 'EBADNAME':
        return { error: 'nxdomain', cause: `${name} is not a valid DNS name` };
      case 'ESERVFAIL':
        return { error: 'servfail', cause: `the resolver failed to answer (SERVFAIL) ${at}` };
      case 'EREFUSED':
        return { error: 'refused', cause: `the resolver refused the query (REFUSED) ${at}` };
      case 'ETIMEOUT':
      case 'ETIMEDOUT':
        return { error: 'timeout', cause: `no answer within ${this.timeoutMs} ms ${at}` };
      case 'ECANCELLED':
      case 'ECONNREFUSED':
        return { error: 'transport', cause: `request to the DoH server failed ${at}` };
      case 'EFORMERR':
      case 'ENOTIMP':
        return { error: 'badresp', cause: `the resolver answered ${code} ${at}` };
      default:
        return { error: 'badresp', cause: `unusable answer: ${describeError(err)} ${at}` };
    }
  }

  private mapRecords<T extends DnsRecordType>(type: T, result: unknown): DnsRecordOf<T>[] {
    if (!Array.isArray(result)) return [];
    switch (type) {
      case 'MX':
        return (result as Array<{ exchange: string; priority: number }>).map(
          (r): MxRecord => ({ exchange: canonicalTarget(r.exchange), priority: r.priority }),
        ) as DnsRecordOf<T>[];
      case 'SRV':
        return (result as Array<{ name: string; port: number; priority: number; weight: number }>).map(
          (r): SrvRecord => ({ name: canonicalTarget(r.name), port: r.port, priority: r.priority, weight: r.weight }),
        ) as DnsRecordOf<T>[];
      case 'TXT':
        // A TXT record is a list of ≤255-byte character-strings; SPF/DMARC/DNSBL text means their concatenation.
        return (result as Array<Array<string | Buffer> | string | Buffer>).map((chunks) =>
          (Array.isArray(chunks) ? chunks : [chunks]).map((c) => c.toString()).join(''),
        ) as DnsRecordOf<T>[];
      case 'CNAME':
        return (result as string[]).map(canonicalTarget) as DnsRecordOf<T>[];
      default:
        return (result as string[]).map(String) as DnsRecordOf<T>[];
    }
  }

  /** The smallest TTL of the whole answer (CNAME chain included): the answer is only as fresh as its weakest link. */
  private positiveTtlOf(state: AttemptState): number {
    const ttls = (state.raw?.answers ?? []).map((a) => ('ttl' in a ? a.ttl : undefined)).filter((t): t is number => Number.isFinite(t));
    if (!ttls.length) return 0;
    return Math.min(Math.min(...ttls), this.maxTtl);
  }

  /** RFC 2308: negative answers live min(SOA TTL, SOA minimum) seconds. */
  private negativeTtlOf(state: AttemptState): number {
    const soa = (state.raw?.authorities ?? []).find((a) => a.type === 'SOA') as packet.SoaAnswer | undefined;
    if (!soa) return Math.min(this.negativeTtl, this.maxTtl);
    const minimum = soa.data.minimum ?? this.negativeTtl;
    return Math.min(soa.ttl ?? minimum, minimum, this.maxTtl);
  }

  // ------------------------------------------------------------------------------------------
  // Bounded LRU keyed by `${type}:${name}`; a Map iterates in insertion order, so re-inserting
  // on every hit keeps the least recently used entry first.

  private cacheGet(key: string): DnsAnswer<DnsRecordType> | null {
    const entry = this.cache.get(key);
    if (!entry) return null;
    const now = this.now();
    if (entry.expiresAt <= now) {
      this.cache.delete(key);
      return null;
    }
    this.cache.delete(key);
    this.cache.set(key, entry);
    if (!entry.answer.ok) return entry.answer;
    return { ...entry.answer, ttl: Math.max(1, Math.ceil((entry.expiresAt - now) / 1000)) };
  }

  private cacheSet(key: string, answer: DnsAnswer<DnsRecordType>, ttlSeconds: number): void {
    if (this.cacheMax <= 0) return;
    this.cache.delete(key);
    this.cache.set(key, { answer, expiresAt: this.now() + ttlSeconds * 1000 });
    while (this.cache.size > this.cacheMax) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
  }

  // ------------------------------------------------------------------------------------------

  /**
   * The HTTP client handed to tangerine. It never rejects: a rejected request would leave
   * tangerine's per-request timer pending (it only clears it on success), so failures come
   * back as a synthetic 599 response, and the real cause is kept in the attempt state.
   */
  private readonly request = (url: string, options: { method: string; headers: Record<string, string>; signal: AbortSignal; body?: Buffer }): Promise<TangerineResponse> => {
    const state = this.attemptStates.get(options.signal);
    this.counters.queries++;
    return new Promise<TangerineResponse>((resolve) => {
      let done = false;
      const finish = (response: TangerineResponse) => {
        if (done) return;
        done = true;
        options.signal.removeEventListener('abort', onAbort);
        resolve(response);
      };
      const fail = (cause: string) => {
        if (state && !state.timedOut && state.transportError === null) state.transportError = cause;
        finish(synthetic(599));
      };
      const onAbort = () => {
        req?.destroy();
        finish(synthetic(599));
      };
      if (options.signal.aborted) return finish(synthetic(599));

      const target = new URL(url);
      const isHttps = target.protocol === 'https:';
      const onResponse = (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => fail(`DoH response broken: ${describeError(e)}`));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const status = res.statusCode ?? 0;
          if (state && status >= 200 && status < 300) {
            try {
              state.raw = packet.decode(body);
            } catch {
              state.raw = null;
            }
          } else if (state) {
            state.httpStatus = status;
          }
          finish({ statusCode: status, headers: res.headers as Record<string, string>, body: bodyOf(body) });
        });
      };
      const requestOptions = {
        method: options.method,
        headers: options.headers,
        agent: isHttps ? this.httpsAgent : this.httpAgent,
        ...(isHttps && this.ca ? { ca: this.ca } : {}),
      };
      const req = isHttps ? httpsRequest(target, requestOptions, onResponse) : httpRequest(target, requestOptions, onResponse);
      req.on('error', (e) => fail(describeError(e)));
      options.signal.addEventListener('abort', onAbort, { once: true });
      req.end(options.body);
    });
  };
}

function bodyOf(buffer: Buffer): TangerineResponse['body'] {
  return { arrayBuffer: async () => buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer };
}

function synthetic(status: number): TangerineResponse {
  return { statusCode: status, headers: {}, body: bodyOf(Buffer.alloc(0)) };
}

/** Settles with `promise`, or rejects with the signal's reason as soon as it aborts. */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
