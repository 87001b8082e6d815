import { mxAddresses, mxAnswer, mxRefusedByResolver } from '../mx/mx.definition.js';
import { defineProbe } from '../probe-definition.js';
import type { ProbeResult } from '../probe.types.js';
import { REFUSAL_REASONS } from './dnsbl-classifier.js';
import { DNSBL_FINDINGS } from './dnsbl.findings.js';
import { probeDnsbl, probeDnsblZoneHealth, type DnsblDetails, type DnsblSubject } from './dnsbl.probe.js';
import { spfSendingAddresses } from '../spf/spf-sending-addresses.js';
import type { SpfDetails } from '../spf/spf.probe.js';
import { darkBehindPublicResolver, resolveZoneConfig, type DnsblZoneConfig } from './dnsbl-zones.js';

/**
 * Target of the finding about the monitor's own DNSBL resolver: raised by one work item of each
 * domain's run (not per address), and kept once for the whole monitor (a MONITOR_ code: no domain).
 */
export const DNSBL_RESOLVER_TARGET = 'dnsbl-resolver';

export interface DnsblWork {
  subject: DnsblSubject;
  zone: DnsblZoneConfig;
  /**
   * The domain resolver refused the domain's own MX lookup: it refuses us, not the lists, so its
   * REFUSED answers to list queries must not read as "this list refuses public resolvers".
   */
  resolverRefuses: boolean;
  /**
   * The DNSBL resolver is presumed public or shared (a known public one by its address, or declared
   * by MXWATCH_DNSBL_RESOLVER_SHARED): what lists that refuse such resolvers answer is expected,
   * not news about each address.
   */
  publicResolver: string | null;
  /** Set on one work item per run: the lists left dark by the presumed resolver, for the monitor finding. */
  reportDarkLists?: string[];
  /** Known only from the domain's own SPF part (not an MX address nor a configured sending IP). */
  spfDerived?: boolean;
}

/** A listing of an address only SPF names is DNSBL_SPF_IP_LISTED (a warning), on a copy: shared results are never mutated. */
function asSpfDerived(r: ProbeResult<DnsblDetails>): ProbeResult<DnsblDetails> {
  if (!r.observations.some((o) => o.code === 'DNSBL_LISTED')) return r;
  return {
    ...r,
    status: r.status === 'fail' ? 'warn' : r.status,
    observations: r.observations.map((o) => (o.code === 'DNSBL_LISTED' ? { ...o, code: 'DNSBL_SPF_IP_LISTED' } : o)),
  };
}

/**
 * A list's answer through a resolver it refuses, on a copy: a refusal is untestable without a
 * DNSBL_QUERY_REFUSED per address (the monitor finding says it once); "not listed" is no answer
 * either (such lists refuse or mis-answer shared resolvers), so it is untestable too and sets no
 * series. A listing stays a listing: no list invents one.
 */
function asPublicResolverRefusal(r: ProbeResult<DnsblDetails>): ProbeResult<DnsblDetails> {
  const d = r.details;
  if (d.state === 'clean') {
    const details: DnsblDetails = {
      ...d,
      state: 'error',
      error: `${d.zone} answered "not listed" through a public or shared resolver, which it refuses or mis-answers: the answer says nothing`,
      errorReason: 'resolver_public',
    };
    return { ...r, status: 'untestable', reason: 'dnsbl_resolver_public', details, observations: [] };
  }
  if (d.state !== 'error' || !REFUSAL_REASONS.has(d.errorReason as never)) return r;
  return { ...r, reason: 'dnsbl_resolver_public', observations: r.observations.filter((o) => o.code !== 'DNSBL_QUERY_REFUSED') };
}

const MONITOR_CODE = 'MONITOR_DNSBL_RESOLVER_PUBLIC';

/**
 * One MONITOR_DNSBL_RESOLVER_PUBLIC per run, naming every list that refused (each work item that
 * met one carries its own): the findings keep the first observation of a (code, target), so the
 * lists are gathered on it and the others dropped. Copies: shared results are never mutated.
 */
