import type { AppConfig, DnsResolverConfig } from './config.types.js';

/**
 * What the service will use, as one start-up log line: the resolver per purpose, the DNSBL zones
 * and the ports probed. Secrets appear only as on/off (the DQS key, tokens, database password).
 */
export function configSummary(config: AppConfig) {
  const resolver = (r: DnsResolverConfig) => ({
    protocol: r.protocol,
    servers: r.servers,
    timeoutMs: r.timeoutMs,
    attempts: r.attempts,
    ...(r.caFile ? { caFile: r.caFile } : {}),
  });
  return {
    msg: 'effective configuration',
    role: config.role,
    listen: `${config.host}:${config.port}`,
    database: config.databaseUrl ? 'postgres' : 'pglite',
    configFile: config.configFile ?? null,
    resolvers: {
      domains: resolver(config.dns),
      dnsbl: { ...resolver(config.dnsblDns), shared: config.dnsblResolverShared, spamhausDqs: config.spamhausDqsKey ? 'on' : 'off' },
    },
    dnsblZones: config.dnsblZones,
    dnssecCanary: config.dnssecCanary,
    smtpPorts: config.smtpPorts,
    ...(config.portMap.size > 0 ? { portMap: Object.fromEntries(config.portMap) } : {}),
    limits: config.limits,
    auth: {
      apiToken: config.apiToken ? 'on' : 'off',
      readToken: config.readToken ? 'on' : 'off',
      ui: config.uiAuth,
    },
    queue: config.redisUrl ? 'redis' : 'in-process',
  };
}
