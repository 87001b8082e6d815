/**
 * The one table of settings: environment variable, YAML key under `settings:`, schema, default,
 * and what it means (the README's configuration table says the same; a spec keeps them in step).
 * The environment wins over the YAML file; the file wins over the default.
 */
import { z } from 'zod';
import {
  autoBoolean,
  boolean,
  cidrList,
  dnssecCanary,
  dqsKey,
  ehloName,
  list,
  oneOf,
  portMap,
  ports,
  readableFile,
  servers,
  text,
  token,
  url,
  wholeNumber,
} from './setting-schemas.js';

export interface SettingRow<S extends z.ZodType = z.ZodType, F = z.output<S> | undefined> {
  env: string;
  /** Key under `settings:` in the YAML file; absent for variables only the environment can set. */
  yaml?: string;
  /** A function of the working directory for values that name files. */
  schema: S | ((cwd: string) => S);
  /** Used when neither the environment nor the file sets it; `undefined` when derived or unset. */
  fallback: F;
  /** A list setting: an explicitly empty value is a problem, not the default. */
  list?: boolean;
  /** Never shown: not in messages, not in the start-up log. */
  secret?: boolean;
}

function row<S extends z.ZodType, F extends z.output<S> | undefined>(r: SettingRow<S, F>): SettingRow<S, F> {
  return r;
}

const PROTOCOLS = ['https', 'http', 'udp', 'tcp'] as const;

