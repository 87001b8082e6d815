/**
 * MX probe: what a sender sees when it looks up where to deliver mail for a domain (RFC 5321
 * section 5.1, RFC 7505 null MX). DNS trouble on our side (timeout, SERVFAIL, REFUSED, transport)
 * makes the result `untestable`, never a finding against the domain.
 */
import { normaliseDomainName } from '../../transport/dns/dns-names.js';
import { MX_FINDINGS } from './mx.findings.js';
import { isIpLiteral } from '../../transport/net/address-policy.js';
import type { DnsAnswer, DnsErrorKind, ProbeContext, ProbeObservation, ProbeResult, ProbeStatus } from '../probe.types.js';
import { DNS_PATH_ERRORS } from '../../transport/transport.types.js';

export type MxHost = {
  host: string;
  preference: number;
  /** A records first, then AAAA. */
  addresses: string[];
  /** The alias target when the MX names a CNAME. */
  cname: string | null;
  ipLiteral: boolean;
  /** Why the addresses could not be (fully) resolved; null when they were. */
  resolveError: string | null;
};

// A type alias, not an interface: it must be assignable to ProbeResult's Record<string, unknown>.
export type MxDetails = {
  domain: string;
  nullMx: boolean;
  /** No MX: the domain's own A/AAAA is the implicit MX senders use. */
  implicit: boolean;
  /** Sorted by preference, then name. Empty for a pure null MX (nothing to connect to). */
  hosts: MxHost[];
  error?: string;
  /** Set when MXWATCH_MAX_MX_HOSTS / MXWATCH_MAX_ADDRESSES cut what follows from this answer. */
  truncated?: { hosts: number; addresses: number; maxHosts: number; maxAddresses: number };
};

type FindingCode = keyof typeof MX_FINDINGS & string;


class Deadline extends Error {}

export async function probeMx(ctx: ProbeContext, domainInput: string): Promise<ProbeResult<MxDetails>> {
  const startedAt = ctx.now();
  const norm = normaliseDomainName(domainInput);
  const domain = norm.ok ? norm.name : domainInput.trim().toLowerCase().replace(/\.$/, '');
  const details: MxDetails = { domain, nullMx: false, implicit: false, hosts: [] };
  const observations: ProbeObservation[] = [];
  const observe = (code: FindingCode, target: string, params: ProbeObservation['params']) =>
    observations.push({ code, target, params: { domain, ...params } });
  const finish = (status: ProbeStatus, reason?: string): ProbeResult<MxDetails> => ({
    probe: 'mx', target: domain, status, ...(reason ? { reason } : {}), startedAt,
    durationMs: Math.max(0, ctx.now().getTime() - startedAt.getTime()), details, observations,
  });
  const resolve = async <T extends 'MX' | 'A' | 'AAAA' | 'CNAME'>(name: string, type: T): Promise<DnsAnswer<T>> => {
    try {
      return await ctx.resolver.resolve(name, type, { signal: ctx.signal });
    } catch (err) {
      if (ctx.signal.aborted) throw new Deadline();
      throw err;
    }
  };

  try {
    const mx = await resolve(domain, 'MX');
    if (!mx.ok) {
      if (mx.error === 'nxdomain') {
        details.error = mx.cause;
        observe('MX_NXDOMAIN', domain, {});
        return finish('fail', 'mx_nxdomain');
      }
      if (mx.error !== 'nodata') {
        details.error = mx.cause;
        return finish('untestable', `dns_${mx.error}`);
      }
      await implicitMx(ctx, domain, details, observe, resolve);
      return finish(...verdict(observations, [], details.hosts.length));
    }

    const nulls = mx.records.filter((r) => r.exchange === '.');
    const real = mx.records.filter((r) => r.exchange !== '.');
    if (nulls.length) {
      details.nullMx = true;
      if (real.length === 0) {
        observe('MX_NULL', domain, {});
        return finish('pass');
      }
      observe('MX_NULL_MIXED', domain, {});
    }

    const byHost = new Map<string, { preference: number; count: number }>();
    for (const r of real) {
      const seen = byHost.get(r.exchange);
      if (seen) {
        seen.count++;
        seen.preference = Math.min(seen.preference, r.priority);
      } else {
        byHost.set(r.exchange, { preference: r.priority, count: 1 });
      }
    }
    for (const [host, { count }] of byHost) if (count > 1) observe('MX_DUPLICATE', host, { mx: host, count });

    // A hostile or broken zone can name thousands of hosts: only the most preferred ones are
    // looked up and probed, and the cut is reported.
    const maxHosts = ctx.settings.maxMxHosts;
    const ranked = [...byHost].sort(([a, x], [b, y]) => x.preference - y.preference || a.localeCompare(b));
    const hosts = await Promise.all(ranked.slice(0, maxHosts).map(([host, { preference }]) => inspectHost(host, preference, resolve)));
    hosts.sort((a, b) => a.host.preference - b.host.preference || a.host.host.localeCompare(b.host.host));
    details.hosts = hosts.map((h) => h.host);
    const pathErrors: DnsErrorKind[] = [];
    for (const h of hosts) {
      for (const o of h.observations) observe(o.code, h.host.host, o.params);
      if (h.pathError) pathErrors.push(h.pathError);
    }
    capAddresses(ctx, details, ranked.length, observe);
    for (const h of details.hosts) checkAddresses(ctx, h, observe);
    return finish(...verdict(observations, pathErrors, details.hosts.length));
  } catch (err) {
    if (err instanceof Deadline) {
      details.error = 'the check deadline passed before DNS answered';
      return { ...finish('untestable', 'deadline_exceeded'), observations: [] };
    }
    throw err;
  }
}

