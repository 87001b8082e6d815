/**
 * What the transport layer offers the probes: DNS answers, dialled sockets, TLS upgrades and
 * the address policy. Transport never imports from probes or anything above them.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

// ---------------------------------------------------------------------------------------------
// DNS
// ---------------------------------------------------------------------------------------------

export type DnsRecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'CNAME' | 'SRV';

export interface MxRecord { exchange: string; priority: number }
export interface SrvRecord { name: string; port: number; priority: number; weight: number }

export type DnsRecordOf<T extends DnsRecordType> = T extends 'MX'
  ? MxRecord
  : T extends 'SRV'
    ? SrvRecord
    : T extends 'TXT'
      ? string
      : string;

/**
 * `nxdomain` and `nodata` are facts about the name. Everything else is a fact about us or
 * the path to the DNS (`timeout`, `servfail`, `refused`, `transport`, `badresp`).
 */
export type DnsErrorKind = 'nxdomain' | 'nodata' | 'timeout' | 'servfail' | 'refused' | 'transport' | 'badresp';

export type DnsAnswer<T extends DnsRecordType> =
  | { ok: true; type: T; name: string; records: DnsRecordOf<T>[]; ttl: number }
  | { ok: false; type: T; name: string; error: DnsErrorKind; /** the real cause, for humans */ cause: string };

export interface Resolver {
  /** Never rejects for DNS conditions; rejects only on bugs or when `signal` aborts. */
  resolve<T extends DnsRecordType>(name: string, type: T, options?: { signal?: AbortSignal }): Promise<DnsAnswer<T>>;
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
