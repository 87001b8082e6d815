/**
 * The one HTTPS client of the project (MTA-STS policies today, BIMI logos later). A monitored
 * domain names the host, so the fetch is built to be safe against a hostile one:
 * - the name is resolved through the project's Resolver (never the system resolver) and every
 *   address is vetted by the address policy before any packet is sent;
 * - the connection goes to that vetted address with SNI and `Host` set to the name, so no
 *   second lookup can rebind the name to another address;
 * - the probed port goes through the Dialer, which applies MXWATCH_PORT_MAP like SMTP;
 * - the certificate is fully verified (chain and name) and its facts are kept when it fails;
 *   no request is sent over an unverified connection;
 * - redirects are reported, never followed; the body is capped; one total deadline;
 * - no cookies are sent or kept and no proxy variable is read (we dial ourselves);
 * - one request at a time per host name.
 */
import { X509Certificate } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls, { type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import pLimit, { type LimitFunction } from 'p-limit';
import { NodeTlsUpgrader, TIME_VERIFY_ERRORS, TlsUpgradeError, chainTrustErrorIgnoringTime, isTrustAnchorSource } from '../net/tls-upgrader.js';
import type { AddressPolicyLike, Dialer, DnsAnswer, DnsErrorKind, Resolver, TlsUpgrader } from '../transport.types.js';

export const HTTPS_ERROR_KINDS = ['dns', 'forbidden', 'connect', 'tls', 'certificate', 'status', 'redirect', 'size', 'timeout'] as const;
export type HttpsErrorKind = (typeof HTTPS_ERROR_KINDS)[number];

/** What the server's certificate said, kept whether or not it verified. */
export interface HttpsCertFacts {
  subject: string;
  sans: string[];
  issuer: string;
  notBefore: string;
  notAfter: string;
  fingerprint256: string;
  /** Node's verification result as is (chain, dates and name folded into one code). */
  authorizationError: string | null;
  /** The chain leads to a trusted root, validity dates set aside. */
  trusted: boolean;
  /** Outside its validity period now. */
  expired: boolean;
  nameMatch: boolean;
}

export interface HttpsFetchResult {
  ok: boolean;
  url: string;
  host: string;
  /** The vetted address connected to (null before a connection). */
  ip: string | null;
  /** The probed port (before MXWATCH_PORT_MAP). */
  port: number;
  status: number | null;
  /** Lower-case names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** The body as UTF-8 text, at most `maxBytes` (null when none was read). */
  body: string | null;
  bytes: number;
  tlsVersion: string | null;
  cert: HttpsCertFacts | null;
  error: HttpsErrorKind | null;
  /** For people: what exactly went wrong. */
  cause: string | null;
  /** With `error: 'dns'`: the resolver's kind (a fact about the name, or about our path to the DNS). */
  dnsError: DnsErrorKind | null;
  /** Addresses the name resolved to that the address policy refused. */
  refused: Array<{ ip: string; range: string }>;
  /** With `error: 'redirect'`: where the server wanted to send us. */
  location: string | null;
  durationMs: number;
}

export interface HttpsFetcherOptions {
  resolver: Resolver;
  dialer: Dialer;
  policy: AddressPolicyLike;
  /** Default: NodeTlsUpgrader with Node's store (NODE_EXTRA_CA_CERTS included). */
  tlsUpgrader?: TlsUpgrader;
  /** Default 64 KiB. */
  maxBytes?: number;
  /** Default 10 s; the caller's deadline wins when it is sooner. */
  timeoutMs?: number;
  /** Sent as User-Agent. */
  userAgent?: string;
}

export interface FetchOptions {
  /** Absolute epoch ms: the check's deadline. */
  deadline: number;
  signal?: AbortSignal;
}

export const DEFAULT_MAX_BYTES = 64 * 1024;
export const DEFAULT_FETCH_TIMEOUT_MS = 10_000;
/** A host with many addresses must not turn one fetch into a sweep. */
const MAX_ADDRESSES_TRIED = 3;

class FetchFailure extends Error {
  constructor(
    readonly kind: HttpsErrorKind,
    message: string,
  ) {
    super(message);
  }
}

function joinHeaders(res: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue;
    // Cookies are never kept, not even in the record of the response.
    if (name === 'set-cookie') continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function peerFacts(socket: TLSSocket, host: string, anchors: () => X509Certificate[], now: number): HttpsCertFacts | null {
  const peer = socket.getPeerCertificate(true) as DetailedPeerCertificate;
  if (!peer || !peer.raw) return null;
  let x: X509Certificate;
  try {
    x = new X509Certificate(peer.raw);
  } catch {
    return null;
  }
  const raw = socket.authorizationError as unknown;
  const authorizationError = raw ? String(raw instanceof Error ? ((raw as NodeJS.ErrnoException).code ?? raw.message) : raw) : null;
  const notBefore = new Date(x.validFrom);
  const notAfter = new Date(x.validTo);
  let trusted: boolean;
  if (socket.authorized || authorizationError === 'ERR_TLS_CERT_ALTNAME_INVALID') trusted = true;
  // OpenSSL reports only its last error: an expired certificate may also be untrusted.
  else if (authorizationError && TIME_VERIFY_ERRORS.has(authorizationError)) trusted = chainTrustErrorIgnoringTime(peer, anchors()) === null;
  else trusted = false;
  return {
    subject: x.subject.split('\n').join(', '),
    sans: (x.subjectAltName ?? '').split(/,\s*/).filter(Boolean),
    issuer: x.issuer.split('\n').join(', '),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    fingerprint256: x.fingerprint256,
    authorizationError,
    trusted,
    expired: now > notAfter.getTime() || now < notBefore.getTime(),
    nameMatch: tls.checkServerIdentity(host, peer) === undefined,
  };
}

function certificateProblem(c: HttpsCertFacts): string {
  const problems: string[] = [];
  if (!c.trusted) problems.push(`not trusted (${c.authorizationError ?? 'unknown'})`);
  if (c.expired) problems.push(`outside its validity ${c.notBefore} - ${c.notAfter}`);
  if (!c.nameMatch) problems.push(`not valid for the name (it names ${c.sans.join(', ') || c.subject})`);
  return problems.length ? `certificate ${problems.join('; ')}` : `certificate rejected (${c.authorizationError ?? 'unknown'})`;
}

function dnsCause(answers: Array<DnsAnswer<'A'> | DnsAnswer<'AAAA'>>): { kind: DnsErrorKind; cause: string } {
  const failed = answers.filter((a): a is Extract<typeof a, { ok: false }> => !a.ok);
  // A fact about our path (timeout, SERVFAIL) must not be hidden behind an empty AAAA answer.
  const path = failed.find((a) => a.error !== 'nodata' && a.error !== 'nxdomain');
  const pick = path ?? failed.find((a) => a.error === 'nxdomain') ?? failed[0];
  if (!pick) return { kind: 'nodata', cause: 'no A or AAAA records' };
  const kind = path ? pick.error : failed.every((a) => a.error === 'nodata') ? 'nodata' : pick.error;
  return { kind, cause: failed.map((a) => `${a.type}: ${a.error} (${a.cause})`).join('; ') };
}

export class HttpsFetcher {
  private readonly perHost = new Map<string, LimitFunction>();
  private readonly upgrader: TlsUpgrader;
  private readonly maxBytes: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: HttpsFetcherOptions) {
    this.upgrader = options.tlsUpgrader ?? new NodeTlsUpgrader();
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  }

  /** GET an `https:` URL. Never rejects for anything the server or the network does. */
  fetch(url: string, options: FetchOptions): Promise<HttpsFetchResult> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`"${url}" is not a URL`);
    }
    if (parsed.protocol !== 'https:') throw new Error(`only https: URLs are fetched, not "${url}"`);
    const host = parsed.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
    let limit = this.perHost.get(host);
    if (!limit) {
      limit = pLimit(1);
      this.perHost.set(host, limit);
    }
    const l = limit;
    return l(() => this.fetchNow(parsed, host, options)).finally(() => {
      if (l.activeCount === 0 && l.pendingCount === 0 && this.perHost.get(host) === l) this.perHost.delete(host);
    });
  }

  private async fetchNow(url: URL, host: string, options: FetchOptions): Promise<HttpsFetchResult> {
    const t0 = performance.now();
    const port = url.port ? Number(url.port) : 443;
    const deadline = Math.min(options.deadline, Date.now() + this.timeoutMs);
    const result: HttpsFetchResult = {
      ok: false,
      url: url.href,
      host,
      ip: null,
      port,
      status: null,
      headers: {},
      body: null,
      bytes: 0,
      tlsVersion: null,
      cert: null,
      error: null,
      cause: null,
      dnsError: null,
      refused: [],
      location: null,
      durationMs: 0,
    };
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort();
    options.signal?.addEventListener('abort', onOuterAbort, { once: true });
    if (options.signal?.aborted) controller.abort();
    const timer = setTimeout(() => controller.abort(), Math.max(0, deadline - Date.now()));
    const signal = controller.signal;
    let socket: TLSSocket | null = null;
    try {
      const addresses = await this.addresses(host, signal, result);
      const allowed: string[] = [];
      for (const ip of addresses) {
        const range = this.options.policy.forbiddenRange(ip);
        if (range === null) allowed.push(ip);
        else result.refused.push({ ip, range });
      }
      if (allowed.length === 0) {
        throw new FetchFailure('forbidden', `${host} resolves only to refused addresses: ${result.refused.map((r) => `${r.ip} (${r.range})`).join(', ')}; not allowed by MXWATCH_ALLOW_PRIVATE_TARGETS`);
      }
      socket = await this.connect(host, allowed.slice(0, MAX_ADDRESSES_TRIED), port, deadline, signal, result);
      const now = Date.now();
      const anchors = () => (isTrustAnchorSource(this.upgrader) ? this.upgrader : new NodeTlsUpgrader()).trustAnchors();
      result.tlsVersion = socket.getProtocol() ?? null;
      result.cert = peerFacts(socket, host, anchors, now);
      if (!result.cert) throw new FetchFailure('certificate', 'the server presented no certificate');
      if (!socket.authorized || !result.cert.nameMatch || !result.cert.trusted || result.cert.expired) {
        throw new FetchFailure('certificate', certificateProblem(result.cert));
      }
      await this.request(socket, url, host, signal, result);
      result.ok = result.error === null;
    } catch (e) {
      if (e instanceof FetchFailure) {
        result.error = signal.aborted && e.kind !== 'forbidden' && e.kind !== 'certificate' ? 'timeout' : e.kind;
        result.cause = result.error === 'timeout' && e.kind !== 'timeout' ? `deadline passed (${e.message})` : e.message;
      } else throw e;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onOuterAbort);
      socket?.destroy();
      result.durationMs = Math.round(performance.now() - t0);
    }
    return result;
  }

  private async addresses(host: string, signal: AbortSignal, result: HttpsFetchResult): Promise<string[]> {
    if (net.isIP(host)) return [host];
    const [a, aaaa] = await Promise.all([
      this.options.resolver.resolve(host, 'A', { signal }).catch((e: unknown) => {
        if (signal.aborted) throw new FetchFailure('timeout', `resolving ${host}: deadline passed`);
        throw e;
      }),
      this.options.resolver.resolve(host, 'AAAA', { signal }).catch((e: unknown) => {
        if (signal.aborted) throw new FetchFailure('timeout', `resolving ${host}: deadline passed`);
        throw e;
      }),
    ]);
    const out = [...(a.ok ? a.records : []), ...(aaaa.ok ? aaaa.records : [])];
    if (out.length === 0) {
      const { kind, cause } = dnsCause([a, aaaa]);
      result.dnsError = kind;
      throw new FetchFailure('dns', `${host}: ${cause}`);
    }
    return out;
  }

  private async connect(host: string, ips: string[], port: number, deadline: number, signal: AbortSignal, result: HttpsFetchResult): Promise<TLSSocket> {
    const failures: string[] = [];
    let lastKind: HttpsErrorKind = 'connect';
    for (const ip of ips) {
      if (signal.aborted) break;
      const dial = await this.options.dialer.dial({ ip, port, deadline, signal });
      if (!dial.ok) {
        failures.push(`${ip}: ${dial.error} (${dial.cause})`);
        lastKind = dial.error === 'forbidden' ? 'forbidden' : dial.error === 'timeout' && Date.now() >= deadline ? 'timeout' : 'connect';
        continue;
      }
      result.ip = ip;
      try {
        return await this.upgrader.upgrade(dial.socket, { servername: host, deadline, signal });
      } catch (e) {
        dial.socket.destroy();
        if (e instanceof TlsUpgradeError) {
          throw new FetchFailure(e.kind === 'timeout' || e.kind === 'aborted' ? 'timeout' : 'tls', `TLS with ${ip}: ${e.message}`);
        }
        throw e;
      }
    }
    throw new FetchFailure(lastKind, failures.length ? `could not connect: ${failures.join('; ')}` : 'deadline passed before connecting');
  }

  private request(socket: TLSSocket, url: URL, host: string, signal: AbortSignal, result: HttpsFetchResult): Promise<void> {
    const maxBytes = this.maxBytes;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (failure: FetchFailure | null) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        req.destroy();
        if (failure) reject(failure);
        else resolve();
      };
      const onAbort = () => done(new FetchFailure('timeout', `no complete answer from ${result.ip} before the deadline`));
      const hostHeader = url.port && url.port !== '443' ? `${host}:${url.port}` : host;
      // No agent: the request rides the one vetted, verified socket, and nothing is pooled or proxied.
      const req = http.request({
        method: 'GET',
        path: `${url.pathname}${url.search}`,
        createConnection: () => socket,
        setHost: false,
        headers: { Host: hostHeader, 'User-Agent': this.options.userAgent ?? 'mxwatch', Accept: '*/*', Connection: 'close' },
      });
      req.on('error', (err: NodeJS.ErrnoException) => done(new FetchFailure(signal.aborted ? 'timeout' : 'status', `invalid HTTP answer: ${err.code ?? ''} ${err.message}`.trim())));
      req.on('response', (res) => {
        result.status = res.statusCode ?? null;
        result.headers = joinHeaders(res);
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          result.location = typeof res.headers.location === 'string' ? res.headers.location : null;
          res.resume();
          done(new FetchFailure('redirect', `HTTP ${status} redirect${result.location ? ` to ${result.location}` : ''} (redirects are not followed)`));
          return;
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
          res.resume();
          done(new FetchFailure('size', `body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`));
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          result.bytes += chunk.length;
          if (result.bytes > maxBytes) {
            done(new FetchFailure('size', `body exceeds the limit of ${maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => done(new FetchFailure(signal.aborted ? 'timeout' : 'status', `body cut off: ${err.message}`)));
        res.on('aborted', () => done(new FetchFailure(signal.aborted ? 'timeout' : 'status', 'body cut off by the server')));
        res.on('end', () => {
          if (settled) return;
          result.body = Buffer.concat(chunks).toString('utf8');
          if (status !== 200) done(new FetchFailure('status', `HTTP status ${status}, not 200`));
          else done(null);
        });
      });
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
      req.end();
    });
  }
}
