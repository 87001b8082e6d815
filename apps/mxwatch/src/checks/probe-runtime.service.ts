import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.types.js';
import { DohResolver } from '../dns/doh-resolver.js';
import { AddressPolicy } from '../probes/net/address-policy.js';
import { NetDialer } from '../probes/net/net-dialer.js';
import type { ProbeContext, ProbeSettings } from '../probes/probe.types.js';
import { OutboundMonitor } from './outbound-monitor.js';
import { KeyedLimiter, SharedWork } from './shared-work.js';

/** The long-lived pieces every check uses: one resolver (and its cache), one dialer, shared work. */
@Injectable()
export class ProbeRuntime {
  readonly resolver: DohResolver;
  readonly policy: AddressPolicy;
  readonly dialer: NetDialer;
  readonly settings: ProbeSettings;
  readonly shared = new SharedWork();
  readonly perAddress = new KeyedLimiter(1);
  readonly outbound = new OutboundMonitor();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.resolver = new DohResolver({
      servers: config.dns.servers,
      protocol: config.dns.protocol,
      timeoutMs: config.dns.timeoutMs,
      attempts: config.dns.attempts,
    });
    this.policy = AddressPolicy.fromList(config.allowPrivateTargets);
    this.dialer = new NetDialer({ policy: this.policy, portMap: config.portMap });
    this.settings = {
      smtpPorts: config.smtpPorts,
      certWarnDays: config.certWarnDays,
      slowBannerMs: config.slowBannerMs,
      dnsblZones: config.dnsblZones,
      ehloName: config.ehloName,
      smtpConnectTimeoutMs: config.smtpConnectTimeoutMs,
      smtpReplyTimeoutMs: config.smtpReplyTimeoutMs,
    };
  }

  /** A context with one deadline for a whole check; `dispose` clears its timer. */
  context(): { ctx: ProbeContext; dispose(): void } {
    const timeoutMs = this.config.checkTimeoutSeconds * 1000;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`check deadline of ${this.config.checkTimeoutSeconds}s passed`)), timeoutMs);
    timer.unref();
    const ctx: ProbeContext = {
      deadline: Date.now() + timeoutMs,
      signal: controller.signal,
      resolver: this.resolver,
      dialer: this.dialer,
      addressPolicy: this.policy,
      settings: this.settings,
      now: () => new Date(),
    };
    return { ctx, dispose: () => clearTimeout(timer) };
  }
}
