/**
 * Shared vocabulary of the probes. Probes are pure TypeScript: no Nest, no Prisma.
 * A probe never throws for an unhealthy target; an unhealthy target is a result.
 * It throws only on bugs.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

export const PROBE_NAMES = ['mx', 'smtp', 'starttls', 'dnsbl'] as const;
export type ProbeName = (typeof PROBE_NAMES)[number];

export const PROBE_STATUSES = ['pass', 'warn', 'fail', 'untestable'] as const;
/** `untestable`: we could not test (resolver down, port 25 blocked, tarpit); never a finding against the domain. */
export type ProbeStatus = (typeof PROBE_STATUSES)[number];

/**
 * One observation a probe made that the findings rules may turn into a finding.
 * `code` must exist in findings/finding-catalog.ts. `target` identifies what it is about
 * (domain, MX host, `host[ip]:port`, `ip@zone`), stable between runs so a finding can resolve.
 */
export interface ProbeObservation {
  code: string;
  target: string;
  /** Values for the catalog's message template, and evidence shown to operators. */
  params: Record<string, string | number | boolean | null>;
}

/** What every probe returns. `details` is probe specific, JSON-serialisable, stored as is. */
export interface ProbeResult<D = object> {
  probe: ProbeName;
  /** What was probed: the domain, `host[ip]:port`, `ip@zone`, ... */
  target: string;
  status: ProbeStatus;
  /** Machine-readable reason for a non-pass status, e.g. `starttls_not_offered`, `resolver_timeout`. */
  reason?: string;
  startedAt: Date;
  durationMs: number;
  details: D;
  observations: ProbeObservation[];
}

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

// ---------------------------------------------------------------------------------------------
// Context
// ---------------------------------------------------------------------------------------------

export interface ProbeSettings {
  smtpPorts: number[];
  certWarnDays: number;
  /** Banner slower than this (ms) is SMTP_SLOW_BANNER. */
  slowBannerMs: number;
  /** Zones to query, from MXWATCH_DNSBL_ZONES (names; their kind and codes come from the built-in table). */
  dnsblZones: string[];
  /** Name we announce in EHLO. */
  ehloName: string;
  /** Per-step limits inside the probe's overall deadline (whichever comes first wins). */
  smtpConnectTimeoutMs: number;
  /** Longest wait for one reply, the banner included. */
  smtpReplyTimeoutMs: number;
}

export interface ProbeContext {
  /** Absolute time (epoch ms) by which the probe must have returned. */
  deadline: number;
  /** Aborted when the deadline passes or the check is cancelled. */
  signal: AbortSignal;
  resolver: Resolver;
  dialer: Dialer;
  /** Decides whether an address may be probed (private ranges, MXWATCH_ALLOW_PRIVATE_TARGETS). */
  addressPolicy: AddressPolicyLike;
  settings: ProbeSettings;
  now(): Date;
}

export interface AddressPolicyLike {
  /** `null` when the address is public or explicitly allowed; else the name of the reserved range. */
  forbiddenRange(ip: string): string | null;
}