function oneMonitorObservation(results: ProbeResult<DnsblDetails>[]): ProbeResult<DnsblDetails>[] {
  const carrying = results.filter((r) => r.observations.some((o) => o.code === MONITOR_CODE));
  if (carrying.length < 2) return results;
  const seen = carrying.flatMap((r) => r.observations.filter((o) => o.code === MONITOR_CODE));
  const lists = [...new Set(seen.flatMap((o) => String(o.params?.lists ?? '').split(', ').filter(Boolean)))];
  const first = carrying[0]!;
  return results.map((r) => {
    if (!carrying.includes(r)) return r;
    const others = r.observations.filter((o) => o.code !== MONITOR_CODE);
    return r === first ? { ...r, observations: [...others, { ...seen[0]!, params: { ...seen[0]!.params, lists: lists.join(', ') } }] } : { ...r, observations: others };
  });
}

/** The zone a dnsbl result is about (`<subject>@<zone>`). */
function zoneOf(r: ProbeResult): string {
  return r.target.slice(r.target.lastIndexOf('@') + 1);
}

/** A copy (shared results are never mutated) without the DNSBL_QUERY_REFUSED a DNS REFUSED rcode raised. */
function asResolverRefusal(r: ProbeResult<DnsblDetails>): ProbeResult<DnsblDetails> {
  if (r.details.errorReason !== 'refused') return r;
  return { ...r, reason: 'dns_refused', observations: [] };
}

