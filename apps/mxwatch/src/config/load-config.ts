import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { closestName } from './closest-name.js';
import { formatIssues } from './config-issues.js';
import { ConfigError } from './config-error.js';
import type { AppConfig, DnsResolverConfig } from './config.types.js';
import { parseDomains } from './domain-spec.schema.js';
import { parseChannels } from './notification-channels.js';
import { isLoopbackHost } from './setting-schemas.js';
import { KNOWN_VARIABLES, KNOWN_YAML_SETTINGS, SETTINGS, type SettingName, type SettingValues } from './settings.js';

const TOP_LEVEL = ['settings', 'domains', 'notifications'];

/** Variables of the test harness, not of the service; a developer's shell may well carry them. */
const IGNORED_PREFIX = 'MXWATCH_TEST_';

/**
 * What a feature knows about one of its settings and config/ must not (config imports no feature
 * folder): the composition root passes these in. `check` returns a problem in the same words as
 * the built-in checks, or null; `fallback` is the default when neither source sets the value.
 */
export interface SettingExtension<K extends keyof AppConfig = keyof AppConfig> {
  key: K;
  check?(value: AppConfig[K]): string | null;
  fallback?(): AppConfig[K];
}

export interface LoadConfigOptions {
  env: Record<string, string | undefined>;
  cwd?: string;
  extensions?: readonly SettingExtension[];
}

/**
 * Reads and validates the whole configuration once: env over the YAML file's `settings:`,
 * then defaults. Collects every problem before failing, each naming its variable or path.
 */
