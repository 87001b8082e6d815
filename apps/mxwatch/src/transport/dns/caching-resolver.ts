/**
 * What every mxwatch resolver does whatever the transport: a deadline per attempt, retries with
 * failover across servers, a bounded TTL cache (negative answers included, RFC 2308), coalescing
 * of identical lookups in flight, CNAME chains followed across messages (up to 8 extra queries,
 * loops reported as a fact about the name) and the DNSSEC flags of the answer. A transport
 * (DoH, UDP, TCP) only implements `DnsExchange`: send one question to one server, hand back the
 * message or why there is none.
 */
import type packet from 'dns-packet';
import type { DnsAnswer, DnsErrorKind, DnsRecordType, DnssecFlags, ResolveOptions, Resolver } from '../transport.types.js';
import { canonicalName, combineFlags, interpretMessage, messageFlags, type DnsQuestion, type MessageFlags } from './dns-message.js';
import { flat, flattenStrings } from '../../common/kept-values.js';

export type ExchangeResult =
  | { ok: true; message: packet.DecodedPacket }
  /**
   * `aborted`: the attempt's signal fired (deadline or caller) before an answer; `note` says
   * what happened meanwhile (e.g. answers dropped for a wrong id). Transports never reject.
   */
  | { ok: false; error: 'transport' | 'badresp' | 'nxdomain' | 'aborted'; cause: string; note?: string };

export interface DnsExchange {
  /** Human-readable form of a server, e.g. `udp 127.0.0.1:53`. */
  describe(serverIndex: number): string;
  readonly serverCount: number;
  /** One question to one server. Must settle soon after `signal` aborts; never rejects. */
  exchange(serverIndex: number, question: DnsQuestion, signal: AbortSignal): Promise<ExchangeResult>;
  /** Messages sent so far (what the servers saw). */
  readonly sent: number;
  close(): void;
}

export interface CachingResolverOptions {
  /** Deadline of one attempt (one question to one server, a TCP fallback included). Default 3000. */
  timeoutMs?: number;
  /** Attempts per question, rotating through the servers (failover). Default 3. */
  attempts?: number;
  /**
   * Bound of the answer cache (LRU). 0 disables caching. Default 5000: what a check shares (its
   * MX hosts' addresses asked by several probes, a provider's hosts shared by many domains) is
   * asked again within seconds and stays at the hot end; at 10,000 domains every probe on, 10,000
   * entries and 8 MiB asked the fake DNS no question fewer than 5,000 and 4 MiB (99,822 a cycle
   * either way; bench/README.md, twelfth session), and held memory a long-running process needs.
   */
  cacheMaxEntries?: number;
  /** Bound of the answer cache in bytes (estimated from the records' text). Default 4 MiB. */
  cacheMaxBytes?: number;
  /** Clock for cache expiry (epoch ms). */
  now?: () => number;
  /** Negative-cache TTL (s) when a negative answer carries no SOA. Default 60. */
  defaultNegativeTtl?: number;
  /** Upper bound of any cached TTL (s). Default 86400. */
  maxTtl?: number;
  /** Extra queries made to follow CNAMEs a resolver left unresolved. Default 8. */
  maxCnameHops?: number;
}

export interface ResolverStats {
  /** Messages sent (attempts, TCP fallbacks included), i.e. what the DNS servers saw. */
  queries: number;
  /** Lookups answered from the cache. */
  cacheHits: number;
  /** Lookups that joined an identical lookup already in flight. */
  coalesced: number;
  cacheEntries: number;
}

interface CacheEntry {
  answer: DnsAnswer<DnsRecordType>;
  expiresAt: number;
  /** When it was (re)inserted, in insertions: its place in the LRU order. */
  seq: number;
  /** answerBytes, counted against cacheMaxBytes. */
  bytes: number;
}

interface Flight {
  promise: Promise<DnsAnswer<DnsRecordType>>;
  cancel: Cancellation;
  waiters: number;
  settled: boolean;
}

/**
 * How a lookup in flight is stopped when its last caller gives up: it aborts the attempt under
 * way (whose own controller also carries the attempt's deadline) and no further one starts. One
 * AbortController per attempt instead of three per question (the flight's, the attempt's and the
 * transport's): each is an EventTarget with listeners to add and remove, a few percent of a
 * fleet check's CPU at ~6 questions per domain.
 */