type Observe = (code: FindingCode, target: string, params: ProbeObservation['params']) => void;
type Resolve = <T extends 'MX' | 'A' | 'AAAA' | 'CNAME'>(name: string, type: T) => Promise<DnsAnswer<T>>;

async function implicitMx(
  ctx: ProbeContext,
  domain: string,
  details: MxDetails,
  observe: Observe,
  resolve: Resolve,
): Promise<void> {
  const [a, aaaa] = await Promise.all([resolve(domain, 'A'), resolve(domain, 'AAAA')]);
  const addresses = [...(a.ok ? a.records : []), ...(aaaa.ok ? aaaa.records : [])];
  const failed = [a, aaaa].find((x): x is Extract<typeof x, { ok: false }> => !x.ok && DNS_PATH_ERRORS.has(x.error));
  let fallback: string;
  if (addresses.length) {
    details.implicit = true;
    details.hosts = [{ host: domain, preference: 0, addresses, cname: null, ipLiteral: false, resolveError: failed ? failed.cause : null }];
    fallback = `senders fall back to its A/AAAA record (${addresses.join(', ')}) as an implicit MX`;
  } else if (failed) {
    fallback = `whether senders can fall back to its A/AAAA record is unknown (${failed.cause})`;
  } else {
    fallback = 'it has no A/AAAA record either, so it cannot receive mail';
  }
  observe('MX_MISSING', domain, { fallback });
  capAddresses(ctx, details, details.hosts.length, observe);
  // The implicit MX is where senders deliver: a private address there is as broken as on a named MX.
  for (const h of details.hosts) checkAddresses(ctx, h, observe);

}