export const dnsblProbe = defineProbe<DnsblDetails, DnsblWork>({
  name: 'dnsbl',
  scope: 'address',
  title: 'DNS blacklists: MX addresses, sending IPs and the domain, listed / clean / the list did not answer',
  needs: ['mx', 'spf'],
  // The checked domain's own name on a domain list is its alone: stored with its run, not as a
  // shared host result (10,000 rows and a statement per check at 10,000 domains).
  hostLevel: (r) => r.details.subjectKind !== 'domain',
  subjects(plan, ctx) {
    const zones = resolveZoneConfig(ctx.settings.dnsblZones);
    const mxResults = plan.results('mx');
    const resolverRefuses = mxRefusedByResolver(mxResults);
    // Lists only know public addresses; asking about a private one would only leak it.
    const ips = [...new Set([...mxAddresses(mxAnswer(mxResults)).map((a) => a.ip), ...plan.domain.sendingIps])].filter((ip) => ctx.addressPolicy.forbiddenRange(ip) === null);
    const publicResolver = ctx.settings.dnsblResolverPublic ?? null;
    // Addresses the domain's own SPF part authorises (issue 12): at most 64, third-party pools never.
    const spfResult = plan.results('spf')[0] as ProbeResult<SpfDetails> | undefined;
    const spfIps = spfSendingAddresses(spfResult).filter((ip) => !ips.includes(ip) && ctx.addressPolicy.forbiddenRange(ip) === null);
    const work: DnsblWork[] = [];
    for (const zone of zones) {
      if (zone.kind === 'ip') for (const ip of ips) work.push({ subject: { kind: 'ip', ip }, zone, resolverRefuses, publicResolver });
      if (zone.kind === 'ip') for (const ip of spfIps) work.push({ subject: { kind: 'ip', ip }, zone, resolverRefuses, publicResolver, spfDerived: true });
      else work.push({ subject: { kind: 'domain', domain: plan.domain.name }, zone, resolverRefuses, publicResolver });
    }
    const dark = publicResolver ? zones.filter((z) => darkBehindPublicResolver(z, ctx.settings.spamhausDqsKey)).map((z) => z.zone) : [];
    if (dark.length && work.length) work[0] = { ...work[0], reportDarkLists: dark };
    return work;
  },
  async run(ctx, { subject, zone, resolverRefuses, publicResolver, reportDarkLists, spfDerived }, env) {
    // A zone's RFC 5782 test points are asked once a minute at most, whoever asks.
    const health = () => env.shared(`dnsbl-health|${zone.zone}`, () => probeDnsblZoneHealth(ctx, zone), { minAgeMs: 60_000 });
    const result =
      subject.kind === 'ip'
        ? await env.shared(`dnsbl|${subject.ip}|${zone.zone}`, async () => probeDnsbl(ctx, subject, zone, await health()))
        : // Not shared: no other domain asks about this one, and keeping it would only hold memory.
          await probeDnsbl(ctx, subject, zone, await health());
    let out = resolverRefuses ? asResolverRefusal(result) : result;
    if (spfDerived) out = asSpfDerived(out);
    // The list's own documented answer "query via a public or open resolver refused" (Spamhaus
    // 127.255.255.254, URIBL 127.0.0.1) is proof whatever the resolver's address: an ISP's or a
    // company's resolver shared by many clients is refused just as Cloudflare's is.
    const proven = out.details.errorReason === 'query_refused_by_list';
    const presumed = publicResolver !== null && darkBehindPublicResolver(zone, ctx.settings.spamhausDqsKey);
    if (proven || presumed) out = asPublicResolverRefusal(out);
    const lists = [...new Set([...(publicResolver ? (reportDarkLists ?? []) : []), ...(proven || presumed ? [zone.zone] : [])])];
    if (lists.length) {
      const resolver = publicResolver ?? ctx.settings.dnsblResolverName ?? 'the DNSBL resolver';
      out = { ...out, observations: [...out.observations, { code: MONITOR_CODE, target: DNSBL_RESOLVER_TARGET, params: { resolver, lists: lists.join(', ') } }] };
    }
    return out;
  },
  reviewRun: oneMonitorObservation,
  findings: DNSBL_FINDINGS,
  covers(finding, results) {
    // A zone's health finding is seen by any testable answer of that zone; with no query to the
    // zone in this run (no addresses), it is gone only if the MX answer was conclusive.
    if (finding.code === MONITOR_CODE) {
      // Seen again by a run in which a list it names answered (a run through the same resolver
      // would have carried it again); when the run asked none of them (no longer configured), any
      // list that answered. A run whose lists all failed to answer saw nothing.
      const named = String((finding.evidence as Record<string, unknown> | null)?.lists ?? '').split(', ').filter(Boolean);
      const dnsbl = results.filter((r) => r.probe === 'dnsbl');
      const ofNamed = dnsbl.filter((r) => named.includes(zoneOf(r)));
      return (ofNamed.length > 0 ? ofNamed : dnsbl).some((r) => r.status !== 'untestable');
    }
    if (finding.code !== 'DNSBL_ZONE_UNHEALTHY') return undefined;
    const ofZone = results.filter((r) => r.probe === 'dnsbl' && r.target.endsWith(`@${finding.target}`));
    return ofZone.some((r) => r.status !== 'untestable') || (ofZone.length === 0 && mxAnswer(results) !== null);
  },
  metrics: {
    specs: [
      { name: 'mxwatch_dnsbl_listed', help: 'Whether the address or domain is listed on the zone (1 listed, 0 clean; absent when the list did not answer)', type: 'gauge', labelNames: ['ip', 'zone'] },
      { name: 'mxwatch_dnsbl_errors_total', help: 'DNSBL queries that gave no usable answer, by zone and reason', type: 'counter', labelNames: ['zone', 'reason'] },
    ],
    series(r) {
      const d = r.details;
      if (d.state === 'error') return [];
      return [{ metric: 'mxwatch_dnsbl_listed', labels: { ip: d.subject, zone: d.zone }, value: d.state === 'listed' ? 1 : 0, owner: 'host' }];
    },
    counters(r) {
      const d = r.details;
      // The list's own machine reason (query_refused_by_list, timeout, ...): what the README and alert rules select on.
      return d.state === 'error' ? [{ metric: 'mxwatch_dnsbl_errors_total', labels: { zone: d.zone, reason: d.errorReason ?? r.reason ?? 'error' } }] : [];
    },
  },
});
