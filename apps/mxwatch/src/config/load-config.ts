import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ChannelConfigError, validateChannelConfigs } from '../notifications/notifiers/notifier-factory.js';
import type { ChannelConfig } from '../notifications/notification.types.js';
import { DomainInputDto } from '../api/domain.dto.js';
import { resolveZoneConfig } from '../probes/dnsbl/dnsbl-zones.js';
import { parseCidrList } from '../transport/net/address-policy.js';
import { parsePortMap } from '../transport/net/net-dialer.js';
import { ConfigError } from './config-error.js';
import type { AppConfig, DomainSpec } from './config.types.js';

type Raw = string | number | boolean | unknown[] | Record<string, unknown> | null;

/** Thrown by a parser; the loader prefixes the variable or YAML path. */
class Invalid extends Error {}

const int = (min: number, max: number) => (raw: Raw): number => {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n)) throw new Invalid(`must be a whole number, got ${JSON.stringify(raw)}`);
  if (n < min || n > max) throw new Invalid(`must be between ${min} and ${max}, got ${n}`);
  return n;
};

const bool = (raw: Raw): boolean => {
  if (typeof raw === 'boolean') return raw;
  const s = String(raw).trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  throw new Invalid(`must be true or false, got ${JSON.stringify(raw)}`);
};

const str = (raw: Raw): string => {
  if (typeof raw !== 'string' && typeof raw !== 'number') throw new Invalid(`must be a string, got ${JSON.stringify(raw)}`);
  const s = String(raw).trim();
  if (!s) throw new Invalid('must not be empty');
  return s;
};

/** A comma list in env, a list (or comma string) in YAML. */
const list = (raw: Raw): string[] => {
  const items = Array.isArray(raw) ? raw.map((x) => String(x)) : String(raw).split(',');
  return items.map((s) => s.trim()).filter(Boolean);
};

const oneOf = <T extends string>(...values: T[]) => (raw: Raw): T => {
  const s = String(raw).trim().toLowerCase() as T;
  if (!values.includes(s)) throw new Invalid(`must be one of ${values.join(', ')}, got ${JSON.stringify(raw)}`);
  return s;
};

const hostPort = (raw: string): string => {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(raw);
  if (!m || (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535))) {
    throw new Invalid(`"${raw}" is not host or host:port`);
  }
  return raw;
};

const url = (protocols: string[]) => (raw: Raw): string => {
  const s = str(raw);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Invalid(`must be a URL, got ${JSON.stringify(s)}`);
  }
  if (!protocols.includes(u.protocol)) throw new Invalid(`must be a ${protocols.join(' or ')} URL, got ${u.protocol}`);
  return s;
};

const ports = (raw: Raw): number[] => {
  const out = list(raw).map((p) => int(1, 65535)(p));
  if (out.length === 0) throw new Invalid('must list at least one port');
  return [...new Set(out)];
};

interface Setting<K extends keyof AppConfig> {
  key: K;
  env: string;
  yaml: string;
  parse: (raw: Raw) => AppConfig[K];
  fallback: () => AppConfig[K];
}

function setting<K extends keyof AppConfig>(
  key: K,
  env: string,
  yaml: string,
  parse: (raw: Raw) => AppConfig[K],
  fallback: () => AppConfig[K],
): Setting<K> {
  return { key, env, yaml, parse, fallback };
}

