import { setMaxListeners } from 'node:events';
import { Inject, Injectable, Optional, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig, DnsResolverConfig } from '../config/config.types.js';
import { isKnownPublicResolver } from '../transport/dns/public-resolvers.js';
import { createResolver, type ConfiguredResolver } from '../transport/dns/resolver-factory.js';
import { AddressPolicy } from '../transport/net/address-policy.js';
import { NetDialer } from '../transport/net/net-dialer.js';
import type { AddressPolicyLike, ProbeContext, ProbeMemory, ProbeSettings } from '../probes/probe.types.js';
import { ProbeMemoryRepository } from '../storage/probe-memory.repository.js';
import pLimit, { type LimitFunction } from 'p-limit';
import { KeyedLimiter, SharedWork } from './shared-work.js';
import type { ProbeDefinition } from '../probes/probe-definition.js';
import { PROBES, selectProbes } from '../probes/registry.js';
import { FLEET_SHARING, type FleetSharing } from './redis-shared-work.js';

/**
 * An address policy that remembers its answers. The answer is a pure function of the address,
 * and a cycle asks it about the same few provider addresses for thousands of domains (MX
 * probe, SMTP targets, DNSBL subjects, dialer): parsing them every time was ~5% of a check's CPU.
 */
export class MemoizedAddressPolicy implements AddressPolicyLike {
  private readonly answers = new Map<string, string | null>();

  constructor(
    private readonly policy: AddressPolicyLike,
    private readonly maxEntries = 50_000,
  ) {}

  forbiddenRange(ip: string): string | null {
    const known = this.answers.get(ip);
    if (known !== undefined) return known;
    const range = this.policy.forbiddenRange(ip);
    if (this.answers.size >= this.maxEntries) this.answers.clear();
    this.answers.set(ip, range);
    return range;
  }
}

/** Builds the resolver of one purpose from its settings. */
export function resolverFor(cfg: DnsResolverConfig): ConfiguredResolver {
  return createResolver({ servers: cfg.servers, protocol: cfg.protocol, timeoutMs: cfg.timeoutMs, attempts: cfg.attempts, ...(cfg.caFile ? { caFile: cfg.caFile } : {}) });
}

/**
 * The name of the shared resolver DNSBL queries go through, or null: a known public resolver by its
 * address (`auto`), any resolver the operator declares shared (`true`: an ISP's or a company's
 * forwarder, which lists refuse just the same), never (`false`).
 */
export function sharedDnsblResolver(setting: AppConfig['dnsblResolverShared'], servers: readonly string[]): string | null {
  if (setting === false) return null;
  const known = isKnownPublicResolver(servers);
  if (setting === 'auto') return known;
  return `${known ?? servers.join(', ')}, declared shared by MXWATCH_DNSBL_RESOLVER_SHARED`;
}

function sameResolverConfig(a: DnsResolverConfig, b: DnsResolverConfig): boolean {
  return a.protocol === b.protocol && a.timeoutMs === b.timeoutMs && a.attempts === b.attempts && a.caFile === b.caFile && a.servers.join() === b.servers.join();
}

/**
 * The long-lived pieces every check uses: one resolver per purpose (and its cache), one dialer,
 * shared work, what probes remember between runs (the database's, when there is one), and the
 * global limits: connections at once, and checks at once (manual and scheduled alike).
 */
@Injectable()
export class ProbeRuntime implements OnApplicationShutdown {
  readonly resolver: ConfiguredResolver;
  readonly dnsblResolver: ConfiguredResolver;
  readonly policy: AddressPolicyLike;
  readonly dialer: NetDialer;
  readonly settings: ProbeSettings;
  readonly shared: Pick<SharedWork, 'run'>;
  readonly perAddress: Pick<KeyedLimiter, 'run'>;
  /** Every SMTP connection of every check, manual or scheduled, waits here. */
  readonly connections: LimitFunction;
  /** Every check, manual or scheduled, waits here. */
  readonly checks: LimitFunction;
  /** The probes a check runs: MXWATCH_PROBES and what they need, or every registered probe. */
  readonly probes: readonly ProbeDefinition[];
  /** Lent to every check (`ctx.memory`); undefined without a database (the CLI): probes then keep their own bounded maps. */
  readonly memory: ProbeMemory | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    /** With MXWATCH_REDIS_URL: shared work and the per-address limit hold across every worker (runtime/queue). */
    @Optional() @Inject(FLEET_SHARING) fleet?: FleetSharing,
    /** The database's ProbeMemory table: over-time findings survive restarts and are the same on every worker. */
    @Optional() memory?: ProbeMemoryRepository,
  ) {
    this.memory = memory;
    this.shared = fleet?.shared ?? new SharedWork();
    this.perAddress = fleet?.perAddress ?? new KeyedLimiter(1);
    this.resolver = resolverFor(config.dns);
    this.dnsblResolver = sameResolverConfig(config.dns, config.dnsblDns) ? this.resolver : resolverFor(config.dnsblDns);
    this.policy = new MemoizedAddressPolicy(AddressPolicy.fromList(config.allowPrivateTargets));
    this.dialer = new NetDialer({ policy: this.policy, portMap: config.portMap });
    this.connections = pLimit(config.limits.maxConnections);
    this.checks = pLimit(config.checkConcurrency);
    this.probes = selectProbes(PROBES, config.probes ?? []);
    this.settings = {
      smtpPorts: config.smtpPorts,
      certWarnDays: config.certWarnDays,
      slowBannerMs: config.slowBannerMs,
      dnsblZones: config.dnsblZones,
      ehloName: config.ehloName,
      smtpConnectTimeoutMs: config.smtpConnectTimeoutMs,
      smtpReplyTimeoutMs: config.smtpReplyTimeoutMs,
      maxMxHosts: config.limits.maxMxHosts,
      maxAddresses: config.limits.maxAddresses,
      ...(config.spamhausDqsKey ? { spamhausDqsKey: config.spamhausDqsKey } : {}),
      dnssecCanary: config.dnssecCanary,
      // Spamhaus and URIBL refuse queries that arrive through public or shared resolvers: the DNSBL
      // probe says so once, about the monitor, instead of once per address.
      dnsblResolverPublic: sharedDnsblResolver(config.dnsblResolverShared, this.dnsblResolver.servers),
      dnsblResolverName: this.dnsblResolver.servers.join(', '),
    };
  }

  onApplicationShutdown(): void {
    this.resolver.close();
    if (this.dnsblResolver !== this.resolver) this.dnsblResolver.close();
  }

  /** A context with one deadline for a whole check; `dispose` clears its timer. */
  context(): { ctx: ProbeContext; dispose(): void } {
    const timeoutMs = this.config.checkTimeoutSeconds * 1000;
    const controller = new AbortController();
    // Every lookup, dial and session of the check listens on this one signal, often more than
    // Node's default of 10 at once, which printed a MaxListenersExceededWarning per busy check.
    setMaxListeners(0, controller.signal);
    const timer = setTimeout(() => controller.abort(new Error(`check deadline of ${this.config.checkTimeoutSeconds}s passed`)), timeoutMs);
    timer.unref();
    const ctx: ProbeContext = {
      deadline: Date.now() + timeoutMs,
      signal: controller.signal,
      resolver: this.resolver,
      dnsblResolver: this.dnsblResolver,
      dialer: this.dialer,
      addressPolicy: this.policy,
      settings: this.settings,
      now: () => new Date(),
      ...(this.memory ? { memory: this.memory } : {}),
    };
    return { ctx, dispose: () => clearTimeout(timer) };
  }
}