async function inspectHost(
  host: string,
  preference: number,
  resolve: Resolve,
): Promise<{ host: MxHost; observations: Array<{ code: FindingCode; params: ProbeObservation['params'] }>; pathError: DnsErrorKind | null }> {
  const observations: Array<{ code: FindingCode; params: ProbeObservation['params'] }> = [];
  if (isIpLiteral(host)) {
    observations.push({ code: 'MX_TARGET_IP_LITERAL', params: { mx: host } });
    return { host: { host, preference, addresses: [], cname: null, ipLiteral: true, resolveError: null }, observations, pathError: null };
  }
  const [a, aaaa, cname] = await Promise.all([resolve(host, 'A'), resolve(host, 'AAAA'), resolve(host, 'CNAME')]);
  const entry: MxHost = {
    host, preference, addresses: [...(a.ok ? a.records : []), ...(aaaa.ok ? aaaa.records : [])], cname: cname.ok ? cname.records[0] ?? null : null, ipLiteral: false, resolveError: null,
  };
  if (entry.cname) observations.push({ code: 'MX_TARGET_CNAME', params: { mx: host, cname: entry.cname } });

  const failures = [a, aaaa].filter((x): x is Extract<typeof x, { ok: false }> => !x.ok);
  const pathFailure = failures.find((f) => DNS_PATH_ERRORS.has(f.error));
  if (pathFailure) {
    entry.resolveError = `${pathFailure.type} lookup failed: ${pathFailure.cause}`;
    // Without every answer we cannot say the host has no address: that would blame the domain for our DNS trouble.
    return { host: entry, observations, pathError: entry.addresses.length ? null : pathFailure.error };
  }
  if (entry.addresses.length === 0) {
    const nx = failures.some((f) => f.error === 'nxdomain');
    entry.resolveError = nx ? `${host} does not exist (NXDOMAIN)` : `${host} has no A or AAAA record`;
    observations.push({ code: 'MX_TARGET_UNRESOLVABLE', params: { mx: host, error: nx ? 'NXDOMAIN' : 'no address records' } });
  }
  return { host: entry, observations, pathError: null };
}

/** Keeps at most MXWATCH_MAX_ADDRESSES distinct addresses (in preference order) and says when it cut. */
function capAddresses(ctx: ProbeContext, details: MxDetails, hostCount: number, observe: Observe): void {
  const { maxMxHosts, maxAddresses } = ctx.settings;
  const kept = new Set<string>();
  let total = 0;
  const all = new Set<string>();
  for (const h of details.hosts) {
    for (const ip of h.addresses) all.add(ip);
    h.addresses = h.addresses.filter((ip) => {
      if (kept.has(ip)) return true;
      if (kept.size >= maxAddresses) return false;
      kept.add(ip);
      return true;
    });
    total += h.addresses.length;
  }
  if (hostCount > maxMxHosts || all.size > maxAddresses) {
    details.truncated = { hosts: hostCount, addresses: all.size, maxHosts: maxMxHosts, maxAddresses };
    observe('MX_TOO_MANY_TARGETS', details.domain, { hosts: hostCount, addresses: all.size, maxHosts: maxMxHosts, maxAddresses, checked: total });
  }
}

function checkAddresses(ctx: ProbeContext, host: MxHost, observe: Observe): void {
  for (const ip of host.addresses) {
    const range = ctx.addressPolicy.forbiddenRange(ip);
    if (range) observe('MX_TARGET_PRIVATE_IP', host.host, { mx: host.host, ip, range });
  }
}

/**
 * Facts about the domain win over our own DNS trouble: a critical or warning observation is
 * reported even when another host could not be resolved. Only when nothing was observed and
 * every host failed for reasons about us is the result untestable (and then it carries no
 * observation, so no finding is raised against the domain).
 */
function verdict(observations: ProbeObservation[], pathErrors: DnsErrorKind[], hostCount: number): [ProbeStatus, string?] {
  const severity = (o: ProbeObservation) => o.severity ?? MX_FINDINGS[o.code as FindingCode].severity;
  const critical = observations.find((o) => severity(o) === 'critical');
  if (critical) return ['fail', critical.code.toLowerCase()];
  const warning = observations.find((o) => severity(o) === 'warning');
  if (warning) return ['warn', warning.code.toLowerCase()];
  if (pathErrors.length && pathErrors.length === hostCount && observations.length === 0) return ['untestable', `dns_${pathErrors[0]}`];
  if (pathErrors.length) return ['warn', 'mx_host_lookup_failed'];
  return ['pass'];
}