/** The one table of settings: environment variable, YAML key under `settings:`, parser, default. */
const SETTINGS = [
  setting('databaseUrl', 'DATABASE_URL', 'databaseUrl', url(['postgresql:', 'postgres:']), () => undefined),
  setting('dataDir', 'MXWATCH_DATA_DIR', 'dataDir', str, () => './data'),
  setting('port', 'PORT', 'port', int(0, 65535), () => 3000),
  setting('host', 'HOST', 'host', str, () => '0.0.0.0'),
  setting('logLevel', 'MXWATCH_LOG_LEVEL', 'logLevel', oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace'), () => 'info' as const),
  setting('publicUrl', 'MXWATCH_PUBLIC_URL', 'publicUrl', url(['http:', 'https:']), () => ''),
  setting('apiToken', 'MXWATCH_API_TOKEN', 'apiToken', (raw) => {
    const s = str(raw);
    if (s.length < 16) throw new Invalid('must be at least 16 characters long');
    return s;
  }, () => undefined),
  setting('dnsblZones', 'MXWATCH_DNSBL_ZONES', 'dnsblZones', (raw) => {
    const zones = list(raw);
    try {
      resolveZoneConfig(zones);
    } catch (e) {
      throw new Invalid((e as Error).message);
    }
    return zones;
  }, () => resolveDefaultZones()),
  setting('smtpPorts', 'MXWATCH_SMTP_PORTS', 'smtpPorts', ports, () => [25, 587, 465]),
  setting('portMap', 'MXWATCH_PORT_MAP', 'portMap', (raw) => {
    try {
      return parsePortMap(Array.isArray(raw) ? raw.join(',') : String(raw));
    } catch (e) {
      throw new Invalid((e as Error).message);
    }
  }, () => new Map()),
  setting('allowPrivateTargets', 'MXWATCH_ALLOW_PRIVATE_TARGETS', 'allowPrivateTargets', (raw) => {
    const s = list(raw).join(',');
    try {
      parseCidrList(s);
    } catch (e) {
      throw new Invalid((e as Error).message);
    }
    return s;
  }, () => undefined),
  setting('checkIntervalSeconds', 'MXWATCH_CHECK_INTERVAL', 'checkInterval', int(10, 604800), () => 300),
  setting('checkTimeoutSeconds', 'MXWATCH_CHECK_TIMEOUT', 'checkTimeout', int(1, 600), () => 60),
  setting('smtpConnectTimeoutMs', 'MXWATCH_SMTP_CONNECT_TIMEOUT_MS', 'smtpConnectTimeoutMs', int(100, 120000), () => 10000),
  setting('smtpReplyTimeoutMs', 'MXWATCH_SMTP_REPLY_TIMEOUT_MS', 'smtpReplyTimeoutMs', int(100, 600000), () => 30000),
  setting('slowBannerMs', 'MXWATCH_SLOW_BANNER_MS', 'slowBannerMs', int(1, 600000), () => 10000),
  setting('ehloName', 'MXWATCH_EHLO_NAME', 'ehloName', str, () => 'mxwatch.invalid'),
  setting('scheduler', 'MXWATCH_SCHEDULER', 'scheduler', bool, () => true),
  setting('schedulerTickSeconds', 'MXWATCH_SCHEDULER_TICK', 'schedulerTick', int(1, 3600), () => 10),
  setting('checkConcurrency', 'MXWATCH_CHECK_CONCURRENCY', 'checkConcurrency', int(1, 10000), () => 50),
  setting('retentionDays', 'MXWATCH_RETENTION_DAYS', 'retentionDays', int(1, 36500), () => 90),
  setting('alertAfter', 'MXWATCH_ALERT_AFTER', 'alertAfter', int(1, 100), () => 2),
  setting('certWarnDays', 'MXWATCH_CERT_WARN_DAYS', 'certWarnDays', int(0, 3650), () => 14),
  setting('spamhausDqsKey', 'MXWATCH_SPAMHAUS_DQS_KEY', 'spamhausDqsKey', (raw) => {
    const s = str(raw);
    // The key becomes a DNS label (<key>.zen.dq.spamhaus.net); never echo it in a message.
    if (!/^[A-Za-z0-9]{1,63}$/.test(s)) throw new Invalid('must be letters and digits only (the key Spamhaus gave you)');
    return s;
  }, () => undefined),
  setting('dnssecCanary', 'MXWATCH_DNSSEC_CANARY', 'dnssecCanary', (raw) => {
    const parts = list(raw);
    if (parts.length !== 2) throw new Invalid(`must be "<signed name>,<broken name>", got ${JSON.stringify(raw)}`);
    return { signed: parts[0].toLowerCase(), broken: parts[1].toLowerCase() };
  }, () => ({ signed: '.', broken: 'dnssec-failed.org' })),
  setting('role', 'MXWATCH_ROLE', 'role', oneOf('all', 'api', 'worker'), () => 'all' as const),
  setting('redisUrl', 'MXWATCH_REDIS_URL', 'redisUrl', url(['redis:', 'rediss:']), () => undefined),
  setting('metricsPerDomain', 'MXWATCH_METRICS_PER_DOMAIN', 'metricsPerDomain', bool, () => true),
  setting('readToken', 'MXWATCH_READ_TOKEN', 'readToken', (raw) => {
    const s = str(raw);
    if (s.length < 16) throw new Invalid('must be at least 16 characters long');
    return s;
  }, () => undefined),
  setting('insecureNoToken', 'MXWATCH_INSECURE_NO_TOKEN', 'insecureNoToken', bool, () => false),
  setting('uiAuth', 'MXWATCH_UI_AUTH', 'uiAuth', oneOf('open', 'token'), () => 'open' as const),
  setting('notifyRetryHours', 'MXWATCH_NOTIFY_RETRY_HOURS', 'notifyRetryHours', int(1, 720), () => 24),
];

const LIMIT_KEYS = {
  maxMxHosts: { env: 'MXWATCH_MAX_MX_HOSTS', yaml: 'maxMxHosts', min: 1, max: 1000, fallback: 10 },
  maxAddresses: { env: 'MXWATCH_MAX_ADDRESSES', yaml: 'maxAddresses', min: 1, max: 10000, fallback: 32 },
  maxConnections: { env: 'MXWATCH_MAX_CONNECTIONS', yaml: 'maxConnections', min: 1, max: 100000, fallback: 100 },
  manualQueue: { env: 'MXWATCH_MANUAL_QUEUE', yaml: 'manualQueue', min: 0, max: 100000, fallback: 20 },
} as const;

function resolveDefaultZones(): string[] {
  return resolveZoneConfig([]).map((z) => z.zone);
}

const DNS_KEYS = {
  servers: { env: 'MXWATCH_DNS_SERVERS', yaml: 'dnsServers' },
  protocol: { env: 'MXWATCH_DNS_PROTOCOL', yaml: 'dnsProtocol' },
  timeoutMs: { env: 'MXWATCH_DNS_TIMEOUT_MS', yaml: 'dnsTimeoutMs' },
  attempts: { env: 'MXWATCH_DNS_ATTEMPTS', yaml: 'dnsAttempts' },
  caFile: { env: 'MXWATCH_DNS_CA_FILE', yaml: 'dnsCaFile' },
} as const;

const DNSBL_DNS_KEYS = {
  servers: { env: 'MXWATCH_DNSBL_DNS_SERVERS', yaml: 'dnsblDnsServers' },
  protocol: { env: 'MXWATCH_DNSBL_DNS_PROTOCOL', yaml: 'dnsblDnsProtocol' },
} as const;

const WEBHOOK_KEYS = { url: { env: 'MXWATCH_WEBHOOK_URL', yaml: 'webhookUrl' }, secret: { env: 'MXWATCH_WEBHOOK_SECRET', yaml: 'webhookSecret' } };

const KNOWN_SETTINGS = new Set<string>([
  ...SETTINGS.map((s) => s.yaml),
  ...Object.values(DNS_KEYS).map((k) => k.yaml),
  ...Object.values(DNSBL_DNS_KEYS).map((k) => k.yaml),
  ...Object.values(LIMIT_KEYS).map((k) => k.yaml),
  ...Object.values(WEBHOOK_KEYS).map((k) => k.yaml),
]);

const TOP_LEVEL = new Set(['settings', 'domains', 'notifications']);

export interface LoadConfigOptions {
  env: Record<string, string | undefined>;
  cwd?: string;
}

/**
 * Reads and validates the whole configuration once: env over the YAML file's `settings:`,
 * then defaults. Collects every problem before failing, each naming its variable or path.
 */
export function loadConfig({ env, cwd = process.cwd() }: LoadConfigOptions): AppConfig {
  const problems: string[] = [];
  const { file, doc } = readYaml(env, cwd, problems);
  const where = file ? path.basename(file) : 'config';
  const settings = asRecord(doc?.settings, `${where}: settings`, problems) ?? {};
  for (const key of Object.keys(doc ?? {})) {
    if (!TOP_LEVEL.has(key)) problems.push(`${where}: ${key}: unknown section (expected one of ${[...TOP_LEVEL].join(', ')})`);
  }
  for (const key of Object.keys(settings)) {
    if (!KNOWN_SETTINGS.has(key)) problems.push(`${where}: settings.${key}: unknown setting`);
  }

  const pick = <T>(envName: string, yamlKey: string, parse: (raw: Raw) => T, fallback: () => T): T => {
    const fromEnv = env[envName];
    const [raw, label] =
      fromEnv !== undefined && fromEnv !== ''
        ? [fromEnv as Raw, envName]
        : settings[yamlKey] !== undefined && settings[yamlKey] !== null
          ? [settings[yamlKey] as Raw, `${where}: settings.${yamlKey}`]
          : [undefined, ''];
    if (raw === undefined) return fallback();
    try {
      return parse(raw);
    } catch (e) {
      if (e instanceof Invalid) {
        problems.push(`${label}: ${e.message}`);
        return fallback();
      }
      throw e;
    }
  };

  const out: Partial<AppConfig> = {};
  for (const s of SETTINGS) {
    (out as Record<string, unknown>)[s.key] = pick(s.env, s.yaml, s.parse as (raw: Raw) => unknown, s.fallback);
  }

  const servers = (raw: Raw): string[] => {
    const items = list(raw);
    if (items.length === 1 && items[0].toLowerCase() === 'system') return ['system'];
    const out = items.map(hostPort);
    if (out.length === 0) throw new Invalid('must list at least one server');
    return out;
  };
  const protocol = oneOf('https', 'http', 'udp', 'tcp');
  const caFile = pick(DNS_KEYS.caFile.env, DNS_KEYS.caFile.yaml, (raw) => {
    const f = path.resolve(cwd, str(raw));
    try {
      accessSync(f, constants.R_OK);
    } catch {
      throw new Invalid(`file ${f} does not exist or is not readable`);
    }
    return f;
  }, () => undefined as string | undefined);
  out.dns = {
    servers: pick(DNS_KEYS.servers.env, DNS_KEYS.servers.yaml, servers, () => ['1.1.1.1', '1.0.0.1']),
    protocol: pick(DNS_KEYS.protocol.env, DNS_KEYS.protocol.yaml, protocol, () => 'https' as const),
    timeoutMs: pick(DNS_KEYS.timeoutMs.env, DNS_KEYS.timeoutMs.yaml, int(50, 60000), () => 3000),
    attempts: pick(DNS_KEYS.attempts.env, DNS_KEYS.attempts.yaml, int(1, 10), () => 3),
    ...(caFile ? { caFile } : {}),
  };
  out.dnsblDns = {
    ...out.dns,
    servers: pick(DNSBL_DNS_KEYS.servers.env, DNSBL_DNS_KEYS.servers.yaml, servers, () => out.dns!.servers),
    protocol: pick(DNSBL_DNS_KEYS.protocol.env, DNSBL_DNS_KEYS.protocol.yaml, protocol, () => out.dns!.protocol),
  };
  out.limits = {
    maxMxHosts: pick(LIMIT_KEYS.maxMxHosts.env, LIMIT_KEYS.maxMxHosts.yaml, int(LIMIT_KEYS.maxMxHosts.min, LIMIT_KEYS.maxMxHosts.max), () => LIMIT_KEYS.maxMxHosts.fallback),
    maxAddresses: pick(LIMIT_KEYS.maxAddresses.env, LIMIT_KEYS.maxAddresses.yaml, int(LIMIT_KEYS.maxAddresses.min, LIMIT_KEYS.maxAddresses.max), () => LIMIT_KEYS.maxAddresses.fallback),
    maxConnections: pick(LIMIT_KEYS.maxConnections.env, LIMIT_KEYS.maxConnections.yaml, int(LIMIT_KEYS.maxConnections.min, LIMIT_KEYS.maxConnections.max), () => LIMIT_KEYS.maxConnections.fallback),
    manualQueue: pick(LIMIT_KEYS.manualQueue.env, LIMIT_KEYS.manualQueue.yaml, int(LIMIT_KEYS.manualQueue.min, LIMIT_KEYS.manualQueue.max), () => LIMIT_KEYS.manualQueue.fallback),
  };

  out.configFile = file;
  out.notifications = readNotifications(doc, where, problems);
  const webhookUrl = pick(WEBHOOK_KEYS.url.env, WEBHOOK_KEYS.url.yaml, url(['http:', 'https:']), () => undefined as string | undefined);
  const webhookSecret = pick(WEBHOOK_KEYS.secret.env, WEBHOOK_KEYS.secret.yaml, str, () => undefined as string | undefined);
  if (webhookSecret && !webhookUrl) problems.push(`${WEBHOOK_KEYS.secret.env}: is set but ${WEBHOOK_KEYS.url.env} is not`);
  if (webhookUrl) {
    out.notifications.push({ type: 'webhook', name: 'env-webhook', url: webhookUrl, ...(webhookSecret ? { secret: webhookSecret } : {}) });
  }
  out.domains = readDomains(doc, where, problems);
  if (!out.publicUrl) {
    const h = out.host === '0.0.0.0' || out.host === '::' ? 'localhost' : out.host;
    out.publicUrl = `http://${h}:${out.port}`;
  }
  out.publicUrl = out.publicUrl!.replace(/\/+$/, '');

  if (problems.length > 0) throw new ConfigError(problems);
  return out as AppConfig;
}

function readYaml(env: LoadConfigOptions['env'], cwd: string, problems: string[]): { file?: string; doc?: Record<string, unknown> } {
  const named = env.MXWATCH_CONFIG;
  const file = named ? path.resolve(cwd, named) : path.resolve(cwd, 'mxwatch.yml');
  if (!existsSync(file)) {
    if (named) problems.push(`MXWATCH_CONFIG: file ${file} does not exist`);
    return {};
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    problems.push(`MXWATCH_CONFIG: cannot read ${file}: ${(e as Error).message}`);
    return {};
  }
  try {
    const doc = parseYaml(text, { uniqueKeys: true }) as unknown;
    if (doc === null || doc === undefined) return { file, doc: {} };
    if (typeof doc !== 'object' || Array.isArray(doc)) {
      problems.push(`${path.basename(file)}: the top level must be a mapping with settings/domains/notifications`);
      return { file };
    }
    return { file, doc: doc as Record<string, unknown> };
  } catch (e) {
    const msg = e instanceof YAMLParseError ? e.message.split('\n')[0] : (e as Error).message;
    problems.push(`${path.basename(file)}: not valid YAML: ${msg}`);
    return { file };
  }
}

function asRecord(v: unknown, label: string, problems: string[]): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) {
    problems.push(`${label}: must be a mapping`);
    return undefined;
  }
  return v as Record<string, unknown>;
}