export const SETTINGS = {
  databaseUrl: row({ env: 'DATABASE_URL', yaml: 'databaseUrl', schema: url(['postgresql:', 'postgres:']), fallback: undefined, secret: true }),
  dataDir: row({ env: 'MXWATCH_DATA_DIR', yaml: 'dataDir', schema: text, fallback: './data' }),
  port: row({ env: 'PORT', yaml: 'port', schema: wholeNumber(0, 65535), fallback: 3000 }),
  // Loopback unless the operator opens it: a fresh install is not reachable by the network.
  host: row({ env: 'HOST', yaml: 'host', schema: text, fallback: '127.0.0.1' }),
  logLevel: row({ env: 'MXWATCH_LOG_LEVEL', yaml: 'logLevel', schema: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace']), fallback: 'info' }),
  publicUrl: row({ env: 'MXWATCH_PUBLIC_URL', yaml: 'publicUrl', schema: url(['http:', 'https:']), fallback: undefined }),
  apiToken: row({ env: 'MXWATCH_API_TOKEN', yaml: 'apiToken', schema: token, fallback: undefined, secret: true }),
  readToken: row({ env: 'MXWATCH_READ_TOKEN', yaml: 'readToken', schema: token, fallback: undefined, secret: true }),
  insecureNoToken: row({ env: 'MXWATCH_INSECURE_NO_TOKEN', yaml: 'insecureNoToken', schema: boolean, fallback: false }),
  uiAuth: row({ env: 'MXWATCH_UI_AUTH', yaml: 'uiAuth', schema: oneOf(['open', 'token']), fallback: 'open' }),
  role: row({ env: 'MXWATCH_ROLE', yaml: 'role', schema: oneOf(['all', 'api', 'worker']), fallback: 'all' }),
  redisUrl: row({ env: 'MXWATCH_REDIS_URL', yaml: 'redisUrl', schema: url(['redis:', 'rediss:']), fallback: undefined, secret: true }),

  dnsServers: row({ env: 'MXWATCH_DNS_SERVERS', yaml: 'dnsServers', schema: servers, fallback: ['1.1.1.1', '1.0.0.1'], list: true }),
  // Derived: `udp` when the servers are `system`, else `https`.
  dnsProtocol: row({ env: 'MXWATCH_DNS_PROTOCOL', yaml: 'dnsProtocol', schema: oneOf(PROTOCOLS), fallback: undefined }),
  dnsTimeoutMs: row({ env: 'MXWATCH_DNS_TIMEOUT_MS', yaml: 'dnsTimeoutMs', schema: wholeNumber(50, 60000), fallback: 3000 }),
  dnsAttempts: row({ env: 'MXWATCH_DNS_ATTEMPTS', yaml: 'dnsAttempts', schema: wholeNumber(1, 10), fallback: 3 }),
  dnsCaFile: row({ env: 'MXWATCH_DNS_CA_FILE', yaml: 'dnsCaFile', schema: readableFile, fallback: undefined }),
  // Derived: the domain resolver's.
  dnsblDnsServers: row({ env: 'MXWATCH_DNSBL_DNS_SERVERS', yaml: 'dnsblDnsServers', schema: servers, fallback: undefined, list: true }),
  dnsblDnsProtocol: row({ env: 'MXWATCH_DNSBL_DNS_PROTOCOL', yaml: 'dnsblDnsProtocol', schema: oneOf(PROTOCOLS), fallback: undefined }),
  // auto: shared when its address is a known public resolver's; true for an ISP's or a company's
  // resolver that many clients share (lists refuse those just the same); false: never presumed.
  dnsblResolverShared: row({ env: 'MXWATCH_DNSBL_RESOLVER_SHARED', yaml: 'dnsblResolverShared', schema: autoBoolean, fallback: 'auto' }),
  spamhausDqsKey: row({ env: 'MXWATCH_SPAMHAUS_DQS_KEY', yaml: 'spamhausDqsKey', schema: dqsKey, fallback: undefined, secret: true }),
  dnssecCanary: row({ env: 'MXWATCH_DNSSEC_CANARY', yaml: 'dnssecCanary', schema: dnssecCanary, fallback: { signed: '.', broken: 'dnssec-failed.org' }, list: true }),
  // Derived: the DNSBL probe's default set (a config extension knows it).
  dnsblZones: row({ env: 'MXWATCH_DNSBL_ZONES', yaml: 'dnsblZones', schema: list(z.string(), 'zone'), fallback: undefined, list: true }),

  // Empty: every registered probe (the names are checked by a config extension that knows them).
  probes: row({ env: 'MXWATCH_PROBES', yaml: 'probes', schema: list(z.string().regex(/^[a-z][a-z0-9-]*$/, 'a probe name (lower case, digits, -)'), 'probe'), fallback: [], list: true }),
  smtpPorts: row({ env: 'MXWATCH_SMTP_PORTS', yaml: 'smtpPorts', schema: ports, fallback: [25, 587, 465], list: true }),
  portMap: row({ env: 'MXWATCH_PORT_MAP', yaml: 'portMap', schema: portMap, fallback: new Map<number, number>(), list: true }),
  allowPrivateTargets: row({ env: 'MXWATCH_ALLOW_PRIVATE_TARGETS', yaml: 'allowPrivateTargets', schema: cidrList, fallback: undefined, list: true }),
  checkIntervalSeconds: row({ env: 'MXWATCH_CHECK_INTERVAL', yaml: 'checkInterval', schema: wholeNumber(10, 604800), fallback: 300 }),
  checkTimeoutSeconds: row({ env: 'MXWATCH_CHECK_TIMEOUT', yaml: 'checkTimeout', schema: wholeNumber(1, 600), fallback: 60 }),
  smtpConnectTimeoutMs: row({ env: 'MXWATCH_SMTP_CONNECT_TIMEOUT_MS', yaml: 'smtpConnectTimeoutMs', schema: wholeNumber(100, 120000), fallback: 10000 }),
  smtpReplyTimeoutMs: row({ env: 'MXWATCH_SMTP_REPLY_TIMEOUT_MS', yaml: 'smtpReplyTimeoutMs', schema: wholeNumber(100, 600000), fallback: 30000 }),
  slowBannerMs: row({ env: 'MXWATCH_SLOW_BANNER_MS', yaml: 'slowBannerMs', schema: wholeNumber(1, 600000), fallback: 10000 }),
  ehloName: row({ env: 'MXWATCH_EHLO_NAME', yaml: 'ehloName', schema: ehloName, fallback: 'mxwatch.invalid' }),
  scheduler: row({ env: 'MXWATCH_SCHEDULER', yaml: 'scheduler', schema: boolean, fallback: true }),
  schedulerTickSeconds: row({ env: 'MXWATCH_SCHEDULER_TICK', yaml: 'schedulerTick', schema: wholeNumber(1, 3600), fallback: 10 }),
  checkConcurrency: row({ env: 'MXWATCH_CHECK_CONCURRENCY', yaml: 'checkConcurrency', schema: wholeNumber(1, 10000), fallback: 50 }),
  maxMxHosts: row({ env: 'MXWATCH_MAX_MX_HOSTS', yaml: 'maxMxHosts', schema: wholeNumber(1, 1000), fallback: 10 }),
  maxAddresses: row({ env: 'MXWATCH_MAX_ADDRESSES', yaml: 'maxAddresses', schema: wholeNumber(1, 10000), fallback: 32 }),
  maxConnections: row({ env: 'MXWATCH_MAX_CONNECTIONS', yaml: 'maxConnections', schema: wholeNumber(1, 100000), fallback: 100 }),
  manualQueue: row({ env: 'MXWATCH_MANUAL_QUEUE', yaml: 'manualQueue', schema: wholeNumber(0, 100000), fallback: 20 }),
  retentionDays: row({ env: 'MXWATCH_RETENTION_DAYS', yaml: 'retentionDays', schema: wholeNumber(1, 36500), fallback: 90 }),
  alertAfter: row({ env: 'MXWATCH_ALERT_AFTER', yaml: 'alertAfter', schema: wholeNumber(1, 100), fallback: 2 }),
  certWarnDays: row({ env: 'MXWATCH_CERT_WARN_DAYS', yaml: 'certWarnDays', schema: wholeNumber(0, 3650), fallback: 14 }),
  metricsPerDomain: row({ env: 'MXWATCH_METRICS_PER_DOMAIN', yaml: 'metricsPerDomain', schema: boolean, fallback: true }),
  notifyRetryHours: row({ env: 'MXWATCH_NOTIFY_RETRY_HOURS', yaml: 'notifyRetryHours', schema: wholeNumber(1, 720), fallback: 24 }),
  webhookUrl: row({ env: 'MXWATCH_WEBHOOK_URL', yaml: 'webhookUrl', schema: url(['http:', 'https:']), fallback: undefined, secret: true }),
  webhookSecret: row({ env: 'MXWATCH_WEBHOOK_SECRET', yaml: 'webhookSecret', schema: text, fallback: undefined, secret: true }),
  dbDebug: row({ env: 'MXWATCH_DB_DEBUG', yaml: 'dbDebug', schema: boolean, fallback: false }),
  // Read by Node itself at start; the TLS code needs the same file to judge certificates (Node 20).
  nodeExtraCaCerts: row({ env: 'NODE_EXTRA_CA_CERTS', schema: text, fallback: undefined }),
} as const;

export type SettingName = keyof typeof SETTINGS;
type RowOf<K extends SettingName> = (typeof SETTINGS)[K];
type SchemaOf<R> = R extends SettingRow<infer S, unknown> ? S : never;
/** A setting's value type; `undefined` only where the table has no default. */
export type SettingValues = { [K in SettingName]: RowOf<K>['fallback'] extends undefined ? z.output<SchemaOf<RowOf<K>>> | undefined : z.output<SchemaOf<RowOf<K>>> };

/** The variables the service reads besides the table's (MXWATCH_CONFIG names the file itself). */
export const OTHER_VARIABLES = ['MXWATCH_CONFIG'] as const;

export const KNOWN_VARIABLES: readonly string[] = [...Object.values(SETTINGS).map((r) => r.env), ...OTHER_VARIABLES];
export const KNOWN_YAML_SETTINGS: readonly string[] = Object.values(SETTINGS).flatMap((r) => ('yaml' in r && r.yaml ? [r.yaml] : []));