export function loadConfig({ env, cwd = process.cwd(), extensions = [] }: LoadConfigOptions): AppConfig {
  const problems: string[] = [];
  const { file, doc } = readYaml(env, cwd, problems);
  const where = file ? path.basename(file) : 'config';
  const settings = asRecord(doc?.settings, `${where}: settings`, problems) ?? {};
  for (const key of Object.keys(doc ?? {})) {
    if (!TOP_LEVEL.includes(key)) problems.push(`${where}: ${key}: unknown section (expected one of ${TOP_LEVEL.join(', ')})`);
  }
  for (const key of Object.keys(settings)) {
    if (!KNOWN_YAML_SETTINGS.includes(key)) problems.push(`${where}: settings.${key}: unknown setting${hint(yamlSuggestion(key))}`);
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('MXWATCH_') && !name.startsWith(IGNORED_PREFIX) && !KNOWN_VARIABLES.includes(name)) {
      problems.push(`${name}: unknown variable${hint(closestName(name, KNOWN_VARIABLES))}`);
    }
  }

  const values = {} as Record<SettingName, unknown>;
  /** Where each value came from (variable or YAML path), for problems found across settings. */
  const origin = {} as Record<SettingName, string | undefined>;
  for (const [name, row] of Object.entries(SETTINGS) as [SettingName, (typeof SETTINGS)[SettingName]][]) {
    const fromEnv = env[row.env];
    const yamlKey = 'yaml' in row ? row.yaml : undefined;
    const fromYaml = yamlKey === undefined ? undefined : settings[yamlKey];
    let raw: unknown;
    let label: string | undefined;
    // An empty variable is unset (compose's `${X:-}`), except for lists, where it is a mistake.
    if (fromEnv !== undefined && (fromEnv.trim() !== '' || ('list' in row && row.list))) [raw, label] = [fromEnv, row.env];
    else if (fromYaml !== undefined && fromYaml !== null) [raw, label] = [fromYaml, `${where}: settings.${yamlKey}`];
    // A copy: the defaults are module-level arrays and maps, and a caller may change its config.
    values[name] = structuredClone(row.fallback);
    if (label === undefined) continue;
    const schema = typeof row.schema === 'function' ? row.schema(cwd) : row.schema;
    const parsed = schema.safeParse(raw);
    if (parsed.success) {
      values[name] = parsed.data;
      origin[name] = label;
    } else {
      // A setting's messages quote the offending item, so the index inside a list adds nothing.
      const issues = parsed.error.issues.map((i) => ({ ...i, path: [], message: 'secret' in row && row.secret ? withoutValue(i.message) : i.message }));
      problems.push(...formatIssues(issues, label));
    }
  }
  const v = values as SettingValues;
  const at = (name: SettingName) => origin[name] ?? SETTINGS[name].env;

  const resolver = (serversName: SettingName, protocolName: SettingName, fallbackProtocol: DnsResolverConfig['protocol']) => {
    const servers = (v[serversName] as string[] | undefined) ?? v.dnsServers;
    const system = servers.length === 1 && servers[0] === 'system';
    const protocol = (v[protocolName] as DnsResolverConfig['protocol'] | undefined) ?? (system ? 'udp' : fallbackProtocol);
    if (system && (protocol === 'https' || protocol === 'http')) {
      problems.push(`${at(protocolName)}: ${protocol} cannot be used with the "system" servers (the nameservers of /etc/resolv.conf answer plain DNS): use udp or tcp`);
    }
    return { servers, protocol };
  };
  const domainResolver = resolver('dnsServers', 'dnsProtocol', 'https');
  const dns: DnsResolverConfig = {
    ...domainResolver,
    timeoutMs: v.dnsTimeoutMs,
    attempts: v.dnsAttempts,
    ...(v.dnsCaFile ? { caFile: v.dnsCaFile } : {}),
  };
  const dnsblDns: DnsResolverConfig = { ...dns, ...resolver('dnsblDnsServers', 'dnsblDnsProtocol', domainResolver.protocol) };
  if (v.dnsCaFile && dns.protocol !== 'https' && dnsblDns.protocol !== 'https') {
    problems.push(`${at('dnsCaFile')}: only applies to DNS over HTTPS, and neither resolver uses https`);
  }

  if (v.webhookSecret && !v.webhookUrl) problems.push(`${at('webhookSecret')}: is set but ${SETTINGS.webhookUrl.env} is not`);
  if (v.readToken && !v.apiToken) {
    problems.push(`${at('readToken')}: is set but ${SETTINGS.apiToken.env} is not, which would leave changes open while reads need a token`);
  }
  if (v.uiAuth === 'token' && !v.readToken && !v.apiToken) {
    problems.push(`${at('uiAuth')}: is token but neither ${SETTINGS.readToken.env} nor ${SETTINGS.apiToken.env} is set`);
  }
  if (!isLoopbackHost(v.host) && !v.apiToken && !v.insecureNoToken) {
    problems.push(
      `${at('host')}: ${v.host} is reachable from the network, and without ${SETTINGS.apiToken.env} anyone who can reach it can change domains ` +
        `and send notifications: set ${SETTINGS.apiToken.env} (16+ characters), or ${SETTINGS.insecureNoToken.env}=true to accept that`,
    );
  }

  const notifications = collect(parseChannels(doc?.notifications, 'notifications'), where, problems) ?? [];
  if (v.webhookUrl) {
    notifications.push({ type: 'webhook', name: 'env-webhook', url: v.webhookUrl, ...(v.webhookSecret ? { secret: v.webhookSecret } : {}) });
  }
  const domains = doc && 'domains' in doc ? (collect(parseDomains(doc.domains, 'domains'), where, problems) ?? null) : null;

  const config: AppConfig = {
    databaseUrl: v.databaseUrl,
    dataDir: v.dataDir,
    port: v.port,
    host: v.host,
    configFile: file,
    logLevel: v.logLevel,
    publicUrl: (v.publicUrl ?? defaultPublicUrl(v.host, v.port)).replace(/\/+$/, ''),
    apiToken: v.apiToken,
    readToken: v.readToken,
    insecureNoToken: v.insecureNoToken,
    uiAuth: v.uiAuth,
    role: v.role,
    redisUrl: v.redisUrl,
    dns,
    dnsblDns,
    dnsblResolverShared: v.dnsblResolverShared,
    spamhausDqsKey: v.spamhausDqsKey,
    dnssecCanary: v.dnssecCanary,
    dnsblZones: v.dnsblZones ?? [],
    probes: v.probes,
    smtpPorts: v.smtpPorts,
    portMap: v.portMap,
    allowPrivateTargets: v.allowPrivateTargets,
    checkIntervalSeconds: v.checkIntervalSeconds,
    checkTimeoutSeconds: v.checkTimeoutSeconds,
    smtpConnectTimeoutMs: v.smtpConnectTimeoutMs,
    smtpReplyTimeoutMs: v.smtpReplyTimeoutMs,
    slowBannerMs: v.slowBannerMs,
    ehloName: v.ehloName,
    scheduler: v.scheduler,
    schedulerTickSeconds: v.schedulerTickSeconds,
    checkConcurrency: v.checkConcurrency,
    limits: { maxMxHosts: v.maxMxHosts, maxAddresses: v.maxAddresses, maxConnections: v.maxConnections, manualQueue: v.manualQueue },
    retentionDays: v.retentionDays,
    alertAfter: v.alertAfter,
    certWarnDays: v.certWarnDays,
    metricsPerDomain: v.metricsPerDomain,
    notifyRetryHours: v.notifyRetryHours,
    dbDebug: v.dbDebug,
    nodeExtraCaCerts: v.nodeExtraCaCerts,
    notifications,
    domains,
  };

  for (const ext of extensions) {
    const name = ext.key as SettingName;
    const given = origin[name] !== undefined;
    if (!given && ext.fallback) (config as unknown as Record<string, unknown>)[ext.key] = ext.fallback();
    const problem = given && ext.check ? ext.check(config[ext.key] as never) : null;
    if (problem) problems.push(`${at(name)}: ${problem}`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * A secret's message keeps what is wrong and drops the value given (`…, got "…"`, a YAML list or
 * mapping); a URL's scheme (`got mysql:`) is kept, it is no secret.
 */
function withoutValue(message: string): string {
  return message.replace(/, got ["[{].*$/s, '');
}

function hint(name: string | undefined): string {
  return name ? `; did you mean ${name}?` : '';
}

/** `MXWATCH_CHECK_INTERVAL:` written under `settings:` means `checkInterval`. */
function yamlSuggestion(key: string): string | undefined {
  const byEnv = Object.values(SETTINGS).find((r) => r.env === key.toUpperCase() && 'yaml' in r);
  if (byEnv && 'yaml' in byEnv) return byEnv.yaml;
  return closestName(key, KNOWN_YAML_SETTINGS);
}

function defaultPublicUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

function collect<T>(r: { ok: true; value: T } | { ok: false; problems: string[] }, where: string, problems: string[]): T | undefined {
  if (r.ok) return r.value;
  problems.push(...r.problems.map((p) => `${where}: ${p}`));
  return undefined;
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