function readNotifications(doc: Record<string, unknown> | undefined, where: string, problems: string[]): ChannelConfig[] {
  try {
    return validateChannelConfigs(doc?.notifications, 'notifications');
  } catch (e) {
    if (e instanceof ChannelConfigError) {
      problems.push(...e.issues.map((issue) => `${where}: ${issue}`));
      return [];
    }
    throw e;
  }
}

function flattenErrors(errors: ValidationError[], prefix: string): string[] {
  return errors.flatMap((e) => {
    const p = `${prefix}.${e.property}`;
    const own = Object.values(e.constraints ?? {}).map((m) => `${p}: ${m.startsWith(`${e.property}: `) ? m.slice(e.property.length + 2) : m}`);
    return [...own, ...flattenErrors(e.children ?? [], p)];
  });
}

function readDomains(doc: Record<string, unknown> | undefined, where: string, problems: string[]): DomainSpec[] | null {
  if (!doc || !('domains' in doc)) return null;
  const raw = doc.domains;
  if (raw === null) return [];
  if (!Array.isArray(raw)) {
    problems.push(`${where}: domains: must be a list`);
    return null;
  }
  const out: DomainSpec[] = [];
  raw.forEach((item, i) => {
    const entry = typeof item === 'string' ? { name: item } : item;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${where}: domains[${i}]: must be a domain name or a mapping with name`);
      return;
    }
    const { dkimSelectors: rawSelectors, ...rest } = entry as Record<string, unknown>;
    const selectorProblems = rawSelectors === undefined ? [] : dkimSelectorProblems(rawSelectors);
    problems.push(...selectorProblems.map((m) => `${where}: domains[${i}].dkimSelectors: ${m}`));
    const dto = plainToInstance(DomainInputDto, rest);
    const errors = validateSync(dto, { whitelist: true, forbidNonWhitelisted: true });
    if (errors.length > 0) {
      problems.push(...flattenErrors(errors, `domains[${i}]`).map((m) => `${where}: ${m}`));
      return;
    }
    if (selectorProblems.length > 0) return;
    const spec: DomainSpec = { ...dto.toSpec(), dkimSelectors: [...new Set(((rawSelectors ?? []) as string[]).map((x) => x.toLowerCase()))] };
    const previous = out.find((d) => d.name === spec.name);
    if (previous) {
      if (!isDeepStrictEqual(previous, spec)) problems.push(`${where}: domains[${i}].name: ${spec.name} is listed twice`);
      return;
    }
    out.push(spec);
  });
  return out;
}

/** RFC 6376 §3.1: a selector is one or more LDH labels (`s1`, `2024.brand`). */
function dkimSelectorProblems(raw: unknown): string[] {
  if (!Array.isArray(raw)) return ['must be a list of selectors'];
  if (raw.length > 50) return ['at most 50 selectors'];
  return raw.flatMap((sel, j) => {
    if (typeof sel !== 'string') return [`[${j}] must be a string`];
    const labels = sel.split('.');
    const bad = labels.find((l) => !/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
    return bad === undefined && sel.length <= 200 ? [] : [`[${j}]: "${sel}" is not a DKIM selector (DNS labels of letters, digits and hyphens)`];
  });
}
