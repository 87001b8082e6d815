/**
 * One entry point for building a resolver from configuration values (the caller reads the
 * configuration; transport/ never imports config/). `servers: ['system']` means the nameservers
 * of /etc/resolv.conf, over UDP.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Resolver } from '../transport.types.js';
import type { ResolverStats } from './caching-resolver.js';
import { DohResolver } from './doh-resolver.js';
import { PlainDnsResolver } from './plain-dns-resolver.js';

export type ResolverProtocol = 'https' | 'http' | 'udp' | 'tcp';

export interface CreateResolverOptions {
  /** DoH: `host:port`. UDP/TCP: `ip`, `ip:port`, `[ipv6]:port`. Or `['system']`: /etc/resolv.conf over UDP. */
  servers: string[];
  protocol: ResolverProtocol;
  /** Deadline of one attempt (ms). */
  timeoutMs: number;
  /** Attempts per question, rotating through the servers. */
  attempts: number;
  /** PEM bundle trusted for DoH over https in addition to the system roots. */
  caFile?: string;
  /** Where `system` reads its nameservers. Default /etc/resolv.conf. */
  resolvConfPath?: string;
  /** Bound of the answer cache. Default 5000 (CachingResolver). */
  cacheMaxEntries?: number;
}

/** A resolver that also says what it talks to (for the start-up log) and can be closed. */
export interface ConfiguredResolver extends Resolver {
  /** The effective protocol (`system` is always `udp`, unless `tcp` was asked). */
  readonly protocol: ResolverProtocol;
  /** The effective servers (`system` expanded to the resolv.conf nameservers). */
  readonly servers: readonly string[];
  stats(): ResolverStats;
  clearCache(): void;
  close(): void;
}

/**
 * The `nameserver` lines of a resolv.conf, as `ip` or `[ipv6]:53` (an IPv6 zone index `%eth0` is
 * dropped: Node's UDP sockets take no scope in that form). Throws when there is none.
 */
export function readSystemNameservers(path = '/etc/resolv.conf'): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`DNS servers "system": cannot read ${path}: ${(err as Error).message}`);
  }
  const servers: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const ip = m[1].replace(/%.*$/, '');
    if (isIP(ip) === 4) servers.push(ip);
    else if (isIP(ip) === 6) servers.push(`[${ip}]:53`);
  }
  if (!servers.length) throw new Error(`DNS servers "system": ${path} lists no nameserver`);
  // glibc uses at most three (MAXNS).
  return [...new Set(servers)].slice(0, 3);
}

export function createResolver(options: CreateResolverOptions): ConfiguredResolver {
  const system = options.servers.length === 1 && options.servers[0].trim().toLowerCase() === 'system';
  const servers = system ? readSystemNameservers(options.resolvConfPath) : options.servers;
  // resolv.conf nameservers speak classic DNS, never DoH.
  const protocol: ResolverProtocol = system ? (options.protocol === 'tcp' ? 'tcp' : 'udp') : options.protocol;
  const common = { timeoutMs: options.timeoutMs, attempts: options.attempts, cacheMaxEntries: options.cacheMaxEntries };
  if (protocol === 'udp' || protocol === 'tcp') return new PlainDnsResolver({ servers, protocol, ...common });
  let ca: string | undefined;
  if (options.caFile) {
    try {
      ca = readFileSync(options.caFile, 'utf8');
    } catch (err) {
      throw new Error(`DNS CA file ${options.caFile}: ${(err as Error).message}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`DNS CA file ${options.caFile} holds no PEM certificate`);
  }
  return new DohResolver({ servers, protocol, ...common, ...(ca ? { tls: { ca } } : {}) });
}