class Cancellation {
  aborted = false;
  reason: unknown = undefined;
  /** The attempt under way, if any. */
  current: AbortController | null = null;

  cancel(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason ?? new DOMException('This operation was aborted', 'AbortError');
    this.current?.abort(this.reason);
  }

  throwIfCancelled(): void {
    if (this.aborted) throw this.reason;
  }
}

type QueryOutcome =
  | { ok: true; message: packet.DecodedPacket; server: string; failures: string[] }
  | { ok: false; error: DnsErrorKind; cause: string; flags: MessageFlags | null };

export class CachingResolver implements Resolver {
  protected readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly cacheMax: number;
  private readonly cacheMaxBytes: number;
  private cacheBytes = 0;
  private readonly now: () => number;
  private readonly negativeTtl: number;
  private readonly maxTtl: number;
  private readonly maxCnameHops: number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Flight>();
  private readonly counters = { cacheHits: 0, coalesced: 0 };
  private seq = 0;
  /** The server that answered last: lookups start there, so a dead first server costs one timeout, not one per lookup. */
  private preferred = 0;

  constructor(
    protected readonly exchange: DnsExchange,
    options: CachingResolverOptions,
  ) {
    if (exchange.serverCount < 1) throw new Error('a resolver needs at least one server');
    this.timeoutMs = options.timeoutMs ?? 3000;
    this.attempts = Math.max(1, options.attempts ?? 3);
    this.cacheMax = options.cacheMaxEntries ?? 5_000;
    this.cacheMaxBytes = options.cacheMaxBytes ?? 4 * 1024 * 1024;
    this.now = options.now ?? Date.now;
    this.negativeTtl = options.defaultNegativeTtl ?? 60;
    this.maxTtl = options.maxTtl ?? 86_400;
    this.maxCnameHops = options.maxCnameHops ?? 8;
  }

  stats(): ResolverStats {
    return { queries: this.exchange.sent, ...this.counters, cacheEntries: this.cache.size };
  }

  /** Releases idle connections (they never hold the process open, but tests like a clean slate). */
  close(): void {
    this.exchange.close();
  }

  clearCache(): void {
    this.cache.clear();
    this.cacheBytes = 0;
  }

