/**
 * What the transport layer offers the probes: DNS answers, dialled sockets, TLS upgrades and
 * the address policy. Transport never imports from probes or anything above them.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

// ---------------------------------------------------------------------------------------------
// DNS
// ---------------------------------------------------------------------------------------------

export type DnsRecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'CNAME' | 'SRV' | 'PTR' | 'NS' | 'SOA' | 'TLSA' | 'DS' | 'DNSKEY';

export interface MxRecord { exchange: string; priority: number }
export interface SrvRecord { name: string; port: number; priority: number; weight: number }
export interface SoaRecord { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number }
/** RFC 6698: `data` is the certificate association data as lower-case hex. */
export interface TlsaRecord { usage: number; selector: number; matchingType: number; data: string }
export interface DsRecord { keyTag: number; algorithm: number; digestType: number; digest: string }
export interface DnskeyRecord { flags: number; algorithm: number; key: string }

export type DnsRecordOf<T extends DnsRecordType> = T extends 'MX'
  ? MxRecord
  : T extends 'SRV'
    ? SrvRecord
    : T extends 'SOA'
      ? SoaRecord
      : T extends 'TLSA'
        ? TlsaRecord
        : T extends 'DS'
          ? DsRecord
          : T extends 'DNSKEY'
            ? DnskeyRecord
            : string;

/**
 * `nxdomain`, `nodata` and `cname_loop` are facts about the name. Everything else is a fact about
 * us or the path to the DNS (`timeout`, `servfail`, `refused`, `transport`, `badresp`).
 */
export type DnsErrorKind = 'nxdomain' | 'nodata' | 'cname_loop' | 'timeout' | 'servfail' | 'refused' | 'transport' | 'badresp';

/** The errors about us or the path to the DNS: never evidence against the name asked about. */
export const DNS_PATH_ERRORS: ReadonlySet<DnsErrorKind> = new Set<DnsErrorKind>(['timeout', 'servfail', 'refused', 'transport', 'badresp']);

/**
 * The errors after which a policy cannot be concluded: the path errors, and a CNAME loop (the
 * zone's fault, but receivers get a temperror from it too, so they do not conclude either).
 */
export const DNS_INCONCLUSIVE_ERRORS: ReadonlySet<DnsErrorKind> = new Set<DnsErrorKind>([...DNS_PATH_ERRORS, 'cname_loop']);

/** RFC 8914 extended DNS error, as the resolver sent it. */
export interface ExtendedDnsError { code: number; text: string }

/** What the answer said about DNSSEC; present when the query asked for it (`dnssec: true`). */
export interface DnssecFlags {
  /** AD bit: the (validating) resolver authenticated the answer. */
  authenticated: boolean;
  /** CD bit as sent: validation was disabled for this query. */
  checkingDisabled: boolean;
  rcode: string;
  ede: ExtendedDnsError[];
}

export type DnsAnswer<T extends DnsRecordType> =
  | { ok: true; type: T; name: string; records: DnsRecordOf<T>[]; ttl: number; dnssec?: DnssecFlags }
  | { ok: false; type: T; name: string; error: DnsErrorKind; /** the real cause, for humans */ cause: string; dnssec?: DnssecFlags };

export interface ResolveOptions {
  signal?: AbortSignal;
  /** Set DO and report the AD bit, rcode and extended errors in `dnssec`. */
  dnssec?: boolean;
  /** Set CD (checking disabled): how bogus data is told from missing data. Never cached with CD=0 answers. */
  checkingDisabled?: boolean;
}

export interface Resolver {
  /** Never rejects for DNS conditions; rejects only on bugs or when `signal` aborts. */
  resolve<T extends DnsRecordType>(name: string, type: T, options?: ResolveOptions): Promise<DnsAnswer<T>>;
}

// ---------------------------------------------------------------------------------------------
// Network
// ---------------------------------------------------------------------------------------------

export interface DialOptions {
  /** An IP address literal (never a name: the caller resolved it and chose the address). */
  ip: string;
  /** The probed port; the dialer applies MXWATCH_PORT_MAP. */
  port: number;
  /** Absolute time (epoch ms) by which the connection must be established. */
  deadline: number;
  signal?: AbortSignal;
}

export type DialResult =
  | { ok: true; socket: Socket; connectMs: number; /** the port really dialled after the port map */ actualPort: number }
  | {
      ok: false;
      /** `refused`: RST; `timeout`: no answer; `unreachable`: network/host unreachable; `forbidden`: our own policy. */
      error: 'refused' | 'timeout' | 'unreachable' | 'forbidden' | 'error';
      cause: string;
    };

export interface Dialer {
  dial(options: DialOptions): Promise<DialResult>;
}

export interface TlsUpgrader {
  /** Never fatal on verification: returns the socket with `authorized` / `authorizationError` set. */
  upgrade(socket: Socket, options: { servername?: string; deadline: number; signal?: AbortSignal }): Promise<TLSSocket>;
}

export interface AddressPolicyLike {
  /** `null` when the address is public or explicitly allowed; else the name of the reserved range. */
  forbiddenRange(ip: string): string | null;
}
