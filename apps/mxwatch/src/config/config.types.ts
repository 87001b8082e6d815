import type { ChannelConfig } from './notification-channels.js';

/** A domain as declared in the YAML file (validated with the same rules as the REST API). */
export interface DomainSpec {
  name: string;
  intervalSeconds?: number | null;
  submissionHosts?: string[];
  sendingIps?: string[];
  labels?: Record<string, string>;
  enabled?: boolean;
  /** DKIM selector labels to look up at `<selector>._domainkey.<name>`. */
  dkimSelectors?: string[];
}

/** How one purpose (the domains' own records, or DNSBL list queries) resolves names. */
export interface DnsResolverConfig {
  /** `host` or `host:port`; `['system']` means the nameservers of /etc/resolv.conf (over UDP). */
  servers: string[];
  protocol: 'https' | 'http' | 'udp' | 'tcp';
  timeoutMs: number;
  attempts: number;
  /** PEM file of extra CAs trusted for a private DoH resolver. */
  caFile?: string;
}

export type Role = 'all' | 'api' | 'worker';
export type UiAuth = 'open' | 'token';

export interface Limits {
  /** MX hosts checked per domain; more raise MX_TOO_MANY_TARGETS. */
  maxMxHosts: number;
  /** Distinct addresses checked per domain. */
  maxAddresses: number;
  /** SMTP connections open at once, across all checks (manual and scheduled). */
  maxConnections: number;
  /** Manual checks allowed to wait; beyond that the API answers 429. */
  manualQueue: number;
}

export interface AppConfig {
  /** unset: embedded PGlite in dataDir */
  databaseUrl: string | undefined;
  dataDir: string;
  port: number;
  host: string;
  /** The YAML file in use, if any. */
  configFile: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** Base URL used in links sent to operators (notifications). */
  publicUrl: string;
  apiToken: string | undefined;
  /** Resolver for the monitored domains' own records. */
  dns: DnsResolverConfig;
  /** Resolver for DNSBL list queries; defaults to the same as `dns`. */
  dnsblDns: DnsResolverConfig;
  /**
   * Whether the DNSBL resolver is shared by many clients, which lists such as Spamhaus refuse:
   * `auto` when its address is a known public resolver's, `true` whatever its address, `false` never.
   */
  dnsblResolverShared: 'auto' | boolean;
  /** Spamhaus Data Query Service key: a secret, never logged or shown. */
  spamhausDqsKey?: string;
  /** A name whose DNSSEC validates and one that must fail validation, to tell whether the resolver validates. */
  dnssecCanary: { signed: string; broken: string };
  /** `api`: serves HTTP only; `worker`: runs checks only; `all`: both in one process. */
  role: Role;
  /** Redis for the shared check queue (scale-out); unset: in-process. */
  redisUrl?: string;
  /** Emit per-domain metric series (turn off for very large fleets). */
  metricsPerDomain: boolean;
  /** When set, required (Bearer) on the API's GET routes; the API token also grants reads. */
  readToken?: string;
  /** Allow a non-loopback HOST without MXWATCH_API_TOKEN. */
  insecureNoToken: boolean;
  /** Whether the HTML pages need a token (`token`) or are open (`open`). */
  uiAuth: UiAuth;
  limits: Limits;
  /** How long a notification keeps being retried before it is given up. */
  notifyRetryHours: number;
  /** MXWATCH_DB_DEBUG: the database engine's own trace on stderr. */
  dbDebug: boolean;
  /** NODE_EXTRA_CA_CERTS as Node read it at start: the TLS code counts its roots as trusted too. */
  nodeExtraCaCerts?: string;
  dnsblZones: string[];
  /** MXWATCH_PROBES: the probes to run (and what they need); empty: every registered probe. */
  probes: string[];
  smtpPorts: number[];
  /** test/dev only: probed port -> port really dialled */
  portMap: Map<number, number>;
  allowPrivateTargets: string | undefined;
  checkIntervalSeconds: number;
  /** Deadline of one whole check of one domain. */
  checkTimeoutSeconds: number;
  smtpConnectTimeoutMs: number;
  smtpReplyTimeoutMs: number;
  slowBannerMs: number;
  ehloName: string;
  scheduler: boolean;
  /** How often the scheduler looks for due domains. */
  schedulerTickSeconds: number;
  /** Checks running at once, and connections at once to one address. */
  checkConcurrency: number;
  retentionDays: number;
  alertAfter: number;
  certWarnDays: number;
  notifications: ChannelConfig[];
  /** null: no YAML `domains:` section, so the file does not manage domains. */
  domains: DomainSpec[] | null;
}
