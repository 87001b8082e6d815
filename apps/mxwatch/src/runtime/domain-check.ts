import { probeDnsbl, probeDnsblZoneHealth } from '../probes/dnsbl/dnsbl.probe.js';
import { resolveZoneConfig } from '../probes/dnsbl/dnsbl-zones.js';
import { probeMx, type MxDetails } from '../probes/mx/mx.probe.js';
import type { ProbeContext, ProbeResult } from '../probes/probe.types.js';
import { probeSmtpEndpoint } from '../probes/smtp/smtp.probe.js';
import { discoverSubmissionHosts } from '../probes/smtp/submission-hosts.js';
import type { KeyedLimiter, SharedWork } from './shared-work.js';

export interface DomainCheckInput {
  name: string;
  submissionHosts: string[];
  sendingIps: string[];
}

export interface DomainCheckOptions {
  shared: SharedWork;
  /** One connection at a time per address. */
  perAddress: KeyedLimiter;
  /** How old a shared result may be for this domain (0: fresh, for manual checks). */
  maxAgeMs: number;
}

export interface Endpoint {
  host: string;
  ip: string;
  port: number;
  role: 'mx' | 'submission';
}

export interface DomainCheckOutcome {
  results: ProbeResult[];
  mx: ProbeResult<MxDetails>;
  endpoints: Endpoint[];
  /** why SMTP/STARTTLS were not run, when they were not */
  smtpSkipped: string | null;
}

const SUBMISSION_PORTS = new Set([587, 465]);

/**
 * One domain, every probe, under the context's one deadline. Pure orchestration: which targets
 * follow from the MX answer and the domain's settings, and which work is shared.
 */
export async function runDomainCheck(ctx: ProbeContext, domain: DomainCheckInput, opts: DomainCheckOptions): Promise<DomainCheckOutcome> {
  const mx = await probeMx(ctx, domain.name);
  const results: ProbeResult[] = [mx];

  let smtpSkipped: string | null = null;
  const endpoints: Endpoint[] = [];
  if (mx.status === 'untestable') smtpSkipped = 'mx_untestable';
  else if (mx.details.nullMx && mx.details.hosts.length === 0) smtpSkipped = 'null_mx';

  const allowed = (ip: string) => ctx.addressPolicy.forbiddenRange(ip) === null;
  const mxAddresses = new Map<string, string>();
  if (!smtpSkipped) {
    for (const h of mx.details.hosts) {
      if (h.ipLiteral) continue;
      for (const ip of h.addresses) {
        if (!allowed(ip)) continue;
        if (!mxAddresses.has(ip)) mxAddresses.set(ip, h.host);
        for (const port of ctx.settings.smtpPorts) endpoints.push({ host: h.host, ip, port, role: 'mx' });
      }
    }
    const submission = await discoverSubmissionHosts(ctx, domain.name, domain.submissionHosts);
    for (const s of submission.hosts) {
      const addresses = await resolveAddresses(ctx, s.host);
      for (const ip of addresses) {
        if (!allowed(ip)) continue;
        for (const port of s.ports) {
          if (!SUBMISSION_PORTS.has(port) && !ctx.settings.smtpPorts.includes(port)) continue;
          const existing = endpoints.find((e) => e.ip === ip && e.port === port);
          if (existing) existing.role = 'submission';
          else endpoints.push({ host: s.host, ip, port, role: 'submission' });
        }
      }
    }
  }

  const smtpWork = endpoints.map((ep) =>
    opts.shared.run(`smtp|${ep.host}|${ep.ip}|${ep.port}|${ep.role}`, opts.maxAgeMs, () =>
      opts.perAddress.run(ep.ip, () => probeSmtpEndpoint(ctx, ep)),
    ),
  );

  const dnsblWork = runDnsbl(ctx, domain, [...mxAddresses.keys()], opts);
  for (const r of await Promise.all(smtpWork)) {
    results.push(r.smtp);
    if (r.starttls) results.push(r.starttls);
  }
  // A resolver that refused the domain's own MX lookup refuses us, not the lists: its REFUSED
  // answers to DNSBL queries must not read as "this list refuses public resolvers".
  const resolverRefuses = mx.status === 'untestable' && mx.reason === 'dns_refused';
  results.push(...(await dnsblWork).map((r) => (resolverRefuses ? asResolverRefusal(r) : r)));
  return { results, mx, endpoints, smtpSkipped };
}

/** A copy (shared results are never mutated) without the DNSBL_QUERY_REFUSED a DNS REFUSED rcode raised. */
function asResolverRefusal(r: ProbeResult): ProbeResult {
  if ((r.details as { errorReason?: string | null }).errorReason !== 'refused') return r;
  return { ...r, reason: 'dns_refused', observations: [] };
}

async function resolveAddresses(ctx: ProbeContext, host: string): Promise<string[]> {
  const [a, aaaa] = await Promise.all([ctx.resolver.resolve(host, 'A', { signal: ctx.signal }), ctx.resolver.resolve(host, 'AAAA', { signal: ctx.signal })]);
  return [...(a.ok ? a.records : []), ...(aaaa.ok ? aaaa.records : [])];
}

async function runDnsbl(ctx: ProbeContext, domain: DomainCheckInput, mxIps: string[], opts: DomainCheckOptions): Promise<ProbeResult[]> {
  const zones = resolveZoneConfig(ctx.settings.dnsblZones);
  // Lists only know public addresses; asking about a private one would only leak it.
  const ips = [...new Set([...mxIps, ...domain.sendingIps])].filter((ip) => ctx.addressPolicy.forbiddenRange(ip) === null);
  const jobs: Promise<ProbeResult>[] = [];
  for (const zone of zones) {
    const health = () => opts.shared.run(`dnsbl-health|${zone.zone}`, Math.max(opts.maxAgeMs, 60_000), () => probeDnsblZoneHealth(ctx, zone));
    if (zone.kind === 'ip') {
      for (const ip of ips) {
        jobs.push(opts.shared.run(`dnsbl|${ip}|${zone.zone}`, opts.maxAgeMs, async () => probeDnsbl(ctx, { kind: 'ip', ip }, zone, await health())));
      }
    } else {
      // Not shared: no other domain asks about this one, and its own next scheduled check comes
      // after the max age, so keeping the result would only hold memory (one per domain).
      jobs.push(health().then((h) => probeDnsbl(ctx, { kind: 'domain', domain: domain.name }, zone, h)));
    }
  }
  return Promise.all(jobs);
}
