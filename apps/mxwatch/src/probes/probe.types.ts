/**
 * Shared vocabulary of the probes. Probes are pure TypeScript: no Nest, no Prisma.
 * A probe never throws for an unhealthy target; an unhealthy target is a result.
 * It throws only on bugs.
 */
import type { AddressPolicyLike, Dialer, Resolver } from '../transport/transport.types.js';
import type { Severity } from './probe-definition.js';

export type * from '../transport/transport.types.js';

/** A registered probe's name (`mx`, `spf`, `mta-sts`, ...): the registry (probes/registry.ts) lists them. */
export type ProbeName = string;

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
  /** Overrides the code's catalog severity when the probe knows better (a closed 587 on a submission host). */
  severity?: Severity;
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
  /** MXWATCH_MAX_MX_HOSTS: MX hosts looked up and probed per domain, most preferred first. */
  maxMxHosts: number;
  /** MXWATCH_MAX_ADDRESSES: distinct MX addresses probed per domain. */
  maxAddresses: number;
  /** MXWATCH_SPAMHAUS_DQS_KEY: never logged, stored or shown. */
  spamhausDqsKey?: string;
  /**
   * The public or shared resolver DNSBL queries go through (e.g. "Cloudflare"), or null when it is
   * not presumed to be one (MXWATCH_DNSBL_RESOLVER_SHARED: auto by address, true, false).
   */
  dnsblResolverPublic?: string | null;
  /** How findings name the DNSBL resolver (its servers) when a list's own answer says it refuses it. */
  dnsblResolverName?: string;
  /** MXWATCH_DNSSEC_CANARY: a name that must validate, and one that must fail validation. */
  dnssecCanary?: { signed: string; broken: string };
}

/**
 * What a probe remembers between runs (the over-time findings: MTA-STS policies senders may still
 * hold, the key each MX address presented). Keys are the probe's own, prefixed with its name
 * (`mta-sts:<domain>`, `dane:<host>[<ip>]:25`); values are plain JSON (no Dates, Maps or bytes).
 * A store may fail (the database is away): the probe then says it could not test, it never
 * guesses from an empty memory.
 */
export interface ProbeMemory {
  get<T>(key: string): Promise<T | undefined>;
  set<T>(key: string, value: T): Promise<void>;
}

export interface ProbeContext {
  /** Absolute time (epoch ms) by which the probe must have returned. */
  deadline: number;
  /** Aborted when the deadline passes or the check is cancelled. */
  signal: AbortSignal;
  /** The resolver for the domains' own records (MXWATCH_DNS_SERVERS). */
  resolver: Resolver;
  /** The resolver for DNSBL queries (MXWATCH_DNSBL_DNS_SERVERS; may be the same object). */
  dnsblResolver: Resolver;
  dialer: Dialer;
  /** Decides whether an address may be probed (private ranges, MXWATCH_ALLOW_PRIVATE_TARGETS). */
  addressPolicy: AddressPolicyLike;
  settings: ProbeSettings;
  now(): Date;
  /**
   * Memory across runs, shared by every worker and kept across restarts (the runtime lends the
   * database's). Absent in a one-shot check (the CLI) and in unit tests: a probe then keeps a
   * bounded map of its own (probes/probe-memory.ts).
   */
  memory?: ProbeMemory;
}
