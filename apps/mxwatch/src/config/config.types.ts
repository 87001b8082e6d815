import type { ChannelConfig } from '../notifications/notification.types.js';

/** A domain as declared in the YAML file (validated with the same rules as the REST API). */
export interface DomainSpec {
  name: string;
  intervalSeconds?: number | null;
  submissionHosts?: string[];
  sendingIps?: string[];
  labels?: Record<string, string>;
  enabled?: boolean;
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
  dns: {
    servers: string[];
    protocol: 'https' | 'http';
    timeoutMs: number;
    attempts: number;
  };
  dnsblZones: string[];
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