  async resolve<T extends DnsRecordType>(name: string, type: T, options: ResolveOptions = {}): Promise<DnsAnswer<T>> {
    const signal = options.signal;
    signal?.throwIfAborted();
    const question: DnsQuestion = { name: canonicalName(name), type, dnssec: options.dnssec === true, checkingDisabled: options.checkingDisabled === true };
    // CD=1 and CD=0 answers differ for bogus data, DO=1 answers carry flags: never share their entries.
    const key = `${type}:${question.name}:${question.dnssec ? 'do' : ''}${question.checkingDisabled ? 'cd' : ''}`;

    const cached = this.cacheGet(key);
    if (cached) {
      this.counters.cacheHits++;
      return cached as DnsAnswer<T>;
    }

    let flight = this.inflight.get(key);
    if (flight) {
      this.counters.coalesced++;
    } else {
      const f: Flight = { cancel: new Cancellation(), waiters: 0, settled: false, promise: undefined as never };
      f.promise = this.lookup(question, key, f.cancel).finally(() => {
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
        f.cancel.cancel(signal?.reason);
      }
    }
  }

  // ------------------------------------------------------------------------------------------

  private async lookup(question: DnsQuestion, key: string, cancel: Cancellation): Promise<DnsAnswer<DnsRecordType>> {
    const { name, type } = question;
    const visited = new Set<string>([name]);
    const flags: MessageFlags[] = [];
    const dnssec = (): { dnssec?: DnssecFlags } => (question.dnssec ? { dnssec: combineFlags(flags, question.checkingDisabled) } : {});
    const path: string[] = [name];
    let current = name;
    let chainTtl = Infinity;

    for (let hop = 0; ; hop++) {
      const outcome = await this.query(current === name ? question : { ...question, name: current }, cancel);
      if (!outcome.ok) {
        if (outcome.flags) flags.push(outcome.flags);
        const via = current === name ? '' : ` while following ${path.join(' → ')}`;
        // Not cached: a failure says nothing about the name.
        return { ok: false, type, name, error: outcome.error, cause: `${outcome.cause}${via}`, ...dnssec() };
      }
      const at = `(${outcome.server})`;
      const result = interpretMessage(outcome.message, current, type, { defaultNegativeTtl: this.negativeTtl, maxTtl: this.maxTtl }, visited);
      flags.push(result.flags);
      if (result.kind === 'failure') {
        // interpretMessage only fails on rcodes, which `query` already retried and turned into outcomes.
        return { ok: false, type, name, error: result.error, cause: `the resolver answered ${result.rcode} ${at}`, ...dnssec() };
      }
      path.push(...result.chain);
      for (const n of result.chain) visited.add(n);
      if (result.kind === 'loop') {
        const answer: DnsAnswer<DnsRecordType> = { ok: false, type, name, error: 'cname_loop', cause: `CNAME loop: ${path.join(' → ')} ${at}`, ...dnssec() };
        this.cacheSet(key, answer, Math.min(this.negativeTtl, this.maxTtl));
        return answer;
      }
      if (result.kind === 'records') {
        const ttl = Math.min(chainTtl, result.ttl);
        const answer: DnsAnswer<DnsRecordType> = { ok: true, type, name, records: result.records, ttl, ...dnssec() };
        if (ttl > 0) this.cacheSet(key, answer, ttl);
        return answer;
      }
      if (result.kind === 'negative') {
        const ttl = Math.min(chainTtl, result.ttl);
        const alias = path.length > 1 ? `${name} is an alias (${path.join(' → ')}); ` : '';
        const last = path[path.length - 1];
        const cause =
          result.error === 'nxdomain' ? `${alias}${last} does not exist (NXDOMAIN) ${at}` : `${alias}${last} has no ${type} record ${at}`;
        const answer: DnsAnswer<DnsRecordType> = { ok: false, type, name, error: result.error, cause, ...dnssec() };
        if (ttl > 0) this.cacheSet(key, answer, ttl);
        return answer;
      }
      // follow: the resolver stopped at an alias; ask for its target ourselves.
      chainTtl = Math.min(chainTtl, result.ttl);
      if (hop >= this.maxCnameHops) {
        const answer: DnsAnswer<DnsRecordType> = {
          ok: false,
          type,
          name,
          error: 'cname_loop',
          cause: `CNAME chain longer than ${this.maxCnameHops} lookups: ${path.join(' → ')} ${at}`,
          ...dnssec(),
        };
        this.cacheSet(key, answer, Math.min(this.negativeTtl, this.maxTtl));
        return answer;
      }
      current = result.target;
    }
  }

  /** One question, retried across servers until a usable message (NOERROR/NXDOMAIN) arrives. */
  private async query(question: DnsQuestion, cancel: Cancellation): Promise<QueryOutcome> {
    const failures: string[] = [];
    let last: QueryOutcome | null = null;
    for (let i = 0; i < this.attempts; i++) {
      cancel.throwIfCancelled();
      const index = (this.preferred + i) % this.exchange.serverCount;
      const server = this.exchange.describe(index);
      const result = await this.attempt(question, index, cancel);
      if (result.ok) {
        const flags = messageFlags(result.message);
        if (flags.rcode === 'NOERROR' || flags.rcode === 'NXDOMAIN') {
          this.preferred = index;
          return { ok: true, message: result.message, server, failures };
        }
        const error: DnsErrorKind = flags.rcode === 'SERVFAIL' ? 'servfail' : flags.rcode === 'REFUSED' ? 'refused' : 'badresp';
        const what = error === 'servfail' ? 'the resolver failed to answer (SERVFAIL)' : error === 'refused' ? 'the resolver refused the query (REFUSED)' : `the resolver answered ${flags.rcode}`;
        const ede = flags.ede.length ? `; extended error ${flags.ede.map((e) => `${e.code}${e.text ? ` ${e.text}` : ''}`).join(', ')}` : '';
        last = { ok: false, error, cause: `${what}${ede} (${server})`, flags };
      } else if (result.error === 'nxdomain') {
        // A name no resolver could be asked about (tangerine refuses IP literals as names).
        return { ok: false, error: 'nxdomain', cause: result.cause, flags: null };
      } else if (result.error === 'aborted') {
        cancel.throwIfCancelled();
        last = { ok: false, error: 'timeout', cause: `no answer within ${this.timeoutMs} ms${result.note ? ` (${result.note})` : ''} (${server})`, flags: null };
      } else {
        last = { ok: false, error: result.error, cause: `${result.cause} (${server})`, flags: null };
      }
      failures.push(last.cause);
    }
    const unique = [...new Set(failures)];
    const outcome = last!;
    if (!outcome.ok && unique.length > 1) return { ...outcome, cause: `${outcome.cause}; earlier attempts: ${unique.slice(0, -1).join('; ')}` };
    return outcome;
  }

  private async attempt(question: DnsQuestion, index: number, cancel: Cancellation): Promise<ExchangeResult> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    cancel.current = controller;
    try {
      const result = await this.exchange.exchange(index, question, controller.signal);
      cancel.throwIfCancelled();
      return result;
    } finally {
      clearTimeout(timer);
      cancel.current = null;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Bounded LRU; a Map iterates in insertion order, so re-inserting a hit keeps the least recently
  // used entry first. Only a hit in the older half moves: the names a fleet shares (provider MX
  // hosts, list test points) are hit thousands of times a cycle, and a delete and set on a large
  // Map for each was most of a hit's cost. An entry is then evicted after at least half the bound
  // of insertions without a hit, instead of the whole bound.

  private cacheGet(key: string): DnsAnswer<DnsRecordType> | null {
    const entry = this.cache.get(key);
    if (!entry) return null;
    const now = this.now();
    if (entry.expiresAt <= now) {
      this.cacheDelete(key);
      return null;
    }
    if (this.seq - entry.seq >= this.cacheMax / 2) {
      this.cache.delete(key);
      entry.seq = ++this.seq;
      this.cache.set(key, entry);
    }
    if (!entry.answer.ok) return entry.answer;
    return { ...entry.answer, ttl: Math.max(1, Math.ceil((entry.expiresAt - now) / 1000)) };
  }

  private cacheSet(key: string, answer: DnsAnswer<DnsRecordType>, ttlSeconds: number): void {
    if (this.cacheMax <= 0 || ttlSeconds <= 0) return;
    this.cacheDelete(key);
    // Kept until it expires or is pushed out: the key (a Map does not flatten a key it hashes) and
    // the answer's strings (a cause built from parts) as flat ones.
    flat(key);
    flattenStrings(answer);
    const bytes = answerBytes(key, answer);
    this.cache.set(key, { answer, expiresAt: this.now() + ttlSeconds * 1000, seq: ++this.seq, bytes });
    this.cacheBytes += bytes;
    // By entries and by bytes: a few huge TXT sets must not hold as much as thousands of MX answers.
    while (this.cache.size > this.cacheMax || this.cacheBytes > this.cacheMaxBytes) {
      this.cacheDelete(this.cache.keys().next().value as string);
    }
  }

  private cacheDelete(key: string): void {
    const entry = this.cache.get(key);
    if (!entry) return;
    this.cache.delete(key);
    this.cacheBytes -= entry.bytes;
  }
}

/** About what an answer holds on the heap: its strings (record data, names, the key) and the objects around them. */
function answerBytes(key: string, answer: DnsAnswer<DnsRecordType>): number {
  let bytes = 160 + key.length + answer.name.length;
  if (!answer.ok) return bytes + answer.cause.length;
  for (const r of answer.records as unknown[]) {
    bytes += 48;
    if (typeof r === 'string') bytes += r.length;
    else if (Array.isArray(r)) for (const part of r) bytes += 16 + String(part).length;
    else if (r && typeof r === 'object') for (const v of Object.values(r)) bytes += 16 + (typeof v === 'string' ? v.length : Array.isArray(v) ? v.join('').length : 8);
  }
  return bytes;
}

/**
 * One 'abort' listener per caller signal, however many lookups wait on it: a check's signal is
 * shared by dozens of concurrent lookups, and Node warns (in plain text, into the JSON log) past
 * ten listeners on one EventTarget.
 */
const abortWaiters = new WeakMap<AbortSignal, Set<() => void>>();

function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let waiters = abortWaiters.get(signal);
  if (!waiters) {
    const set = new Set<() => void>();
    waiters = set;
    abortWaiters.set(signal, set);
    signal.addEventListener(
      'abort',
      () => {
        abortWaiters.delete(signal);
        for (const w of [...set]) w();
      },
      { once: true },
    );
  }
  waiters.add(callback);
  return () => waiters!.delete(callback);
}

/** Settles with `promise`, or rejects with the signal's reason as soon as it aborts. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const off = onAbort(signal, () => reject(signal.reason));
    promise.then(
      (v) => {
        off();
        resolve(v);
      },
      (e) => {
        off();
        reject(e);
      },
    );
  });
}
